"""Several processes on one throttle: forked Python children (multiprocessing, fork
start method), separate Python interpreters, the C example binary, the C key client
(python/tests/key_client.c), and a child that uses the C API through bare ctypes."""
import multiprocessing
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import support
import evthrottle
from evthrottle import EventThrottler

fork = multiprocessing.get_context("fork")


def decide_all(t, ts, nkeys, out):
    """Child: offer keys user0.. at ts, report how many were processed."""
    out.put(sum(t.should_process(ts, None, "user%d" % k) for k in range(nkeys)))


def attach_and_decide(name, ts, nkeys, out):
    with EventThrottler(name=name) as t:
        decide_all(t, ts, nkeys, out)


def attach_and_change(name, out):
    with EventThrottler(name=name) as t:
        t.update_window(2.5)
        t.clear()
        out.put(t.get_key_count())


def run_children(target, args_list):
    out = fork.Queue()
    procs = [fork.Process(target=target, args=args + (out,)) for args in args_list]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    return results, [p.exitcode for p in procs]


class ReplacedRegionTests(support.NamedThrottleTest):
    def test_is_current_until_removed_or_replaced(self):
        name, t = self.create()
        self.assertTrue(t.is_current())
        evthrottle.unlink(name)
        self.assertFalse(t.is_current())
        with EventThrottler(10, name, create=True) as v:
            self.assertFalse(t.is_current())
            self.assertTrue(v.is_current())
        with EventThrottler(window=10) as p, self.assertRaises(evthrottle.EvtError):
            p.is_current()


class ForkedPythonTests(support.NamedThrottleTest):
    def test_private_throttle_shared_with_forked_children(self):
        with EventThrottler(window=10) as t:
            self.assertTrue(t.should_process(1, None, "user0"))  # before the fork
            results, codes = run_children(decide_all, [(t, 1, 1000)] * 4)
            self.assertEqual(codes, [0] * 4)
            self.assertEqual(sum(results), 999)  # user0 was the parent's
            self.assertEqual(t.get_key_count(), 1000)
            self.assertFalse(t.should_process(5, None, "user999"))
            self.assertTrue(t.should_process(11, None, "user999"))
            self.assertEqual(t.stats()["clients"], 1)  # the children did not close it

    def test_named_throttle_children_attach(self):
        name, t = self.create(window=10, tag="mp")
        results, codes = run_children(attach_and_decide, [(name, 1, 500)] * 4)
        self.assertEqual(codes, [0] * 4)
        self.assertEqual(sum(results), 500)  # each key once, whoever was first
        self.assertEqual(t.get_key_count(), 500)
        self.assertFalse(t.should_process(2, None, "user7"))
        s = t.stats()
        self.assertEqual((s["processed"], s["throttled"]), (500, 1501))
        self.assertEqual(s["clients"], 1)  # the children detached

    def test_window_and_clear_from_another_process(self):
        name, t = self.create(window=10, tag="mpw")
        for k in range(10):
            t.should_process(1, None, "user%d" % k)
        results, codes = run_children(attach_and_change, [(name,)])
        self.assertEqual((results, codes), ([0], [0]))
        self.assertEqual(t.get_window(), 2.5)
        self.assertEqual(t.get_key_count(), 0)
        self.assertTrue(t.should_process(2, None, "user3"))
        self.assertFalse(t.should_process(4.4, None, "user3"))
        self.assertTrue(t.should_process(4.5, None, "user3"))

    def test_two_handles_in_one_process(self):
        name, t = self.create(window=10, tag="two")
        other = self.attach(name)
        ro = self.attach(name, readonly=True)
        self.assertTrue(t.should_process(1, None, "k"))
        self.assertFalse(other.should_process(2, None, "k"))
        self.assertEqual(ro.get_key_count(), 1)
        self.assertEqual(ro.stats()["clients"], 2)  # read-only handles take no slot
        other.update_window(60)
        self.assertEqual(ro.get_window(), 60)

    def test_forked_child_closing_an_inherited_handle(self):
        """close() in a forked child drops its copy only: the parent's client slot
        stays taken (a child attaches its own handle to work on a named throttle)."""
        name, t = self.create(window=10, tag="inh")

        def child(out):
            t.close()
            with EventThrottler(name=name) as mine:
                out.put(int(mine.should_process(1, None, "k")))

        results, codes = run_children(child, [()])
        self.assertEqual((results, codes), ([1], [0]))
        self.assertEqual(t.stats()["clients"], 1)
        self.assertFalse(t.closed)
        self.assertFalse(t.should_process(2, None, "k"))


