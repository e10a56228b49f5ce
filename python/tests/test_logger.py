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

    def test_library_logs_by_default_to_console(self):
        """A fresh interpreter with config untouched: window changes reach stderr."""
        code = textwrap.dedent("""
            import evthrottle
            t = evthrottle.EventThrottler(10)
            t.update_window(20)
            t.clear()
        """)
        env = dict(os.environ, PYTHONPATH=support.PYTHON_DIR)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, timeout=60, env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout, "")
        self.assertRegex(run.stderr, r"evthrottle - INFO - Window updated from 10 to 20 "
                                     r"seconds\n.*evthrottle - INFO - Cleared all keys\n")


class LibraryLoadingTests(unittest.TestCase):
    def run_python(self, code, **env_changes):
        env = dict(os.environ, PYTHONPATH=support.PYTHON_DIR)
        for k, v in env_changes.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return subprocess.run([sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=60, env=env)

    def test_library_from_environment(self):
        path = os.environ.get("EVTHROTTLE_LIBRARY")
        if path:
            self.assertEqual(evthrottle.library_path(), path)
        run = self.run_python("import evthrottle; print(evthrottle.library_path())",
                              EVTHROTTLE_LIBRARY=evthrottle.library_path())
        self.assertEqual(run.stdout.strip(), evthrottle.library_path(), run.stderr)

    def test_bad_library_path(self):
        run = self.run_python("import evthrottle.config\n"  # imports without the library
                              "import evthrottle; evthrottle.now()",
                              EVTHROTTLE_LIBRARY="/nonexistent/libevthrottle.so")
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("cannot load libevthrottle from EVTHROTTLE_LIBRARY="
                      "/nonexistent/libevthrottle.so", run.stderr)

    def test_build_tree_fallback(self):
        """Without EVTHROTTLE_LIBRARY: the installed libevthrottle.so.1 if the dynamic
        linker has one, else build/lib/libevthrottle.so beside the package."""
        tree = tempfile.mkdtemp(prefix="evthrottle-tree.")
        self.addCleanup(shutil.rmtree, tree)
        shutil.copytree(os.path.join(support.PYTHON_DIR, "evthrottle"),
                        os.path.join(tree, "python", "evthrottle"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.makedirs(os.path.join(tree, "build", "lib"))
        built = os.path.join(tree, "build", "lib", "libevthrottle.so")
        os.symlink(os.path.realpath(evthrottle.library_path()), built)
        code = textwrap.dedent("""
            import ctypes, evthrottle
            try:
                ctypes.CDLL("libevthrottle.so.1")
                installed = True
            except OSError:
                installed = False
            print(installed, evthrottle.library_path(), evthrottle.now_ns() > 0)
        """)
        run = self.run_python(code, EVTHROTTLE_LIBRARY=None, LD_LIBRARY_PATH=None,
                              PYTHONPATH=os.path.join(tree, "python"))
        self.assertEqual(run.returncode, 0, run.stderr)
        installed, path, ok = run.stdout.split()
        self.assertEqual(path, "libevthrottle.so.1" if installed == "True" else built)
        self.assertEqual(ok, "True")


if __name__ == "__main__":
    unittest.main()
