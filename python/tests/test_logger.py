"""config.py and setup_logger(): the seed's logging, on the logging module."""
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

import support
import evthrottle
from evthrottle import config
from evthrottle.logger import setup_logger


class ConfigTests(unittest.TestCase):
    def test_seed_defaults(self):
        self.assertEqual(config.DEFAULT_WINDOW, 10)
        self.assertEqual(config.LOG_LEVEL, logging.INFO)
        self.assertIs(config.LOG_TO_CONSOLE, True)
        self.assertIs(config.LOG_TO_FILE, False)
        self.assertEqual(config.LOG_DIRECTORY, "logs")

    def test_default_window_from_config(self):
        with mock.patch.object(config, "DEFAULT_WINDOW", 3):
            with evthrottle.EventThrottler() as t:
                self.assertEqual(t.get_window(), 3)


class SetupLoggerTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="evthrottle-logs.")
        self.name = "evthrottle.test.%d.%s" % (os.getpid(), self._testMethodName)

    def tearDown(self):
        logger = logging.getLogger(self.name)
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
        shutil.rmtree(self.dir)

    def test_file_handler_creates_directory(self):
        logdir = os.path.join(self.dir, "nested", "logs")
        with mock.patch.object(config, "LOG_DIRECTORY", logdir):
            logger = setup_logger(self.name, logging.DEBUG, log_to_console=False,
                                  log_to_file=True, log_file="my_module.log")
        logger.debug("detailed %s", "debug")
        logger.info("general information")
        for h in logger.handlers:
            h.flush()
        with open(os.path.join(logdir, "my_module.log"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r" - %s - DEBUG - detailed debug$" % self.name)
        self.assertTrue(lines[1].endswith(" - INFO - general information"))
        self.assertFalse(logger.propagate)

    def test_default_file_name_and_config(self):
        with mock.patch.multiple(config, LOG_DIRECTORY=self.dir, LOG_TO_FILE=True,
                                 LOG_TO_CONSOLE=False, LOG_LEVEL=logging.WARNING):
            logger = setup_logger(self.name)
        self.assertEqual(logger.level, logging.WARNING)
        self.assertEqual(len(logger.handlers), 1)
        self.assertIsInstance(logger.handlers[0], logging.FileHandler)
        self.assertEqual(logger.handlers[0].baseFilename,
                         os.path.join(self.dir, self.name + ".log"))

    def test_console_and_reconfigure(self):
        err = io.StringIO()
        with mock.patch.object(sys, "stderr", err):
            logger = setup_logger(self.name, logging.INFO, log_to_console=True,
                                  log_to_file=False)
            logger.info("to the console")
        self.assertIn(" - INFO - to the console", err.getvalue())
        foreign = logging.NullHandler()
        logger.addHandler(foreign)
        setup_logger(self.name, logging.INFO, log_to_console=True, log_to_file=False)
        self.assertEqual(len(logger.handlers), 2)  # ours replaced, the foreign one kept
        setup_logger(self.name, logging.INFO, log_to_console=False, log_to_file=False)
        self.assertEqual(logger.handlers, [foreign])
        self.assertTrue(logger.propagate)  # to the application's own configuration

    def run_python(self, code):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                             capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout, "")
        return run.stderr

    def test_library_prints_nothing_by_default(self):
        """A fresh interpreter that configures no logging: no output at all (the
        package's logger has a NullHandler and no handler that prints)."""
        err = self.run_python("""
            import logging, evthrottle
            logger = logging.getLogger("evthrottle")
            assert logger.propagate
            assert [type(h) for h in logger.handlers] == [logging.NullHandler]
            t = evthrottle.EventThrottler(10)
            t.update_window(20)
            t.clear()
            logging.getLogger("other").warning("unrelated")  # Python's last resort
        """)
        self.assertEqual(err, "unrelated\n")

    def test_records_propagate_to_the_application(self):
        err = self.run_python("""
            import logging, evthrottle
            logging.basicConfig(level=logging.INFO, format="%(name)s:%(message)s")
            t = evthrottle.EventThrottler(10)
            t.update_window(20)
            t.clear()
        """)
        self.assertEqual(err, "evthrottle:Window updated from 10 to 20 seconds\n"
                              "evthrottle:Cleared all keys\n")

    def test_seed_setup_logger_prints_to_console(self):
        err = self.run_python("""
            import evthrottle
            evthrottle.setup_logger("evthrottle")   # config: INFO, to the console
            t = evthrottle.EventThrottler(10)
            t.update_window(20)
            t.clear()
        """)
        self.assertRegex(err, r"^.* - evthrottle - INFO - Window updated from 10 to 20 "
                              r"seconds\n.* - evthrottle - INFO - Cleared all keys\n$")


