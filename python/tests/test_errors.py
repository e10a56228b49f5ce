"""Bad input and failing calls: a clear exception with the library's message, and no
change of state."""
import errno
import math
import os
import pickle
import signal
import unittest

import support
import evthrottle
from evthrottle import EventThrottler, EvtError


class LibraryErrorTests(support.NamedThrottleTest):
    def assertEvtError(self, cm, err, cls=EvtError, message=None):
        """message: what the binding says beyond the library's static message."""
        e = cm.exception
        self.assertIsInstance(e, EvtError)
        self.assertIsInstance(e, cls)
        self.assertEqual(e.errno, err)
        self.assertEqual(e.strerror, message or evthrottle.strerror(err))
        self.assertIn(e.strerror, str(e))

    def test_missing_throttle(self):
        name = self.new_name("missing")
        with self.assertRaises(FileNotFoundError) as cm:
            EventThrottler(name=name)
        self.assertEvtError(cm, errno.ENOENT, FileNotFoundError)
        self.assertEqual(cm.exception.filename, name)
        self.assertEqual(cm.exception.strerror,
                         "no such throttle (is evthrottled running with it configured?)")
        with self.assertRaises(FileNotFoundError):
            EventThrottler(name=name, readonly=True)
        with self.assertRaises(FileNotFoundError):
            evthrottle.unlink(name)

    def test_fifo_squatting_the_name(self):
        """Anyone may mkfifo in /dev/shm: attaching refuses it at once instead of
        blocking (SIGALRM's default action ends a blocked run)."""
        name = self.new_name("fifo")
        path = "/dev/shm/evthrottle." + name
        os.mkfifo(path, 0o666)  # unlinked with the test's names
        signal.alarm(10)
        try:
            for readonly in (True, False):
                with self.subTest(readonly=readonly):
                    with self.assertRaises(EvtError) as cm:
                        EventThrottler(name=name, readonly=readonly)
                    self.assertEvtError(cm, errno.EBADMSG)
                    self.assertIn("not a regular file", str(cm.exception))
        finally:
            signal.alarm(0)

    def test_create_existing(self):
        name, t = self.create(tag="dup")
        with self.assertRaises(FileExistsError) as cm:
            EventThrottler(5, name, create=True)
        self.assertEvtError(cm, errno.EEXIST, FileExistsError)
        self.assertEqual(t.get_window(), 10)  # the first one is untouched

    def test_bad_name(self):
        for bad in ("", "a/b", ".hidden", "sp ace"):
            with self.subTest(name=bad):
                with self.assertRaises(EvtError) as cm:
                    EventThrottler(name=bad)
                self.assertEvtError(cm, errno.EINVAL)
        with self.assertRaises(TypeError):
            EventThrottler(name=42)

    def test_errors_say_the_value_and_the_limit(self):
        """Issue #22 item 10: the value and the limit, not only the library's
        static message."""
        for capacity in (2**31, 2**33, 2**70):
            with self.subTest(capacity=capacity):
                with self.assertRaises(EvtError) as cm:
                    EventThrottler(10, capacity=capacity)
                self.assertEvtError(cm, errno.EINVAL,
                                    message="capacity %d is above 268435456" % capacity)
        # The extension's own type once took capacity unchecked: 2**32 + 64 became 64.
        with self.assertRaises(EvtError) as cm:
            evthrottle._evthrottle.Throttle(capacity=2**32 + 64)
        self.assertEvtError(cm, errno.EINVAL, message="capacity 4294967360 is above 268435456")
        with self.assertRaises(EvtError) as cm:
            evthrottle._evthrottle.Throttle(key_max=-1)
        self.assertEvtError(cm, errno.EINVAL,
                            message="key_max must not be negative (0 for the default)")
        with self.assertRaises(ValueError) as cm:
            EventThrottler(10, capacity=-1)
        self.assertIn("must be positive", str(cm.exception))
        with self.assertRaises(EvtError) as cm:
            EventThrottler(name="n" * 300)
        self.assertEvtError(cm, errno.EINVAL, message="throttle name is 300 bytes, at most 200")
        self.assertEqual(cm.exception.filename, "n" * 300)
        with self.assertRaises(EvtError) as cm:
            EventThrottler(name="a/b")                  # not its length: the library's
        self.assertEvtError(cm, errno.EINVAL)

    def test_read_only_handle(self):
        name, t = self.create(tag="ro")
        t.should_process(1, None, "a")
        ro = self.attach(name, readonly=True)
        self.assertTrue(ro.readonly)
        calls = {
            "should_process": lambda: ro.should_process(50, None, "b"),
            "update_window": lambda: ro.update_window(1),
            "clear": ro.clear,
            "clear_key": lambda: ro.clear_key("a"),
        }
        for what, call in calls.items():
            with self.subTest(call=what):
                with self.assertRaises(OSError) as cm:
                    call()
                self.assertEvtError(cm, errno.EROFS)
                self.assertEqual(type(cm.exception), EvtError)  # no builtin subclass
        # Reading works, and nothing changed.
        self.assertEqual(ro.get_window(), 10)
        self.assertEqual(ro.get_key_count(), 1)
        self.assertEqual(ro.stats()["processed"], 1)
        self.assertFalse(t.should_process(2, None, "a"))

    def test_key_too_long(self):
        with EventThrottler(10) as t:
            self.assertTrue(t.should_process(1, None, "k" * 96))  # key_max 96: fits
            self.assertTrue(t.should_process(1, None, "é" * 48))   # 96 bytes of UTF-8
            for key in ("k" * 97, "é" * 49, b"\x01" * 1024):
                with self.subTest(key=key):
                    with self.assertRaises(EvtError) as cm:
                        t.should_process(1, None, key)
                    self.assertEvtError(cm, errno.EMSGSIZE, message="key is %d bytes, "
                                        "this throttle's key_max is 96" % len(
                                            key.encode() if isinstance(key, str) else key))
            with self.assertRaises(EvtError) as cm:
                t.clear_key("k" * 97)
            self.assertEvtError(cm, errno.EMSGSIZE,
                                message="key is 97 bytes, this throttle's key_max is 96")
            with self.assertRaises(EvtError) as cm:
                t.prefetch("k" * 100)
            self.assertEvtError(cm, errno.EMSGSIZE,
                                message="key is 100 bytes, this throttle's key_max is 96")
            self.assertEqual(t.get_key_count(), 2)
        with EventThrottler(10, key_max=4) as t:
            self.assertTrue(t.should_process(1, None, "abcd"))
            with self.assertRaises(EvtError) as cm:
                t.should_process(1, None, "abcde")
            self.assertEvtError(cm, errno.EMSGSIZE,
                                message="key is 5 bytes, this throttle's key_max is 4")

    def test_empty_key(self):
        with EventThrottler(10) as t:
            for key in ("", b""):
                with self.subTest(key=key):
                    with self.assertRaises(EvtError) as cm:
                        t.should_process(1, None, key)
                    self.assertEvtError(cm, errno.EINVAL)
            with self.assertRaises(EvtError):
                t.clear_key("")
            s = t.stats()
            self.assertEqual((s["processed"], s["throttled"], s["keys"]), (0, 0, 0))

    def test_full_table_error_policy(self):
        with EventThrottler(10, capacity=64, on_full="error") as t:
            with self.assertRaises(EvtError) as cm:
                for i in range(1000):
                    t.should_process(1, None, "key%d" % i)
            self.assertEvtError(cm, errno.ENOSPC, message="table full: 64 slots, %d keys; "
                                "raise capacity or lower the window" % t.get_key_count())
            self.assertLessEqual(t.get_key_count(), 64)
            self.assertEqual(t.stats()["full"], 1)

    def test_full_table_throttle_policy(self):
        with EventThrottler(10, capacity=64) as t:
            answers = [t.should_process(1, None, "key%d" % i) for i in range(1000)]
            self.assertIn(False, answers)  # fail closed, no exception
            self.assertGreater(t.stats()["full"], 0)
            self.assertEqual(answers.count(True), t.get_key_count())

    def test_errors_pickle(self):
        name = self.new_name("pickle")
        try:
            EventThrottler(name=name)
        except EvtError as e:
            again = pickle.loads(pickle.dumps(e))
            self.assertIs(type(again), type(e))
            self.assertEqual((again.errno, again.strerror, again.filename),
                             (e.errno, e.strerror, e.filename))
        else:
            self.fail("attached to a missing throttle")


