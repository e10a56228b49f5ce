#!/usr/bin/env python3
"""What a throttle decision costs a Python caller, per call.

Four ways are timed over the same traces (uniform keys, "user:<n>" as
evthrottle-bench makes them, one timestamp per 64 events as there; by default 100K
keys, then one hot key):

  seed-model      the seed's EventThrottler re-implemented in pure Python exactly as
                  its README describes it: a dict of key -> last processed timestamp
                  behind a threading.RLock (below, SeedEventThrottler);
  py-binding      evthrottle.EventThrottler (python/evthrottle: the C extension
                  evthrottle._evthrottle over libevthrottle), a private throttle
                  (evt_create(NULL, ...)), made as a seed user would make it:
                  EventThrottler(window=...), the package's defaults (--capacity
                  gives other table sizes, a pair of rows each);
  py-binding-many the same throttle, each 64 events (one timestamp) decided by one
                  should_process_many call; the time
                  includes building the (timestamp, event_id, key) tuples, and is
                  reported per event;
  py-call-floor   a Python method with the same signature that does nothing: the
                  interpreter's own cost of the loop and the call, which no call
                  per event can go below (a batch pays one call per 64 events).

The comparison is of the same work: every implementation decides the same trace
with the same timestamps and window, so each makes the same decisions (column
"processed" says so).  Timestamps are seconds (float, as the seed's users pass
them), made before timing: one per 64 events (as if the clock were read once per
64 events), --ns-per-event apart (500 ns: about the seed's own pace, so a key comes
back long after its 10 ms window, as it would in real time).  Before each timed
run every implementation's loop walks the trace once untimed (the keys' str
objects in cache for all alike: making a throttle's table, 32 MiB, would
otherwise have evicted them for the binding only).  Each is run --repeat times,
interleaved; the median, min and max are reported.

    PYTHONPATH=build-bench/python:python \\
        python3 bench/seed_model.py [--keys 100000 1] [--calls 1000000] [--repeat 5] [--csv]

Standard library only.  bench/run.sh runs it.
"""
import argparse
import gc
import statistics
import sys
import threading
import time
import tracemalloc

BATCH = 64


class SeedEventThrottler:
    """The seed's EventThrottler: for each key only the first event within the window
    (seconds) is processed.  A dict holds each key's last processed timestamp; a
    reentrant lock makes it thread-safe."""

    def __init__(self, window=10):
        self._window = window
        self._last = {}
        self._lock = threading.RLock()

    def should_process(self, timestamp, event_id, key):
        with self._lock:
            last = self._last.get(key)
            if last is None or timestamp - last >= self._window:
                self._last[key] = timestamp
                return True
            return False

    def update_window(self, new_window):
        with self._lock:
            self._window = new_window

    def get_window(self):
        with self._lock:
            return self._window

    def clear(self):
        with self._lock:
            self._last.clear()

    def get_key_count(self):
        with self._lock:
            return len(self._last)


class CallFloor:
    def should_process(self, timestamp, event_id, key):
        return True


def make_trace(nkeys, ncalls, seed):
    """Keys as evthrottle-bench names them (an odd-multiplier scramble of the id),
    drawn uniformly; the same generator is not needed, only the same shape."""
    import random
    rng = random.Random(seed)
    names = ["user:%d" % ((i * 2654435761) & 0xFFFFFFFF) for i in range(nkeys)]
    return [names[rng.randrange(nkeys)] for _ in range(ncalls)]


