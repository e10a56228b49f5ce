"""evt_peek and shadow mode (issue 21) from Python: peek() decides nothing; in
shadow mode every decision is made and counted, and what the rule denies is
answered True."""
import errno
import logging
import unittest

import support
import evthrottle
from evthrottle import EventThrottler, EvtError


def counts(t):
    s = t.stats()
    return s["processed"], s["throttled"], s["keys"]


class PeekTests(unittest.TestCase):
    def new(self, *args, **kw):
        t = EventThrottler(*args, **kw)
        self.addCleanup(t.close)
        return t

    def test_answers_without_deciding(self):
        t = self.new(10)
        for key in ("a", b"a", 7):
            with self.subTest(key=key):
                self.assertTrue(t.peek(1, key))   # a new key would be processed
        self.assertEqual(counts(t), (0, 0, 0))
        self.assertTrue(t.should_process(1, None, "a"))
        self.assertFalse(t.peek(5, "a"))
        self.assertFalse(t.peek(5, b"a"))        # the same key
        self.assertTrue(t.peek(11, "a"))
        self.assertEqual(counts(t), (1, 0, 1))
        self.assertEqual(t.stats()["peeks"], 6)
        self.assertTrue(t.should_process(11, None, "a"))  # the peeks took nothing

    def test_with_a_limit(self):
        t = self.new(10, limit=2)
        t.should_process(1, None, "a")
        self.assertTrue(t.peek(2, "a"))
        t.should_process(2, None, "a")
        self.assertFalse(t.peek(3, "a"))

    def test_errors(self):
        t = self.new(10, key_max=4)
        with self.assertRaises(EvtError) as cm:
            t.peek(1, "toolong")
        self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
        with self.assertRaises(EvtError) as cm:
            t.peek(1, "")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        for args, exc in (((1, 4.2), TypeError), ((True, "a"), TypeError),
                          ((-1, "a"), ValueError), ((1,), TypeError),
                          ((1, "a", "b"), TypeError)):
            with self.subTest(args=args):
                with self.assertRaises(exc):
                    t.peek(*args)
        t.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            t.peek(1, "a")


class ShadowTests(unittest.TestCase):
    def new(self, *args, **kw):
        t = EventThrottler(*args, **kw)
        self.addCleanup(t.close)
        return t

    def test_answers_true_and_counts(self):
        t = self.new(10, shadow=True)
        self.assertTrue(t.get_shadow())
        self.assertEqual(t.stats()["shadow"], 1)
        self.assertEqual([t.should_process(ts, None, "a") for ts in (1, 2, 3, 11)],
                         [True] * 4)
        self.assertEqual(t.should_process_many([(12, None, "a"), (13, None, "a")]),
                         [True, True])
        self.assertTrue(t.peek(14, "a"))          # as the decision would
        s = t.stats()
        self.assertEqual((s["processed"], s["throttled"], s["would_throttle"]), (2, 4, 4))

    def test_switched(self):
        t = self.new(10)
        self.assertFalse(t.get_shadow())
        t.should_process(1, None, "a")
        with self.assertLogs("evthrottle", logging.INFO) as logs:
            t.set_shadow(True)
        self.assertEqual(logs.output, ["INFO:evthrottle:Shadow mode on"])
        self.assertTrue(t.should_process(2, None, "a"))
        t.set_shadow(False)
        self.assertFalse(t.should_process(3, None, "a"))
        for bad in (1, "yes", None):
            with self.assertRaises(TypeError, msg=repr(bad)):
                t.set_shadow(bad)
        with self.assertRaises(TypeError):
            EventThrottler(10, shadow=1)
        self.assertFalse(t.get_shadow())


class SharedShadowTests(support.NamedThrottleTest):
    def test_every_process_sees_it(self):
        name, t = self.create(tag="shadow", shadow=True)
        ro = self.attach(name, readonly=True)
        self.assertTrue(ro.get_shadow())
        self.assertTrue(ro.peek(1, "a"))             # a read-only handle may peek
        with self.assertRaises(EvtError) as cm:
            ro.set_shadow(False)
        self.assertEqual(cm.exception.errno, errno.EROFS)
        other = self.attach(name)
        other.set_shadow(False)
        self.assertFalse(t.get_shadow())
        with self.assertRaisesRegex(ValueError, "shadow.* set by the throttle's creator"):
            EventThrottler(name=name, shadow=True)


if __name__ == "__main__":
    unittest.main()
