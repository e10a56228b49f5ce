"""evthrottle: a per-key event throttle shared by the processes of one host.

The seed's ``EventThrottler`` over libevthrottle, through the C extension
``evthrottle._evthrottle``.  For each key, only the first event within a window is
processed::

    from evthrottle import EventThrottler

    throttler = EventThrottler(window=10)            # private, like the seed's class
    throttler.should_process(1, "e1", "userA")       # True
    throttler.should_process(5, "e2", "userA")       # False

    shared = EventThrottler(name="orders")           # evthrottled's throttle 'orders'
    shared.should_process(evthrottle.now(), None, "userA")

The package logs to the ``evthrottle`` logger, which has only a NullHandler: nothing
is printed unless the application configures logging (or calls
:func:`setup_logger`).  See ``EventThrottler`` and ``python/README.md``.
"""
import logging
import os
import pkgutil

# In a build tree the extension is in the build directory's evthrottle/, beside this
# source package (PYTHONPATH=build/python:python): take both as the package's path.
# Run from a checkout without that (python3 examples/usage_example.py): the build
# directory build/ of the repository holding this package.
__path__ = pkgutil.extend_path(__path__, __name__)
_BUILD_TREE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "python", "evthrottle")
if os.path.isdir(_BUILD_TREE) and _BUILD_TREE not in __path__:
    __path__.append(_BUILD_TREE)

logging.getLogger(__name__).addHandler(logging.NullHandler())

from . import config  # noqa: E402
from .config import DEFAULT_WINDOW  # noqa: E402
from .errors import EvtError  # noqa: E402
from .logger import setup_logger  # noqa: E402
from .throttler import (LIMIT_MAX, PRIVATE_KEY_MAX, EventThrottler,  # noqa: E402
                        library_path, now, now_ns, realtime, realtime_ns, strerror, unlink)

__all__ = ["EventThrottler", "EvtError", "DEFAULT_WINDOW", "PRIVATE_KEY_MAX", "LIMIT_MAX",
           "config",
           "library_path", "now", "now_ns", "realtime", "realtime_ns", "setup_logger", "strerror", "unlink"]
