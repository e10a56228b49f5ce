"""limit (issue 21): N processed events per key per window, from Python: the
creator's option, update_limit() and get_limit(), checked as the other options."""
import errno
import logging
import unittest

import support
import evthrottle
from evthrottle import EventThrottler, EvtError


class LimitTests(unittest.TestCase):
    def new(self, *args, **kw):
        t = EventThrottler(*args, **kw)
        self.addCleanup(t.close)
        return t

    def test_default_is_the_seed_rule(self):
        t = self.new(10)
        self.assertEqual(t.get_limit(), 1)
        self.assertEqual(t.stats()["limit"], 1)
        self.assertEqual([t.should_process(ts, None, "a") for ts in (1, 2, 11)],
                         [True, False, True])

    def test_limit_per_window(self):
        t = self.new(10, limit=3)
        self.assertEqual((t.get_limit(), t.stats()["limit"]), (3, 3))
        self.assertEqual([t.should_process(ts, None, "a") for ts in (1, 2, 3, 4, 10, 11)],
                         [True, True, True, False, False, True])
        self.assertTrue(t.should_process(2, None, "b"))  # per key

    def test_burst_answers_as_single_calls(self):
        events = [(ts, None, k) for ts in (1, 2, 3, 4, 12, 13) for k in ("a", b"a", 7)]
        many, one = self.new(10, limit=4), self.new(10, limit=4)
        self.assertEqual(many.should_process_many(events),
                         [one.should_process(*e) for e in events])

    def test_update_limit(self):
        t = self.new(10)
        self.assertTrue(t.should_process(1, None, "a"))
        self.assertFalse(t.should_process(2, None, "a"))
        with self.assertLogs("evthrottle", logging.INFO) as logs:
            t.update_limit(2)
        self.assertEqual(logs.output, ["INFO:evthrottle:Limit updated from 1 to 2 "
                                       "events a window"])
        self.assertEqual(t.get_limit(), 2)
        self.assertTrue(t.should_process(3, None, "a"))   # its window's second
        self.assertFalse(t.should_process(4, None, "a"))

    def test_bad_limits(self):
        for bad in (0, -1):
            with self.assertRaises(ValueError, msg=bad):
                EventThrottler(10, limit=bad)
        for bad in ("2", True, 2.0):
            with self.assertRaises(TypeError, msg=repr(bad)):
                EventThrottler(10, limit=bad)
        with self.assertRaises(EvtError) as cm:
            EventThrottler(10, limit=evthrottle.LIMIT_MAX + 1)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual(cm.exception.strerror, "limit %d is above %d"
                         % (evthrottle.LIMIT_MAX + 1, evthrottle.LIMIT_MAX))
        t = self.new(10, limit=evthrottle.LIMIT_MAX)
        for bad, exc in ((0, ValueError), (True, TypeError),
                         (evthrottle.LIMIT_MAX + 1, EvtError)):
            with self.assertRaises(exc, msg=repr(bad)):
                t.update_limit(bad)
        self.assertEqual(t.get_limit(), evthrottle.LIMIT_MAX)


class SharedLimitTests(support.NamedThrottleTest):
    def test_creator_sets_it_everyone_sees_it(self):
        name, t = self.create(tag="limit", limit=2)
        other = self.attach(name)
        ro = self.attach(name, readonly=True)
        self.assertEqual((other.get_limit(), ro.get_limit()), (2, 2))
        other.update_limit(5)
        self.assertEqual((t.get_limit(), ro.get_limit()), (5, 5))
        with self.assertRaises(EvtError) as cm:
            ro.update_limit(1)
        self.assertEqual(cm.exception.errno, errno.EROFS)
        with self.assertRaisesRegex(ValueError, "limit.* set by the throttle's creator"):
            EventThrottler(name=name, limit=3)


if __name__ == "__main__":
    unittest.main()
