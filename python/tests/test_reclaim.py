"""on_stale and client_idle: the evt_options of reclaim, set from Python, reach the
library (the scenarios of tests/test_stale.c) and are checked as the others are."""
import errno
import fractions
import unittest

import support
import evthrottle
from evthrottle import EventThrottler, EvtError

NS = fractions.Fraction(1, 10**9)


def raise_after_reclaim(on_stale):
    """1,100 keys through 1,024 slots under a 100 ns window (some are reclaimed),
    then the window raised to 100 ms and each key decided again: [(answer or the
    exception), ...] and the stats."""
    with EventThrottler(100 * NS, capacity=1024, on_stale=on_stale) as t:
        for i in range(1100):
            assert t.should_process((i + 1) * NS, None, "k%d" % i)
        assert t.stats()["reclaimed"] > 0, "the scenario needs reclaimed keys"
        t.update_window(fractions.Fraction(1, 10))
        answers = []
        for i in range(1100):
            try:
                answers.append(t.should_process((1101 + i) * NS, None, "k%d" % i))
            except EvtError as e:
                answers.append(e)
        return answers, t.stats()


class OnStaleTests(unittest.TestCase):

    def test_default_is_throttle(self):
        with EventThrottler(10) as t:
            self.assertEqual(t.stats()["on_stale"], 0)  # EVT_ON_STALE_THROTTLE

    def test_throttle(self):
        answers, s = raise_after_reclaim("throttle")
        self.assertGreater(s["stale"], 0)
        self.assertEqual(s["on_stale"], 0)
        self.assertEqual(answers, [False] * 1100)

    def test_process(self):
        answers, s = raise_after_reclaim("process")
        self.assertEqual(s["on_stale"], 1)
        self.assertGreater(s["stale"], 0)
        self.assertEqual(answers.count(True), s["stale"])

    def test_error(self):
        answers, s = raise_after_reclaim("error")
        self.assertEqual(s["on_stale"], 2)
        errors = [a for a in answers if isinstance(a, EvtError)]
        self.assertEqual(len(errors), s["stale"])
        self.assertGreater(len(errors), 0)
        self.assertEqual({e.errno for e in errors}, {errno.ESTALE})
        self.assertEqual(answers.count(True), 0)

    def test_named_create(self):
        name = support.unique_name("stale")
        try:
            with EventThrottler(1, name, create=True, on_stale="process") as t:
                self.assertEqual(t.stats()["on_stale"], 1)
                with EventThrottler(name=name) as other:
                    self.assertEqual(other.stats()["on_stale"], 1)
        finally:
            evthrottle.unlink(name)


class ClientIdleTests(support.NamedThrottleTest):

    def full_after_churn(self, client_idle):
        """A client that decides once and goes idle, while another decides 20,000
        new keys 100 us apart through 1,024 slots (1 ms window): how many found the
        table full (tests/test_stale.c, idle_client_does_not_hold_reclaim)."""
        name, t = self.create(window=fractions.Fraction(1, 1000), tag="idle",
                              capacity=1024, client_idle=client_idle)
        idle = self.attach(name)
        self.assertTrue(idle.should_process(NS, None, "warm"))
        for i in range(20000):
            t.should_process((2 + i * 100000) * NS, None, "n%d" % i)
        return t.stats()["full"]

    def test_idle_client_stops_holding_reclaim(self):
        self.assertEqual(self.full_after_churn(0.01), 0)

    def test_long_client_idle_holds_reclaim(self):
        # The control: with 10 s, the idle client holds reclaim back for the whole
        # 2 s of churn, and the table fills.
        self.assertGreater(self.full_after_churn(10), 0)

    def test_stats(self):
        with EventThrottler(10) as t:
            self.assertEqual(t.stats()["client_idle_ns"], 10**9)  # the default, 1 s
        for given, ns in ((0.25, 250000000), (3, 3 * 10**9), (NS, 1)):
            with EventThrottler(10, client_idle=given) as t:
                self.assertEqual(t.stats()["client_idle_ns"], ns)


class BadOptionTests(unittest.TestCase):

    def test_bad_on_stale(self):
        for bad in ("drop", 1, True, ""):
            with self.assertRaises(ValueError) as cm:
                EventThrottler(10, on_stale=bad)
            self.assertIn("on_stale must be one of throttle, process, error",
                          str(cm.exception))

    def test_bad_client_idle(self):
        for bad in (0, 0.0, -1, float("nan"), 1e-10):
            with self.assertRaises(ValueError, msg=repr(bad)) as cm:
                EventThrottler(10, client_idle=bad)
            self.assertIn("client_idle", str(cm.exception))
        for bad in ("1", True, [1]):
            with self.assertRaises(TypeError, msg=repr(bad)) as cm:
                EventThrottler(10, client_idle=bad)
            self.assertIn("client_idle", str(cm.exception))

    def test_creator_only(self):
        for kw in ({"on_stale": "error"}, {"client_idle": 1}):
            with self.assertRaises(ValueError, msg=kw) as cm:
                EventThrottler(name="x", **kw)
            self.assertRegex(str(cm.exception),
                             "on_stale,? (and )?client_idle.* set by the throttle's "
                             "creator")

    def test_extension_passes_the_library_limit(self):
        # The C type takes the enum's value: the library refuses one above it.
        with self.assertRaises(EvtError) as cm:
            evthrottle._evthrottle.Throttle(window=1, on_stale=3)
        self.assertEqual(cm.exception.errno, errno.EINVAL)


if __name__ == "__main__":
    unittest.main()