class CClientTests(support.NamedThrottleTest):
    def test_c_example_and_python_share_a_throttle(self):
        """Python processes user0..user49 first; the C example's 4 processes then
        offer 1000 events each for user0..user99 and process only user50..user99;
        afterwards every user is throttled for Python too."""
        name, t = self.create(window=60, tag="c")
        start = evthrottle.now()
        for k in range(50):
            self.assertTrue(t.should_process(start, None, "user%d" % k))

        run = subprocess.run([support.usage_example(), name], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        answers = re.findall(r"-> (\w+)", run.stdout)
        self.assertEqual(answers, ["True", "False", "True", "True", "False"])  # seed's
        self.assertIn("4 processes share throttle '%s' (window 60.000 s)" % name, run.stdout)
        per_process = [int(n) for n in re.findall(r"processed (\d+) of 1000", run.stdout)]
        self.assertEqual(len(per_process), 4)
        self.assertEqual(sum(per_process), 50)
        self.assertIn("together: 50 processed", run.stdout)

        now = evthrottle.now()
        for k in range(100):
            self.assertFalse(t.should_process(now, None, "user%d" % k), k)
        self.assertTrue(t.should_process(now, None, "user100"))
        s = t.stats()
        self.assertEqual(s["processed"], 50 + 50 + 1)
        self.assertEqual(s["throttled"], 4000 - 50 + 100)
        self.assertEqual(s["keys"], 101)

    def test_two_python_processes_and_a_c_process(self):
        """Two fresh Python interpreters and the C key client on one throttle, with
        int, bytes and str keys: an int key is its int64 bytes from either side."""
        name, t = self.create(window=60, tag="3p")
        child = textwrap.dedent("""
            import sys, evthrottle
            keys = [int(k) if k.lstrip("-").isdigit() else k for k in sys.argv[3:]]
            with evthrottle.EventThrottler(name=sys.argv[1]) as t:
                print(" ".join(str(int(t.should_process(float(sys.argv[2]), None, k)))
                               for k in keys))
        """)

        def python(ts, *keys):
            run = subprocess.run([sys.executable, "-c", child, name, str(ts)] + list(keys),
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 0, run.stderr)
            return run.stdout.split()

        def c(ts, *keys):
            run = subprocess.run([support.key_client(), name, str(ts * 10**9)] + list(keys),
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 0, run.stderr)
            return run.stdout.split()

        hex_of = lambda n: "hex:" + struct.pack("=q", n).hex()
        self.assertEqual(python(1, "1001", "-7", "acct-1"), ["1", "1", "1"])
        self.assertEqual(python(2, "1001", "1002", "acct-1"), ["0", "1", "0"])
        self.assertEqual(c(3, "int:1001", "int:-7", "int:1002", "str:acct-1", "int:1003"),
                         ["0", "0", "0", "0", "1"])
        self.assertEqual(c(4, hex_of(1001), hex_of(1003), hex_of(1004)), ["0", "0", "1"])
        self.assertEqual(python(5, "1003", "1004", "1005"), ["0", "0", "1"])
        self.assertFalse(t.should_process(6, None, struct.pack("=q", 1005)))
        self.assertEqual(t.get_key_count(), 7)  # 1001..1005, -7, acct-1
        self.assertEqual(python(62, "1001"), ["1"])   # a window later
        self.assertEqual(c(63, "int:1001", "int:1002"), ["0", "1"])

    def test_bare_ctypes_child(self):
        """A child that knows nothing of the package: ctypes on the library alone."""
        name, t = self.create(window=10, tag="raw")
        self.assertTrue(t.should_process(1, None, "from-python"))
        child = textwrap.dedent("""
            import ctypes, sys
            lib = ctypes.CDLL(sys.argv[1])
            lib.evt_attach.argtypes = [ctypes.c_char_p, ctypes.c_uint,
                                       ctypes.POINTER(ctypes.c_void_p)]
            lib.evt_should_process.argtypes = [ctypes.c_void_p, ctypes.c_uint64,
                                               ctypes.c_char_p, ctypes.c_void_p,
                                               ctypes.c_size_t]
            lib.evt_close.argtypes = [ctypes.c_void_p]
            lib.evt_close.restype = None
            h = ctypes.c_void_p()
            assert lib.evt_attach(sys.argv[2].encode(), 0, ctypes.byref(h)) == 0
            s = 1000000000
            print(lib.evt_should_process(h, 5 * s, None, b"from-python", 11),
                  lib.evt_should_process(h, 5 * s, b"id", b"from-c", 6),
                  lib.evt_should_process(h, 6 * s, None, b"from-c", 6))
            lib.evt_close(h)
        """)
        run = subprocess.run([sys.executable, "-c", child, evthrottle.library_path(), name],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.split(), ["0", "1", "0"])
        self.assertFalse(t.should_process(14.9, None, "from-c"))
        self.assertTrue(t.should_process(15, None, "from-c"))

    def run_python_example(self, *args):
        example = os.path.join(support.REPO, "examples", "usage_example.py")
        env = dict(os.environ, EVT_USAGE_EXAMPLE=support.usage_example())
        run = subprocess.run([sys.executable, example] + list(args), capture_output=True,
                             text=True, timeout=120, env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.splitlines()
        self.assertEqual(lines[:6], ["seed example (window 10 s):",
                                     "True", "False", "True", "True", "False"])
        self.assertIn("Python processed 10 of user90..user99 first", lines)
        self.assertIn("together: 90 processed", run.stdout)
        for key, answer in (("user7", False), ("user42", False), ("user95", False),
                            ("user100", True)):
            self.assertRegex(run.stdout, r"'%s' *\) -> %s " % (key, answer))
        self.assertRegex(run.stdout, r"\n +processed +101\n +throttled +3913\n")
        return run.stdout

    def test_python_example(self):
        out = self.run_python_example()
        name = re.search(r"share throttle '([^']+)'", out).group(1)
        with self.assertRaises(FileNotFoundError):  # the example removed its throttle
            EventThrottler(name=name)

    def test_python_example_on_a_given_throttle(self):
        name, t = self.create(window=10, tag="ex")
        self.run_python_example(name)
        self.assertEqual(t.get_key_count(), 101)


class DaemonTests(support.NamedThrottleTest):
    def test_attach_to_the_daemons_throttle(self):
        """evthrottled creates the throttle from its config; Python attaches by name,
        decides, sees the configured window, and keeps working after the daemon
        stops."""
        name = self.new_name("daemon")
        workdir = tempfile.TemporaryDirectory(prefix="evthrottle-daemon.")
        self.addCleanup(workdir.cleanup)
        conf = os.path.join(workdir.name, "evthrottled.conf")
        with open(conf, "w") as f:
            f.write('log = { level = "info"; console = true; file = false; };\n'
                    'daemon = { housekeeping = "50ms"; summary = "0s"; run_dir = "%s"; user = "root"; };\n'
                    'throttles = ( { name = "%s"; window = "250ms"; capacity = 1024; '
                    'key_max = 16; on_full = "process"; } );\n' % (workdir.name, name))
        with open(os.path.join(workdir.name, "daemon.log"), "w+") as log:
            daemon = subprocess.Popen([support.evthrottled(), "-c", conf, "-f"],
                                      stdout=log, stderr=subprocess.STDOUT,
                                      cwd=workdir.name)
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        t = self.attach(name)
                        break
                    except (FileNotFoundError, BlockingIOError):  # ENOENT, EAGAIN
                        self.assertIsNone(daemon.poll(), "daemon exited")
                        self.assertLess(time.monotonic(), deadline, "daemon did not come up")
                        time.sleep(0.02)
                self.assertEqual(t.get_window(), 0.25)
                s = t.stats()
                self.assertEqual((s["capacity"], s["key_max"], s["on_full"]), (1024, 16, 1))
                now = evthrottle.now()
                self.assertTrue(t.should_process(now, None, "acct-1"))
                self.assertFalse(t.should_process(now + 0.1, None, "acct-1"))
            finally:
                daemon.send_signal(signal.SIGTERM)
                code = daemon.wait(30)
            log.seek(0)
            output = log.read()
            self.assertEqual(code, 0, output)
            self.assertIn("throttle '%s': created" % name, output)
        # The daemon is gone; the region and its state stay (it is not unlinked).
        self.assertFalse(t.should_process(now + 0.2, None, "acct-1"))
        self.assertTrue(t.should_process(now + 0.25, None, "acct-1"))
        self.assertEqual(t.get_key_count(), 1)


if __name__ == "__main__":
    unittest.main()
