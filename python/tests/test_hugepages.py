"""huge_pages (issue 19): the creator's option reaches the library, which backs the
table with transparent huge pages where the system offers them for shared memory,
and refuses (EOPNOTSUPP, nothing left behind) where it does not."""
import errno
import unittest

import support
from evthrottle import EventThrottler, EvtError


def shm_offers_huge_pages():
    """/dev/shm mounted with huge=always, within_size or advise (what a named
    throttle needs), from /proc/mounts."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == "/dev/shm":
                opts = dict(o.partition("=")[::2] for o in fields[3].split(","))
                return opts.get("huge") in ("always", "within_size", "advise")
    return False


class HugePagesTests(support.NamedThrottleTest):
    def test_named_throttle(self):
        name = self.new_name("huge")
        if shm_offers_huge_pages():
            with EventThrottler(1, name, create=True, capacity=1 << 16,
                                huge_pages=True) as t:
                self.assertTrue(t.should_process(1, None, "a"))
                self.assertFalse(t.should_process(1.5, None, "a"))
            return
        with self.assertRaises(EvtError) as cm:
            EventThrottler(1, name, create=True, capacity=1 << 16, huge_pages=True)
        self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
        with self.assertRaises(FileNotFoundError):  # nothing left behind
            EventThrottler(name=name)

    def test_ordinary_pages_by_default(self):
        _, t = self.create(tag="pages", huge_pages=False)
        self.assertTrue(t.should_process(1, None, "a"))

    def test_bad_values(self):
        for bad in (1, "yes"):
            with self.assertRaises(TypeError, msg=repr(bad)):
                EventThrottler(1, huge_pages=bad)
        with self.assertRaisesRegex(ValueError, "huge_pages are set by the throttle's "
                                    "creator"):
            EventThrottler(name="x", huge_pages=True)


if __name__ == "__main__":
    unittest.main()
