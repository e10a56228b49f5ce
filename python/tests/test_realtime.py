"""realtime_ns() (evt_realtime_ns, issue 20) and a host-local throttle's global
counters."""
import time
import unittest

import support  # noqa: F401
import evthrottle


class RealtimeTests(unittest.TestCase):
    def test_is_the_wall_clock(self):
        before = time.time_ns()
        ns = evthrottle.realtime_ns()
        after = time.time_ns()
        self.assertLessEqual(before, ns)
        self.assertLessEqual(ns, after)
        self.assertAlmostEqual(evthrottle.realtime(), time.time(), delta=1)

    def test_local_throttle_has_no_global_traffic(self):
        with evthrottle.EventThrottler(10) as t:
            t.should_process(1, None, "a")
            s = t.stats()
        self.assertEqual((s["global_round_trips"], s["global_fallbacks"],
                          s["global_errors"]), (0, 0, 0))


if __name__ == "__main__":
    unittest.main()
