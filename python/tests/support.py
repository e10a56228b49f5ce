"""Shared by the test modules: the package on sys.path, unique throttle names that are
unlinked after each test, and the paths of the C binaries the tests run."""
import contextlib
import itertools
import os
import sys
import unittest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(PYTHON_DIR)
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

import evthrottle  # noqa: E402

_serial = itertools.count()


def unique_name(tag):
    """A throttle name no other test (or test run) uses: pid, tag and a counter."""
    return "pytest.%d.%s.%d" % (os.getpid(), tag, next(_serial))


def usage_example():
    """The C example binary: EVT_USAGE_EXAMPLE (set by meson test), else the build
    tree's build/examples/usage_example."""
    path = os.environ.get("EVT_USAGE_EXAMPLE") or os.path.join(
        REPO, "build", "examples", "usage_example")
    if not os.access(path, os.X_OK):
        raise AssertionError("C example binary %s not found: build the project or set "
                             "EVT_USAGE_EXAMPLE" % path)
    return os.path.abspath(path)


def key_client():
    """python/tests/key_client.c: EVT_KEY_CLIENT (set by meson test), else the build
    tree's build/python/tests/key_client."""
    path = os.environ.get("EVT_KEY_CLIENT") or os.path.join(REPO, "build", "python",
                                                            "tests", "key_client")
    if not os.access(path, os.X_OK):
        raise AssertionError("C key client %s not found: build the project or set "
                             "EVT_KEY_CLIENT" % path)
    return os.path.abspath(path)


def evthrottled():
    """The daemon binary: EVTHROTTLED (set by meson test), else the build tree's."""
    path = os.environ.get("EVTHROTTLED") or os.path.join(REPO, "build", "daemon",
                                                         "evthrottled")
    if not os.access(path, os.X_OK):
        raise AssertionError("daemon binary %s not found: build the project or set "
                             "EVTHROTTLED" % path)
    return os.path.abspath(path)


class NamedThrottleTest(unittest.TestCase):
    """Makes named throttles for a test and unlinks them in tearDown."""

    def setUp(self):
        self._names = []
        self._open = []

    def tearDown(self):
        for t in self._open:
            t.close()
        for name in self._names:
            with contextlib.suppress(FileNotFoundError):
                evthrottle.unlink(name)

    def new_name(self, tag="t"):
        name = unique_name(tag)
        self._names.append(name)
        return name

    def create(self, window=10, tag="t", **kw):
        """A new named throttle; returns (name, read-write EventThrottler)."""
        name = self.new_name(tag)
        t = evthrottle.EventThrottler(window, name, create=True, **kw)
        self._open.append(t)
        return name, t

    def attach(self, name, **kw):
        t = evthrottle.EventThrottler(name=name, **kw)
        self._open.append(t)
        return t