class ArgumentErrorTests(unittest.TestCase):
    def setUp(self):
        self.t = EventThrottler(10)
        self.t.should_process(1, None, "a")

    def tearDown(self):
        self.t.close()

    def unchanged(self):
        self.assertEqual(self.t.get_window(), 10)
        s = self.t.stats()
        self.assertEqual((s["processed"], s["throttled"], s["keys"]), (1, 0, 1))

    def test_bad_key_type(self):
        for key in (None, 1.5, ["a"], ("a",), object(), True, False):
            with self.subTest(key=key):
                with self.assertRaisesRegex(TypeError, r"^key must be str, bytes \(or "
                                            r"another bytes-like object\) or int, not "):
                    self.t.should_process(2, None, key)
                with self.assertRaises(TypeError):
                    self.t.clear_key(key)
                with self.assertRaises(TypeError):
                    self.t.prefetch(key)
        for key in (2**63, -2**63 - 1, 2**100):
            with self.subTest(key=key):
                with self.assertRaisesRegex(OverflowError, "signed 64-bit"):
                    self.t.should_process(2, None, key)
        self.unchanged()

    def test_bad_window(self):
        for window in (0, 0.0, -1, -0.5, math.nan, math.inf, 1e-10, 2**64):
            with self.subTest(window=window):
                with self.assertRaises(ValueError):
                    self.t.update_window(window)
                with self.assertRaises(ValueError):
                    EventThrottler(window)
        for window in ("10", None, b"1", True, False):
            with self.subTest(window=window):
                with self.assertRaises(TypeError):
                    self.t.update_window(window)
        self.unchanged()

    def test_bad_timestamp(self):
        for ts in (-1, -0.001, math.nan, math.inf, -math.inf, 18446744074, 1.9e10):
            with self.subTest(ts=ts):
                with self.assertRaises(ValueError):
                    self.t.should_process(ts, None, "a")
        for ts in ("5", None, b"5", [5], True, False):
            with self.subTest(ts=ts):
                with self.assertRaises(TypeError):
                    self.t.should_process(ts, None, "a")
        self.unchanged()

    def test_bad_options(self):
        with self.assertRaises(ValueError):
            EventThrottler(10, name="x", capacity=64)   # attaching: creator's option
        with self.assertRaises(ValueError):
            EventThrottler(10, name="x")
        with self.assertRaises(ValueError):
            EventThrottler(10, readonly=True)           # private: nothing to attach
        with self.assertRaises(ValueError):
            EventThrottler(10, on_full="drop")
        with self.assertRaises(EvtError) as cm:
            EventThrottler(10, key_max=2000)            # the library's limit: 1024
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual(cm.exception.strerror, "key_max 2000 is above 1024")
        with self.assertRaises(TypeError):
            EventThrottler(10, capacity="64")

    def test_use_after_close(self):
        t = EventThrottler(10)
        t.close()
        t.close()  # idempotent
        self.assertTrue(t.closed)
        for call in (lambda: t.should_process(1, None, "a"), lambda: t.update_window(1),
                     t.get_window, t.clear, t.get_key_count, lambda: t.clear_key("a"),
                     t.stats, t.__enter__):
            with self.assertRaisesRegex(ValueError, "closed"):
                call()


if __name__ == "__main__":
    unittest.main()
