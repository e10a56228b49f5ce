"""Global throttles from Python (issue 20) against a real redis-server that each test
starts (a unix socket in a temporary directory, no persistence, killed at the end),
as tests/redis_server.h does for the C suites.  Two hosts are two throttles with
different local names and one global name."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import support
import evthrottle

WINDOW = 1.0


def _answers(path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.2)
            s.connect(path)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@unittest.skipIf(os.environ.get("EVT_GLOBAL_BUILT") == "0",
                 "this build has no global throttles (-Dglobal=disabled, or no libhiredis-dev "
                 "when it was configured): they answer by on_unreachable")
@unittest.skipUnless(shutil.which("redis-server"),
                     "redis-server is not installed (Debian: apt-get install redis-server; "
                     ".ci/run installs it): no real Redis to test with")
class GlobalTests(support.NamedThrottleTest):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="evt-pyredis.")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm",
             "700", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL)
        self.addCleanup(self._stop)
        for _ in range(500):
            if _answers(self.sock):
                break
            self.assertIsNone(self.redis.poll(), "redis-server exited at start")
            time.sleep(0.01)
        self.assertTrue(_answers(self.sock), "redis-server does not answer")
        self.endpoint = "unix:" + self.sock
        self.global_name = "pyg.%d.%s" % (os.getpid(), self._testMethodName[-20:])

    def _stop(self):
        self.redis.send_signal(signal.SIGCONT)
        self.redis.kill()
        self.redis.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def host(self, **kw):
        """One host: a throttle of its own local name, global under one name."""
        kw.setdefault("timeout", 2.0)  # a loaded machine's first call loads the function
        return self.create(WINDOW, tag="host", redis=self.endpoint,
                           global_name=self.global_name, **kw)[1]

    def test_two_hosts_decide_as_one(self):
        a, b = self.host(), self.host()
        self.assertNotEqual(a.name, b.name)
        ts = 1000
        self.assertTrue(a.should_process(ts, None, "acct"))
        self.assertFalse(b.should_process(ts + 0.5, None, "acct"), "processed on a")
        self.assertFalse(a.should_process(ts + 0.9, None, "acct"))
        self.assertTrue(b.should_process(ts + 1, None, "acct"), "a window after a's")
        self.assertFalse(a.should_process(ts + 1.5, None, "acct"), "processed on b")
        self.assertTrue(a.should_process(ts + 2, None, "acct"))
        # A second client of host a (attached by its local name) shares its cache.
        c = self.attach(a.name)
        self.assertFalse(c.should_process(ts + 2.5, None, "acct"))
        self.assertTrue(c.should_process(ts + 2.5, None, b"other"))
        self.assertFalse(b.should_process(ts + 2.6, None, "other"))
        # Bursts decide across hosts too.
        self.assertEqual(b.should_process_many([(ts + 3, None, "acct"),
                                                (ts + 3.1, None, "acct"),
                                                (ts + 3.2, None, "third")]),
                         [True, False, True])
        self.assertEqual(a.should_process_many([(ts + 3.3, None, "third")]), [False])

    def test_counters_appear_in_stats(self):
        a, b = self.host(), self.host()
        self.assertTrue(a.should_process(10, None, "k"))       # a round trip
        self.assertFalse(a.should_process(10.5, None, "k"))    # cached: no trip
        self.assertFalse(b.should_process(10.2, None, "k"))    # a round trip
        self.assertFalse(b.should_process(10.3, None, "k"))    # cached
        for t in (a, b):
            s = t.stats()
            self.assertEqual(s["global_round_trips"], 1, t.name)
            self.assertEqual((s["global_fallbacks"], s["global_errors"]), (0, 0))
            self.assertEqual(s["throttled"], 1 if t is a else 2)

    def test_a_private_global_throttle_needs_its_global_name(self):
        t = evthrottle.EventThrottler(WINDOW, redis=self.endpoint,
                                      global_name=self.global_name, timeout=2.0)
        self.addCleanup(t.close)
        b = self.host()
        self.assertTrue(t.should_process(5, None, "k"))
        self.assertFalse(b.should_process(5.5, None, "k"))
        with self.assertRaises(evthrottle.EvtError) as e:
            evthrottle.EventThrottler(WINDOW, redis=self.endpoint)
        self.assertEqual(e.exception.errno, 22)

    def test_bad_global_options_are_refused(self):
        with self.assertRaises(ValueError):
            self.create(WINDOW, global_name="x")  # no redis
        with self.assertRaises(ValueError):
            self.host(on_unreachable="sometimes")
        with self.assertRaises(ValueError):
            self.host(timeout=0)
        with self.assertRaises(evthrottle.EvtError):
            self.create(WINDOW, redis="no-port", global_name="x")
        name, _ = self.create(WINDOW)
        with self.assertRaises(ValueError):
            evthrottle.EventThrottler(name=name, redis=self.endpoint)  # the creator's

    def load_function(self):
        """Have a patient host load the Redis function, so that a host with a
        short timeout only connects on its first call."""
        self.assertTrue(self.host().should_process(0, None, "load"))

    def _unreachable(self, policy, answer):
        """Redis stopped (SIGSTOP): a new key's decision waits at most the timeout,
        then the policy answers, counted; the breaker answers the next at once."""
        self.load_function()
        t = self.host(timeout=0.2, on_unreachable=policy)
        self.assertTrue(t.should_process(1, None, "warm"))  # connected
        self.redis.send_signal(signal.SIGSTOP)
        start = time.monotonic()
        self.assertEqual(t.should_process(2, None, "new"), answer, policy)
        self.assertEqual(t.should_process(2, None, "newer"), answer, policy)
        elapsed = time.monotonic() - start
        # A bound on waiting (the timeout, 200 ms, once, and scheduling), not a
        # performance figure: without the timeout it would wait forever.
        self.assertLess(elapsed, 5, "waited %.3f s for a stopped Redis" % elapsed)
        s = t.stats()
        self.assertEqual(s["global_fallbacks"], 2)
        self.assertEqual(s["global_errors"], 1, "one failed round trip, then the breaker")
        self.redis.send_signal(signal.SIGCONT)

    def test_redis_down_answers_by_on_unreachable_throttle(self):
        self._unreachable("throttle", False)

    def test_redis_down_answers_by_on_unreachable_process(self):
        self._unreachable("process", True)

    def test_redis_down_answers_by_on_unreachable_local(self):
        self._unreachable("local", True)  # this host's table: new keys

    def _runs_without_the_gil(self, call):
        """call(t) on a global throttle whose Redis is stopped (SIGSTOP: the whole
        1 s timeout): it waits for Redis, and another Python thread runs meanwhile.
        Returns call's answer (or the exception it raised)."""
        self.load_function()
        t = self.host(timeout=1.0, on_unreachable="throttle")
        self.assertTrue(t.should_process(1, None, "warm"))
        self.redis.send_signal(signal.SIGSTOP)
        result = {}

        def run():
            result["enter"] = time.monotonic()
            try:
                result["answer"] = call(t)
            except evthrottle.EvtError as e:
                result["answer"] = e
            result["exit"] = time.monotonic()

        ticks = []
        th = threading.Thread(target=run)
        th.start()
        while th.is_alive():
            ticks.append(time.monotonic())
            time.sleep(0.01)
        th.join()
        self.redis.send_signal(signal.SIGCONT)
        self.assertGreater(result["exit"] - result["enter"], 0.9, "it waited for Redis")
        inside = [x for x in ticks if result["enter"] + 0.2 < x < result["exit"] - 0.2]
        self.assertTrue(inside, "no other thread ran during the round trip")
        return result["answer"]

    def test_a_round_trip_runs_without_the_gil(self):
        """While one thread's decision waits for Redis, another Python thread runs."""
        self.assertFalse(self._runs_without_the_gil(
            lambda t: t.should_process(2, None, "new")))

    def test_clear_key_runs_without_the_gil(self):
        """clear_key() on a global throttle is a round trip to Redis (up to the
        timeout, 10 s at most): like clear(), it must let other threads run."""
        self._runs_without_the_gil(lambda t: t.clear_key(b"k"))

    def test_update_window_runs_without_the_gil(self):
        """update_window() on a global throttle stores the window in Redis first (up
        to the timeout): other threads must run meanwhile."""
        self._runs_without_the_gil(lambda t: t.update_window(2.0))

if __name__ == "__main__":
    unittest.main()
