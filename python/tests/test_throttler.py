"""The seed's test cases, and the rest of EventThrottler on a private throttle."""
import decimal
import fractions
import logging
import threading
import unittest

import support  # noqa: F401  (puts the package on sys.path)
import evthrottle
from evthrottle import EventThrottler


class EventThrottlerTests(unittest.TestCase):
    """The seed's tests/test_throttler.py cases."""

    def setUp(self):
        self.throttler = EventThrottler(window=10)

    def tearDown(self):
        self.throttler.close()

    def test_basic_throttling(self):
        t = self.throttler
        self.assertTrue(t.should_process(1, "e1", "userA"))
        self.assertFalse(t.should_process(5, "e2", "userA"))
        self.assertTrue(t.should_process(12, "e3", "userA"))
        self.assertTrue(t.should_process(15, "e4", "userB"))
        self.assertFalse(t.should_process(20, "e5", "userB"))

    def test_window_boundary(self):
        t = self.throttler
        self.assertTrue(t.should_process(100, "e1", "userA"))
        self.assertFalse(t.should_process(109.999999999, "e2", "userA"))
        self.assertTrue(t.should_process(110, "e3", "userA"))  # exactly one window later

    def test_multiple_users(self):
        t = self.throttler
        for i in range(100):
            self.assertTrue(t.should_process(1, "e%d" % i, "user%d" % i))
        for i in range(100):
            self.assertFalse(t.should_process(5, "f%d" % i, "user%d" % i))
        for i in range(100):
            self.assertTrue(t.should_process(11, "g%d" % i, "user%d" % i))
        self.assertEqual(t.get_key_count(), 100)

    def test_window_update(self):
        t = self.throttler
        self.assertEqual(t.get_window(), 10)
        self.assertTrue(t.should_process(1, "e1", "userA"))
        t.update_window(20)
        self.assertEqual(t.get_window(), 20)
        self.assertFalse(t.should_process(12, "e2", "userA"))  # would pass with 10
        self.assertTrue(t.should_process(21, "e3", "userA"))
        t.update_window(5)
        self.assertTrue(t.should_process(26, "e4", "userA"))

    def test_clear(self):
        t = self.throttler
        self.assertTrue(t.should_process(1, "e1", "userA"))
        self.assertTrue(t.should_process(1, "e2", "userB"))
        t.clear()
        self.assertEqual(t.get_key_count(), 0)
        self.assertTrue(t.should_process(2, "e3", "userA"))  # forgotten: first again

    def test_key_count(self):
        t = self.throttler
        self.assertEqual(t.get_key_count(), 0)
        t.should_process(1, "e1", "userA")
        self.assertEqual(t.get_key_count(), 1)
        t.should_process(2, "e2", "userA")  # throttled: same key
        self.assertEqual(t.get_key_count(), 1)
        t.should_process(3, "e3", "userB")
        self.assertEqual(t.get_key_count(), 2)

    def test_thread_safety(self):
        """Threads hammer the same keys with the same timestamps in phases: each key
        is processed exactly once at ts 0 and once at ts 10, never at 5 or 15."""
        t = self.throttler
        nthreads, nkeys = 8, 300
        phases = (0, 5, 10, 15)
        barrier = threading.Barrier(nthreads)
        wins = [[[0] * nkeys for _ in phases] for _ in range(nthreads)]
        errors = []

        def hammer(me):
            try:
                for p, ts in enumerate(phases):
                    barrier.wait()
                    for k in range(nkeys):
                        if t.should_process(ts, None, "user%d" % k):
                            wins[me][p][k] += 1
            except Exception as e:  # reported below, not lost in the thread
                errors.append(e)
                barrier.abort()

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(nthreads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        for p, ts in enumerate(phases):
            per_key = [sum(wins[i][p][k] for i in range(nthreads)) for k in range(nkeys)]
            self.assertEqual(per_key, [1 if ts in (0, 10) else 0] * nkeys, "ts %d" % ts)
        s = t.stats()
        self.assertEqual(s["processed"], 2 * nkeys)
        self.assertEqual(s["throttled"], nthreads * nkeys * len(phases) - 2 * nkeys)
        self.assertEqual(t.get_key_count(), nkeys)

    def test_thread_safety_free_running(self):
        """Threads with their own rising timestamps on shared keys: never two processed
        events of one key less than a window apart."""
        t = self.throttler
        t.update_window(3)
        processed = []  # list.append is atomic under the GIL
        lock = threading.Lock()

        def run(offset):
            mine = []
            for ts in range(offset, 400, 2):
                for k in range(5):
                    if t.should_process(ts, None, "k%d" % k):
                        mine.append((k, ts))
            with lock:
                processed.extend(mine)

        threads = [threading.Thread(target=run, args=(i % 2,)) for i in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for k in range(5):
            times = sorted(ts for key, ts in processed if key == k)
            self.assertTrue(times)
            gaps = [b - a for a, b in zip(times, times[1:])]
            self.assertTrue(all(g >= 3 for g in gaps), (k, times))


class SemanticsTests(unittest.TestCase):
    def setUp(self):
        self.t = EventThrottler(window=10)

    def tearDown(self):
        self.t.close()

    def test_default_window(self):
        with EventThrottler() as t:
            self.assertEqual(evthrottle.DEFAULT_WINDOW, 10)
            self.assertEqual(t.get_window(), 10)
            self.assertIsInstance(t.get_window(), int)

    def test_out_of_order_and_zero(self):
        t = self.t
        self.assertTrue(t.should_process(0, "e1", "k"))      # ts 0 is a real timestamp
        self.assertFalse(t.should_process(9, "e2", "k"))
        self.assertTrue(t.should_process(10, "e3", "k"))
        self.assertFalse(t.should_process(0, "e4", "k"))     # older: throttled
        self.assertFalse(t.should_process(19.5, "e5", "k"))  # last stays 10
        self.assertTrue(t.should_process(20, "e6", "k"))
        s = t.stats()  # the reasons of the three throttles, and the policy
        self.assertEqual((s["throttled"], s["inside_window"], s["out_of_order"]), (3, 2, 1))
        self.assertEqual((s["limit"], s["shadow"], s["would_throttle"], s["peeks"]), (1, 0, 0, 0))

    def test_float_window_and_timestamps(self):
        t = self.t
        t.update_window(0.25)
        self.assertEqual(t.get_window(), 0.25)
        self.assertIsInstance(t.get_window(), float)
        self.assertTrue(t.should_process(1.0, None, "k"))
        self.assertFalse(t.should_process(1.2, None, "k"))
        self.assertTrue(t.should_process(1.25, None, "k"))
        t.update_window(2.0)
        self.assertEqual(t.get_window(), 2)
        self.assertIsInstance(t.get_window(), int)

    def test_rounding_to_nanoseconds(self):
        t = self.t
        t.update_window(1e-9)
        self.assertEqual(t.stats()["window_ns"], 1)
        t.update_window(0.1)
        self.assertEqual(t.stats()["window_ns"], 100_000_000)
        t.update_window(fractions.Fraction(1, 3))
        self.assertEqual(t.stats()["window_ns"], 333_333_333)
        t.update_window(decimal.Decimal("0.0000000026"))
        self.assertEqual(t.stats()["window_ns"], 3)
        t.update_window(1.6e-9)
        self.assertEqual(t.stats()["window_ns"], 2)
        # 1 ns window: timestamps 0.4 ns apart round to the same ns.
        t.update_window(1e-9)
        self.assertTrue(t.should_process(5e-9, None, "r"))
        self.assertFalse(t.should_process(5.4e-9, None, "r"))
        self.assertTrue(t.should_process(5.6e-9, None, "r"))

    def test_largest_timestamp(self):
        t = self.t
        top = fractions.Fraction(2**64 - 1, 10**9)  # 2^64-1 ns, exactly
        self.assertTrue(t.should_process(top, None, "k"))
        self.assertFalse(t.should_process(top, None, "k"))
        self.assertTrue(t.should_process(18446744073, None, "j"))  # largest whole second

    def test_str_and_bytes_keys(self):
        t = self.t
        self.assertTrue(t.should_process(1, None, "usér"))
        self.assertFalse(t.should_process(2, None, "usér".encode("utf-8")))
        self.assertFalse(t.should_process(3, None, bytearray("usér", "utf-8")))
        self.assertTrue(t.should_process(1, None, b"\x00\xff"))  # any bytes
        self.assertEqual(t.get_key_count(), 2)

    def test_ascii_str_keys(self):
        """An ASCII str is read in place (its own bytes), a str subclass and bytes
        otherwise: all one key."""
        class Name(str):
            pass
        t = self.t
        self.assertTrue(t.should_process(1, None, "user:42"))
        for same in (b"user:42", Name("user:42"), bytearray(b"user:42"),
                     memoryview(b"user:42"), "user:4" + "2"):
            with self.subTest(key=same):
                self.assertFalse(t.should_process(2, None, same))
                self.assertFalse(t.should_process_many([(2, None, same)])[0])
        self.assertTrue(t.should_process(1, None, "user:4"))  # not a prefix match
        self.assertEqual(t.get_key_count(), 2)

    def test_event_id_ignored(self):
        t = self.t
        self.assertTrue(t.should_process(1, "same", "a"))
        self.assertFalse(t.should_process(2, b"other", "a"))
        self.assertFalse(t.should_process(3, None, "a"))
        self.assertTrue(t.should_process(1, "same", "b"))

    def test_clear_key(self):
        t = self.t
        t.should_process(1, None, "a")
        t.should_process(1, None, "b")
        self.assertTrue(t.clear_key("a"))
        self.assertFalse(t.clear_key("a"))
        self.assertFalse(t.clear_key(b"never"))
        self.assertEqual(t.get_key_count(), 1)
        self.assertTrue(t.should_process(2, None, "a"))
        self.assertFalse(t.should_process(2, None, "b"))

    def test_stats(self):
        t = self.t
        for ts in (1, 2, 11):
            t.should_process(ts, None, "a")
        t.should_process(1, None, "b")
        t.clear_key("b")
        s = t.stats()
        self.assertEqual(set(s), {"window_ns", "processed", "throttled", "new_keys",
                                  "reclaimed", "cleared", "full", "keys", "horizon_ns",
                                  "capacity", "key_max", "clients", "client_max",
                                  "on_full", "on_stale", "stale", "client_idle_ns",
                                  "global_round_trips", "global_fallbacks", "global_errors",
                                  "limit", "shadow", "peeks", "would_throttle",
                                  "out_of_order", "inside_window"})
        self.assertEqual(s["window_ns"], 10 * 10**9)
        self.assertEqual((s["processed"], s["throttled"]), (3, 1))
        self.assertEqual((s["new_keys"], s["cleared"], s["keys"]), (2, 1, 1))
        self.assertEqual((s["full"], s["reclaimed"]), (0, 0))
        # EVT_OPTIONS_INIT defaults
        self.assertEqual((s["capacity"], s["key_max"], s["client_max"], s["on_full"]),
                         (131072, evthrottle.PRIVATE_KEY_MAX, 256, 0))
        self.assertEqual(evthrottle.PRIVATE_KEY_MAX, 96)
        self.assertEqual(s["clients"], 1)

    def test_options(self):
        with EventThrottler(1, capacity=100, key_max=8, on_full="process") as t:
            s = t.stats()
            self.assertEqual((s["capacity"], s["key_max"], s["on_full"]), (128, 8, 1))

    def test_context_manager(self):
        with EventThrottler(window=10) as t:
            self.assertFalse(t.closed)
            self.assertTrue(t.should_process(1, None, "a"))
        self.assertTrue(t.closed)
        self.assertIn("closed", repr(t))

    def test_many_keys(self):
        t = self.t
        n = 20000
        self.assertEqual(sum(t.should_process(1, None, "key-%d" % i) for i in range(n)), n)
        self.assertEqual(t.get_key_count(), n)
        self.assertEqual(sum(t.should_process(2, None, "key-%d" % i) for i in range(n)), 0)

    def test_clock(self):
        a = evthrottle.now_ns()
        b = evthrottle.now()
        self.assertIsInstance(a, int)
        self.assertGreater(a, 0)
        self.assertGreaterEqual(b * 1e9, a - 1e3)  # float rounding of ~1e-7 s at most
        self.assertGreaterEqual(evthrottle.now_ns(), a)
        t = self.t
        self.assertTrue(t.should_process(evthrottle.now(), None, "live"))
        self.assertFalse(t.should_process(evthrottle.now(), None, "live"))

    def test_logging(self):
        t = self.t
        with self.assertLogs("evthrottle", logging.INFO) as logs:
            t.update_window(20)
            t.clear()
        self.assertEqual([r.levelno for r in logs.records], [logging.INFO] * 2)
        self.assertIn("from 10 to 20 seconds", logs.records[0].getMessage())
        self.assertIn("Cleared", logs.records[1].getMessage())
        with self.assertLogs("evthrottle", logging.DEBUG) as logs:
            t.clear_key("x")
        self.assertEqual(logs.records[0].levelno, logging.DEBUG)


if __name__ == "__main__":
    unittest.main()