class ExtensionTests(unittest.TestCase):
    def test_suite_runs_the_built_extension(self):
        """Under meson test, the extension is the build tree's, beside the source
        package; and nothing uses ctypes any more."""
        from evthrottle import _evthrottle
        build = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
        if os.environ.get("EVT_KEY_CLIENT"):  # run by meson test
            self.assertTrue(_evthrottle.__file__.startswith(
                os.path.join(build, "evthrottle", "_evthrottle.")), _evthrottle.__file__)
        self.assertTrue(evthrottle.__file__.startswith(support.PYTHON_DIR))
        self.assertTrue(issubclass(evthrottle.EventThrottler, _evthrottle.Throttle))
        self.assertFalse(os.path.exists(os.path.join(support.PYTHON_DIR, "evthrottle",
                                                     "_lib.py")))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        run = subprocess.run([sys.executable, "-c", "import sys, evthrottle; "
                              "evthrottle.EventThrottler(1).should_process(1, None, 1); "
                              "print('ctypes' in sys.modules)"],
                             capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(run.stdout, "False\n", run.stderr)

    def test_library_path(self):
        path = evthrottle.library_path()
        self.assertTrue(os.path.isfile(path), path)
        self.assertRegex(os.path.basename(path), r"^libevthrottle\.so\.1$|^_evthrottle\.")

    def test_stubs_cover_the_api(self):
        """__init__.pyi declares, with a docstring, every public name of the package
        and every public method of EventThrottler."""
        import ast
        path = os.path.join(os.path.dirname(evthrottle.__file__), "__init__.pyi")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        declared = {n.name: n for n in tree.body
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for name in set(evthrottle.__all__) - {"config", "DEFAULT_WINDOW",
                                                "PRIVATE_KEY_MAX", "LIMIT_MAX"}:
            with self.subTest(name=name):
                self.assertIn(name, declared)
                self.assertTrue(ast.get_docstring(declared[name]))
        methods = {n.name: n for n in declared["EventThrottler"].body
                   if isinstance(n, ast.FunctionDef)}
        public = {m for m in dir(evthrottle.EventThrottler) if not m.startswith("_")}
        self.assertEqual(public - set(methods), set())
        for m in public:
            self.assertTrue(ast.get_docstring(methods[m]), m)
            self.assertTrue(getattr(evthrottle.EventThrottler, m).__doc__, m)

    def test_subinterpreter(self):
        """The module imports and decides in a subinterpreter (per-module state),
        silently (decimal, whose import warns there, is imported only for a Fraction
        or Decimal timestamp)."""
        inner = ("import os, sys, evthrottle\n"
                 "t = evthrottle.EventThrottler(10)\n"
                 "answers = [t.should_process(1, None, 7), t.should_process(2, None, 7)]\n"
                 "os.write(W, repr((answers, 'decimal' in sys.modules)).encode())\n"
                 "t.close()\n")
        code = ("import os, _xxsubinterpreters as si, evthrottle\n"
                "r, w = os.pipe()\n"
                "i = si.create()\n"
                "si.run_string(i, %r.replace('W', str(w)))\n"
                "si.destroy(i)\n"
                "print(os.read(r, 200).decode())\n"
                "print(evthrottle.EventThrottler(10).should_process(1, None, 7))\n" % inner)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        run = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, timeout=60, env=env)
        self.assertEqual((run.stdout, run.stderr), ("([True, False], False)\nTrue\n", ""))

    def test_module_state_per_module_object(self):
        """Multi-phase init: a second module object made from the same file has its
        own state and type, and both work (no global state is shared)."""
        import importlib.util
        from evthrottle import _evthrottle
        spec = importlib.util.spec_from_file_location("evthrottle._evthrottle",
                                                      _evthrottle.__file__)
        again = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(again)
        self.assertIsNot(again, _evthrottle)
        self.assertIsNot(again.Throttle, _evthrottle.Throttle)
        t = again.Throttle(window=10)
        self.assertTrue(t.should_process(1, None, "a"))
        self.assertFalse(t.should_process(2, None, b"a"))
        with self.assertRaises(evthrottle.EvtError):
            t.should_process(3, None, "")
        t.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            t.should_process(4, None, "a")


if __name__ == "__main__":
    unittest.main()
