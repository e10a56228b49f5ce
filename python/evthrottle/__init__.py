"""evthrottle: a per-key event throttle shared by the processes of one host.

The seed's ``EventThrottler`` over libevthrottle (through ctypes, standard library
only).  For each key, only the first event within a window is processed::

    from evthrottle import EventThrottler

    throttler = EventThrottler(window=10)            # private, like the seed's class
    throttler.should_process(1, "e1", "userA")       # True
    throttler.should_process(5, "e2", "userA")       # False

    shared = EventThrottler(name="orders")           # evthrottled's throttle 'orders'
    shared.should_process(evthrottle.now(), None, "userA")

See ``EventThrottler`` for the details and ``python/README.md`` for more.
"""
from . import config
from ._lib import load as _load
from .config import DEFAULT_WINDOW
from .errors import EvtError
from .logger import setup_logger
from .throttler import EventThrottler, now, now_ns, strerror, unlink

__all__ = ["EventThrottler", "EvtError", "DEFAULT_WINDOW", "config", "library_path",
           "now", "now_ns", "setup_logger", "strerror", "unlink"]


def library_path():
    """The path (or soname) of the libevthrottle this package loaded."""
    return _load().path
