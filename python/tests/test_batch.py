"""should_process_many: a burst decided in one library call (evt_should_process_batch),
with exactly the answers of should_process on each event in turn."""
import decimal
import errno
import fractions
import random
import sys
import threading
import tracemalloc
import unittest

import support
import evthrottle
from evthrottle import EventThrottler, EvtError

GIL_FREE = evthrottle._evthrottle.GIL_FREE_BATCH  # a burst this long goes without it


def counters(t):
    s = t.stats()
    return s["processed"], s["throttled"], s["keys"]


def random_timestamp(rng, hi):
    """Seconds in the forms should_process takes: int, float, Fraction, Decimal."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randrange(hi)
    if kind == 1:
        return fractions.Fraction(rng.randrange(hi * 1000), 1000)
    if kind == 2:
        return decimal.Decimal(rng.randrange(hi * 10**6)) / 10**6
    return rng.random() * hi  # floats most often, as from time.monotonic()


def random_key(rng, pool):
    """Few keys, so that they repeat within a burst: str (ASCII, read in place, or
    not), bytes, bytearray (copied) and int."""
    i = rng.randrange(pool)
    k = "k%d-é" % i
    kind = rng.randrange(6)
    if kind == 0:
        return k.encode("utf-8")   # the same key as the str
    if kind == 1:
        return bytearray(k.encode("utf-8"))
    if kind == 2:
        return i - pool // 2       # negative ints too
    if kind == 3:
        return "k%d" % i
    return k


def random_burst(rng, n, base, spread, pool):
    """n events from base to base + spread, as tuples or lists; a timestamp object
    often shared with the event before (as a burst stamped by one clock read)."""
    events = []
    for _ in range(n):
        ts = events[-1][0] if events and rng.randrange(3) == 0 else \
            base + random_timestamp(rng, spread)
        e = (ts, rng.choice((None, "e", b"e")), random_key(rng, pool))
        events.append(e if rng.randrange(4) else list(e))
    return events


class ManyTests(unittest.TestCase):
    def new(self, *args, **kw):
        t = EventThrottler(*args, **kw)
        self.addCleanup(t.close)
        return t

    def test_matches_should_process_on_a_twin(self):
        rng = random.Random(20240611)
        # Timestamps drift forward by `step` a burst, spread over `spread` seconds:
        # out of order within a burst and across neighbouring bursts.
        for window, spread, step in ((5, 20, 3), (0.25, 1, 1),
                                     (fractions.Fraction(1, 3), 1, 1)):
            many, one = self.new(window), self.new(window)
            for burst in range(150):
                n = rng.choice((1, 2, 15, 16, 17, 64, rng.randrange(200)))
                events = random_burst(rng, n, burst * step, spread, rng.choice((3, 40)))
                where = "window %s, burst %d" % (window, burst)  # seeded: replayable
                expected = [one.should_process(*e) for e in events]
                got = many.should_process_many(iter(events))  # any iterable
                self.assertEqual(got, expected, where)
                self.assertTrue(all(type(a) is bool for a in got), where)
                self.assertEqual(counters(many), counters(one), where)
                if burst % 50 == 49:  # both follow a window change and a clear
                    for t in (many, one):
                        t.update_window(window * 2)
                        t.clear_key("k1-é")
            processed, throttled, _ = counters(many)  # both answers, many times
            self.assertGreater(processed, 500)
            self.assertGreater(throttled, 500)

    def test_repeated_key_sees_its_own_decision(self):
        t = self.new(10)
        events = [(1, None, "a"), (5, None, "a"), (11, None, "a"), (3, None, "a"),
                  (21, "e", b"a"), (0, None, "b"), (2**64 // 10**9, None, "b")]
        self.assertEqual(t.should_process_many(events),
                         [True, False, True, False, True, True, True])
        self.assertEqual(t.should_process_many([(100, None, "c"),
                                                (109.999999999, None, "c"),
                                                (110, None, "c"),
                                                (109.999999999, None, "c")]),
                         [True, False, True, False])  # window boundary, to the ns
        # 9.999999999999999 s is 9999999999.999998 ns: rounded, as should_process
        # does, it is a full window after 0; truncated, it would not be.
        self.assertEqual(t.should_process_many([(0, None, "d"),
                                                (9.999999999999999, None, "d")]),
                         [True, True])

    def test_empty_batch(self):
        t = self.new(10)
        t.should_process(1, None, "a")
        for empty in ([], (), iter([]), (e for e in ())):
            with self.subTest(events=empty):
                self.assertEqual(t.should_process_many(empty), [])
        self.assertEqual(counters(t), (1, 0, 1))

    def test_bad_input_decides_nothing(self):
        t = self.new(10, key_max=8)
        t.should_process(1, None, "seen")
        good = [(2, None, "a"), (3, None, "b"), (4, None, "seen")]
        cases = [
            (TypeError, None, (5, None, 4.2)),
            (TypeError, None, (5, None, None)),
            (TypeError, None, (5, None, True)),            # bools are refused
            (TypeError, None, (True, None, "c")),
            (OverflowError, None, (5, None, 2**63)),       # int keys are int64
            (ValueError, None, (-1, None, "c")),
            (TypeError, None, ("5", None, "c")),
            (ValueError, None, (5, "c")),                  # not a 3-tuple
            (EvtError, errno.EINVAL, (5, None, "")),
            (EvtError, errno.EMSGSIZE, (5, None, "x" * 9)),
            (EvtError, errno.EMSGSIZE, (5, None, "é" * 5)),  # 10 bytes of UTF-8
        ]
        for exc, err, bad in cases:
            for where in (0, 1, 3):
                events = good[:where] + [bad] + good[where:]
                with self.subTest(bad=bad, where=where):
                    with self.assertRaises(exc) as cm:
                        t.should_process_many(events)
                    if err is not None:
                        self.assertEqual(cm.exception.errno, err)
                        self.assertEqual(cm.exception.strerror, evthrottle.strerror(err)
                                         if err != errno.EMSGSIZE else "key is %d bytes, "
                                         "this throttle's key_max is 8" % len(bad[2].encode()))
                        self.assertEqual(cm.exception.index, where)
                    self.assertEqual(counters(t), (1, 0, 1))
        self.assertTrue(t.should_process(2, None, "a"))  # never decided above
        self.assertTrue(t.should_process_many([(5, None, "x" * 8)])[0])  # key_max fits

    def test_no_memory_kept_per_burst_shape(self):
        """Bursts of every size and total key length leave nothing behind (a ctypes
        array type per length would be cached for good: about 1.7 KiB each)."""
        t = self.new(10)
        bursts = [[(n, None, "k%d" % i * (1 + n % 7)) for i in range(n)]
                  for n in range(1, 150)]
        t.should_process_many(bursts[0])
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        before = tracemalloc.get_traced_memory()[0]
        for burst in bursts[1:]:
            t.should_process_many(burst)
        # CPython's free lists may refill (a few KiB); 149 array types are ~250 KiB.
        self.assertLess(tracemalloc.get_traced_memory()[0] - before, 32768)

    def test_closed_throttle_refuses(self):
        t = EventThrottler(10)
        self.assertEqual(t.should_process_many([(1, None, "a")]), [True])
        t.close()
        for events in ([], [(1, None, "a")]):
            with self.subTest(events=events):
                with self.assertRaisesRegex(ValueError, "closed"):
                    t.should_process_many(events)

    def test_closed_while_converting_a_timestamp(self):
        """A timestamp's conversion runs the caller's code (a Fraction's numerator):
        one that closes the throttler gets the closed error, and the burst is decided
        on no handle at all (freed or not: ASan checks)."""
        t = EventThrottler(10)

        class ClosingFraction(fractions.Fraction):
            @property
            def numerator(self):
                t.close()
                return super().numerator

        events = [(1, None, "a"), (ClosingFraction(2), None, "b")]
        events += [(3, None, "c")] * GIL_FREE  # long enough to go without the GIL
        with self.assertRaisesRegex(ValueError, "closed"):
            t.should_process_many(events)
        self.assertTrue(t.closed)

    def test_closed_while_reading_the_events(self):
        """The events are the caller's code: one that closes the throttler gets the
        closed error, never a call on the freed handle."""
        t = EventThrottler(10)
        self.assertEqual(t.should_process_many([(1, None, "a")]), [True])  # key_max read

        def closing():
            yield (2, None, "b")
            t.close()
            yield (3, None, "c")

        with self.assertRaisesRegex(ValueError, "closed"):
            t.should_process_many(closing())

    def test_threads(self):
        """Threads drain bursts of the same keys at the same timestamps: each key is
        processed once at ts 0 and once at ts 10, never at 5; bursts short enough
        to keep the GIL and long enough to go without it."""
        t = self.new(10, capacity=4 * GIL_FREE)
        nthreads, nkeys, size = 3, GIL_FREE + 500, GIL_FREE
        barrier = threading.Barrier(nthreads)
        wins = [0] * nthreads
        errors = []

        def drain(me):
            try:
                for ts in (0, 5, 10):
                    barrier.wait()
                    keys = ["user%d" % k for k in range(nkeys)]
                    random.Random(me).shuffle(keys)
                    for base in range(0, nkeys, size):
                        wins[me] += sum(t.should_process_many(
                            (ts, None, k) for k in keys[base:base + size]))
            except Exception as e:  # reported below, not lost in the thread
                errors.append(e)
                barrier.abort()

        threads = [threading.Thread(target=drain, args=(i,)) for i in range(nthreads)]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads inside should_process_many too
        try:
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        finally:
            sys.setswitchinterval(interval)
        self.assertEqual(errors, [])
        self.assertEqual(sum(wins), 2 * nkeys)
        self.assertEqual(counters(t), (2 * nkeys, (3 * nthreads - 2) * nkeys, nkeys))


class ManyNamedTests(support.NamedThrottleTest):
    def test_read_only_throttle_refuses(self):
        name, t = self.create(tag="many-ro")
        t.should_process(1, None, "a")
        ro = self.attach(name, readonly=True)
        for events in ([], [(50, None, "b")], [(50, None, "")], [(50, None, "b" * 40)]):
            with self.subTest(events=events):
                with self.assertRaises(EvtError) as cm:  # EROFS first, as should_process
                    ro.should_process_many(events)
                self.assertEqual(cm.exception.errno, errno.EROFS)
                self.assertIs(type(cm.exception), EvtError)
        self.assertEqual(counters(ro), (1, 0, 1))
        self.assertTrue(t.should_process(50, None, "b"))

    def test_key_max_of_an_attached_throttle(self):
        name, t = self.create(tag="many-km", key_max=8)
        other = self.attach(name)  # key_max comes from the region, not the options
        with self.assertRaises(EvtError) as cm:
            other.should_process_many([(1, None, "12345678"), (1, None, "123456789")])
        self.assertEqual((cm.exception.errno, cm.exception.index), (errno.EMSGSIZE, 1))
        self.assertEqual(other.should_process_many([(1, None, "12345678")]), [True])
        self.assertEqual(t.should_process_many([(2, None, "12345678")]), [False])

    def test_full_table_error_policy(self):
        """ENOSPC raises as in should_process, once the whole burst was decided: the
        answers before and after the first full event stand, in e.answers."""
        name, t = self.create(tag="many-full", capacity=64, on_full="error")
        events = [(1, None, "key%d" % i) for i in range(300)]
        with self.assertRaises(EvtError) as cm:
            t.should_process_many(events)
        e = cm.exception
        self.assertEqual(e.errno, errno.ENOSPC)
        self.assertEqual(e.strerror, "table full: 64 slots, %d keys; raise capacity or lower "
                         "the window" % t.get_key_count())
        self.assertEqual(len(e.answers), len(events))
        self.assertEqual(e.index, e.answers.index(None))
        self.assertEqual(e.answers[:e.index], [True] * e.index)
        s = t.stats()
        self.assertEqual(s["full"], e.answers.count(None))
        self.assertEqual(s["processed"], e.answers.count(True))
        self.assertEqual(s["keys"], e.answers.count(True))
        self.assertNotIn(False, e.answers)  # all new keys: processed or no room
        # The processed ones stand, after the first full event too.
        again = [t.should_process(2, None, k) if a else None
                 for (_, _, k), a in zip(events, e.answers)]
        self.assertEqual(again, [False if a else None for a in e.answers])


if __name__ == "__main__":
    unittest.main()