def block_times(ncalls, ns_per_event):
    """The timestamp (float seconds) of each BATCH events of the trace."""
    step = BATCH * ns_per_event / 1e9
    return [1.0 + i * step for i in range(-(-ncalls // BATCH))]


def warm(trace):
    """Touch every key of the trace (its str object), as the timed loop will."""
    for key in trace:
        pass


def timed(run, trace):
    """run() with the GC off, after warm(): ns per event over the trace, and the
    processed share (run returns how many were processed).  The time is this
    thread's CPU time: on a shared machine, time spent descheduled (other
    processes' turns) is not the implementation's."""
    n = len(trace)
    gc_was = gc.isenabled()
    gc.disable()
    warm(trace)
    t0 = time.thread_time_ns()
    processed = run()
    t1 = time.thread_time_ns()
    if gc_was:
        gc.enable()
    return (t1 - t0) / n, processed / n


def replay(t, trace, times):
    """ns per call over the whole trace, and how many were processed; times: the
    timestamp of each BATCH events."""
    decide = t.should_process

    def run():
        processed = 0
        for block, ts in enumerate(times):
            for key in trace[block * BATCH:(block + 1) * BATCH]:
                if decide(ts, None, key):
                    processed += 1
        return processed
    return timed(run, trace)


def replay_many(t, trace, times):
    """replay() with each BATCH events decided by one should_process_many call: ns
    per event, and how many were processed."""
    decide = t.should_process_many

    def run():
        processed = 0
        for block, ts in enumerate(times):
            processed += sum(decide([(ts, None, key)
                                     for key in trace[block * BATCH:(block + 1) * BATCH]]))
        return processed
    return timed(run, trace)


def bytes_per_key(make, trace, nkeys, many=False):
    """Memory the throttle allocates while it takes every key once (tracemalloc:
    Python objects only; the binding's shared table is not on the Python heap);
    many: BATCH keys a should_process_many call."""
    keys = list(dict.fromkeys(trace))[:nkeys]
    t = make()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    ts = 1.0
    if many:
        for i in range(0, len(keys), BATCH):
            t.should_process_many([(ts, None, k) for k in keys[i:i + BATCH]])
    else:
        for k in keys:
            t.should_process(ts, None, k)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used / max(1, len(keys))


def binding_impls(evthrottle, window, capacity, suffix):
    """The py-binding rows of one table size (named "/CAPACITY" if suffix)."""
    def binding():
        return evthrottle.EventThrottler(window=window, capacity=capacity or None)
    tag = "/%s" % (capacity or "default") if suffix else ""
    return [("py-binding" + tag, binding, replay),
            ("py-binding-many" + tag, binding, replay_many)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, nargs="+", default=[100000, 1],
                    help="one trace per count: uniform keys (1: a hot key)")
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--window-ms", type=float, default=10.0)
    ap.add_argument("--ns-per-event", type=float, default=500.0,
                    help="the trace's timestamps: this far apart an event")
    ap.add_argument("--capacity", type=int, nargs="+", default=[0],
                    help="py-binding's table slots (0: the package's default, as a seed "
                    "user's EventThrottler(window=...) gets); several: rows for each")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-binding", action="store_true")
    ap.add_argument("--csv", action="store_true")
    a = ap.parse_args()
    window = a.window_ms / 1000.0

    impls = [("seed-model", lambda: SeedEventThrottler(window=window), replay),
             ("py-call-floor", CallFloor, replay)]
    binding_note = ""
    if not a.no_binding:
        try:
            import evthrottle

            for cap in reversed(a.capacity):
                impls[1:1] = binding_impls(evthrottle, window, cap, len(a.capacity) > 1)
            binding_note = evthrottle.library_path()
        except (ImportError, OSError) as e:
            print("seed_model.py: no py-binding (%s)" % e, file=sys.stderr)

    py = "%s.%s.%s" % sys.version_info[:3]
    if a.csv:
        print("impl,keys,calls,window_ns,ns_per_call,ns_min,ns_max,runs,processed_frac,"
              "py_heap_bytes_per_key,python")
    else:
        print("seed_model.py: %s keys (uniform), %d calls, window %.3f ms, timestamps "
              "%g ns an event, Python %s, median of %d runs"
              % (" then ".join(map(str, a.keys)), a.calls, window * 1e3, a.ns_per_event,
                 py, a.repeat))
        if binding_note:
            print("  py-binding loads %s" % binding_note)
    for nkeys in a.keys:
        report(a, impls, nkeys, window, py)


def report(a, impls, nkeys, window, py):
    """Time every impl on a trace of nkeys uniform keys; print its rows."""
    trace = make_trace(nkeys, a.calls, a.seed)
    times = block_times(len(trace), a.ns_per_event)
    runs = {name: [] for name, _, _ in impls}
    frac = {}
    for _ in range(a.repeat):
        for name, make, run in impls:
            t = make()  # a fresh, empty throttle per run, as evthrottle-bench does
            ns, p = run(t, trace, times)
            runs[name].append(ns)
            frac[name] = p
            if hasattr(t, "close"):
                t.close()
    mem = {name: bytes_per_key(make, trace, nkeys, run is replay_many)
           for name, make, run in impls if name != "py-call-floor"}
    if a.csv:
        for name, _, _ in impls:
            v = runs[name]
            print("%s,%d,%d,%d,%.1f,%.1f,%.1f,%d,%s,%s,%s" % (
                name, nkeys, a.calls, round(window * 1e9), statistics.median(v), min(v),
                max(v), len(v), "%.5f" % frac[name] if name != "py-call-floor" else "",
                "%.1f" % mem[name] if name in mem else "", py))
        return
    print("\n%d keys\n%-24s %10s %10s %10s %10s %12s" % (
        nkeys, "impl", "ns/call", "min", "max", "processed", "heap B/key"))
    for name, _, _ in impls:
        v = runs[name]
        print("%-24s %10.1f %10.1f %10.1f %10s %12s" % (
            name, statistics.median(v), min(v), max(v),
            "%.1f%%" % (100 * frac[name]) if name != "py-call-floor" else "-",
            "%.1f" % mem[name] if name in mem else "-"))

if __name__ == "__main__":
    main()
