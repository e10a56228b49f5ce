"""What a user of the seed's class tries: int keys (and bytes, the same key for C),
long keys, bools, NUL in names; and prefetch, bursts without the GIL."""
import errno
import struct
import sys
import threading
import unittest

import support
import evthrottle
from evthrottle import EventThrottler, EvtError


def int_key_bytes(n):
    """The documented encoding of an int key: int64, the host's byte order."""
    return struct.pack("=q", n)


class IntKeyTests(unittest.TestCase):
    def setUp(self):
        self.t = EventThrottler(window=10)
        self.addCleanup(self.t.close)

    def test_seed_call_with_an_int_key(self):
        t = self.t
        self.assertTrue(t.should_process(1, "e", 5))
        self.assertFalse(t.should_process(5, "e", 5))
        self.assertTrue(t.should_process(5, "e", 6))
        self.assertTrue(t.should_process(11, "e", 5))

    def test_int_key_is_its_int64_bytes(self):
        t = self.t
        for n in (0, 1, -1, 42, 2**31, 2**63 - 1, -2**63):
            with self.subTest(n=n):
                self.assertTrue(t.should_process(1, None, n))
                self.assertFalse(t.should_process(2, None, int_key_bytes(n)))
                self.assertTrue(t.clear_key(int_key_bytes(n)))
                self.assertTrue(t.should_process(3, None, int_key_bytes(n)))
                self.assertFalse(t.should_process(4, None, n))
        self.assertEqual(t.get_key_count(), 7)
        # The str of an int is another key.
        self.assertTrue(t.should_process(5, None, "42"))

    def test_int_subclass_and_burst(self):
        class Id(int):
            pass
        t = self.t
        self.assertEqual(t.should_process_many([(1, None, 7), (1, None, Id(7)),
                                                (1, None, int_key_bytes(7))]),
                         [True, False, False])

    def test_out_of_range_int_key(self):
        for n in (2**63, -2**63 - 1):
            with self.subTest(n=n):
                with self.assertRaisesRegex(OverflowError, "keys are signed 64-bit"):
                    self.t.should_process(1, None, n)
        self.assertEqual(self.t.get_key_count(), 0)


class KeywordTests(unittest.TestCase):
    def test_seed_arguments_by_name(self):
        with EventThrottler(window=10) as t:
            self.assertTrue(t.should_process(timestamp=1, event_id="e1", key="userA"))
            self.assertFalse(t.should_process(5, "e2", key="userA"))
            self.assertFalse(t.should_process(6, key="userA", event_id=None))
            self.assertTrue(t.should_process(key="userA", timestamp=11, event_id=None))
            for call in (lambda: t.should_process(1, "e", "k", key="k"),
                         lambda: t.should_process(1, "e", user="k"),
                         lambda: t.should_process(1, "e"),
                         lambda: t.should_process(1, "e", "k", "x"),
                         lambda: t.should_process(1, event_id="e", timestamp=2)):
                with self.assertRaises(TypeError):
                    call()
            self.assertEqual(t.stats()["processed"] + t.stats()["throttled"], 4)


class KeyLengthTests(support.NamedThrottleTest):
    def test_real_keys_fit_a_private_throttle(self):
        keys = ["session:0f8fad5b-d9cb-469f-a165-70867728950e",   # prefixed UUID
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "acct:12345678/order:ORD-2024-06-11-000000123456"]
        with EventThrottler(10) as t:
            for k in keys:
                self.assertGreater(len(k), 32)
                self.assertTrue(t.should_process(1, None, k))
            self.assertTrue(t.should_process(1, None, "k" * evthrottle.PRIVATE_KEY_MAX))
            with self.assertRaises(EvtError) as cm:
                t.should_process(1, None, "k" * (evthrottle.PRIVATE_KEY_MAX + 1))
            self.assertEqual(cm.exception.errno, errno.EMSGSIZE)

    def test_created_named_throttle_and_explicit_key_max(self):
        _, t = self.create(tag="km")
        self.assertEqual(t.stats()["key_max"], evthrottle.PRIVATE_KEY_MAX)
        _, small = self.create(tag="km32", key_max=32)
        self.assertEqual(small.stats()["key_max"], 32)


class BoolTests(unittest.TestCase):
    def test_bools_refused_as_seconds(self):
        with EventThrottler(10) as t:
            for call in (lambda: t.should_process(True, None, "a"),
                         lambda: t.should_process(False, None, "a"),
                         lambda: t.should_process_many([(True, None, "a")]),
                         lambda: t.update_window(True),
                         lambda: EventThrottler(True),
                         lambda: EventThrottler(False)):
                with self.assertRaisesRegex(TypeError, "not bool"):
                    call()
            self.assertEqual(t.get_window(), 10)
            self.assertEqual(t.stats()["processed"], 0)


class NulNameTests(support.NamedThrottleTest):
    def test_nul_in_names_refused(self):
        name, t = self.create(tag="nul")
        for call in (lambda: EventThrottler(name=name + "\0b"),
                     lambda: EventThrottler(name=name + "\0b", readonly=True),
                     lambda: EventThrottler(10, name + "\0b", create=True),
                     lambda: evthrottle.unlink(name + "\0x")):
            with self.assertRaisesRegex(ValueError, "NUL"):
                call()
        # Still there: the unlink above did not remove it.
        self.attach(name).should_process(1, None, "k")
        self.assertEqual(t.get_key_count(), 1)


class PrefetchTests(support.NamedThrottleTest):
    def test_prefetch_changes_nothing(self):
        name, t = self.create(tag="pf", key_max=8)
        before = t.stats()
        for key in ("a", b"b", 3, bytearray(b"c")):
            self.assertIsNone(t.prefetch(key))
        self.assertEqual(t.stats(), before)
        self.assertTrue(t.should_process(1, None, "a"))

    def test_prefetch_errors(self):
        name, t = self.create(tag="pfe", key_max=8)
        for key, err in (("", errno.EINVAL), ("x" * 9, errno.EMSGSIZE)):
            with self.subTest(key=key):
                with self.assertRaises(EvtError) as cm:
                    t.prefetch(key)
                self.assertEqual(cm.exception.errno, err)
        with self.assertRaises(EvtError) as cm:
            self.attach(name, readonly=True).prefetch("a")
        self.assertEqual(cm.exception.errno, errno.EROFS)
        t.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            t.prefetch("a")


class GilFreeBurstTests(unittest.TestCase):
    def test_close_while_bursts_run_without_the_gil(self):
        """Bursts of GIL_FREE_BATCH events or more run without the GIL; close() from another
        thread meanwhile takes effect when they return: each burst either is decided
        whole or raises the closed error, never touches a freed handle."""
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        self.addCleanup(sys.setswitchinterval, interval)
        for round_ in range(20):
            t = EventThrottler(10)
            n = evthrottle._evthrottle.GIL_FREE_BATCH
            burst = [(round_, None, i) for i in range(n)]
            outcomes, started = [], threading.Event()

            def drain():
                for _ in range(50):
                    started.set()
                    try:
                        outcomes.append(len(t.should_process_many(burst)))
                    except ValueError as e:
                        outcomes.append(str(e))
            th = threading.Thread(target=drain)
            th.start()
            started.wait()
            t.close()
            th.join()
            self.assertTrue(set(outcomes) <= {n, "operation on a closed EventThrottler"},
                            outcomes)
            self.assertEqual(outcomes[-1], "operation on a closed EventThrottler")

    def test_long_burst_answers(self):
        with EventThrottler(10) as t:
            burst = [(1, None, i % 100) for i in range(1000)]
            self.assertEqual(t.should_process_many(burst), [True] * 100 + [False] * 900)


if __name__ == "__main__":
    unittest.main()
