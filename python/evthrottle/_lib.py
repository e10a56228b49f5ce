"""Loading libevthrottle.so.1 and declaring every function's prototype.

The library is looked up, in order:

1. ``EVTHROTTLE_LIBRARY``: the path of the library to use (nothing else is tried);
2. the installed ``libevthrottle.so.1`` (the dynamic linker's search path, then
   ``ctypes.util.find_library('evthrottle')``);
3. the build tree: ``build/lib/libevthrottle.so`` under the repository this package
   sits in.

The library is loaded on first use, so ``evthrottle.config`` and
``evthrottle.logger`` import without it.
"""
import ctypes
import ctypes.util
import os
import threading

SONAME = "libevthrottle.so.1"
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_TREE_LIBRARY = os.path.join(_REPO, "build", "lib", "libevthrottle.so")

EVT_RDONLY = 0x1
ON_FULL = {"throttle": 0, "process": 1, "error": 2}


class Throttle(ctypes.Structure):
    """The opaque ``evt_throttle``."""


THROTTLE_P = ctypes.POINTER(Throttle)


class Options(ctypes.Structure):
    """``struct evt_options``."""
    _fields_ = [
        ("window_ns", ctypes.c_uint64),
        ("capacity", ctypes.c_uint32),
        ("key_max", ctypes.c_uint32),
        ("mode", ctypes.c_uint32),
        ("on_full", ctypes.c_uint32),
        ("client_max", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]

    @classmethod
    def init(cls):
        """``EVT_OPTIONS_INIT``."""
        return cls(window_ns=10_000_000_000, capacity=131072, key_max=32, mode=0o660,
                   on_full=ON_FULL["throttle"], client_max=256, reserved=0)


class Stats(ctypes.Structure):
    """``struct evt_stats``."""
    _fields_ = [
        ("window_ns", ctypes.c_uint64),
        ("processed", ctypes.c_uint64),
        ("throttled", ctypes.c_uint64),
        ("new_keys", ctypes.c_uint64),
        ("reclaimed", ctypes.c_uint64),
        ("cleared", ctypes.c_uint64),
        ("full", ctypes.c_uint64),
        ("keys", ctypes.c_uint64),
        ("horizon_ns", ctypes.c_uint64),
        ("capacity", ctypes.c_uint32),
        ("key_max", ctypes.c_uint32),
        ("clients", ctypes.c_uint32),
        ("client_max", ctypes.c_uint32),
        ("on_full", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


class Event(ctypes.Structure):
    """``struct evt_event``: one event of ``evt_should_process_batch``."""
    _fields_ = [
        ("ts_ns", ctypes.c_uint64),   # in
        ("key", ctypes.c_void_p),     # in: key_len bytes
        ("key_len", ctypes.c_size_t), # in
        ("result", ctypes.c_int),     # out: what evt_should_process() would return
        ("info", ctypes.c_uint),      # out: EVT_INFO_* bits
    ]


# EventThrottler.should_process_many fills an array of Event as 64-bit words, four
# per event (ts_ns, key, key_len, then result and info sharing the last one), with
# C-level strided copies instead of a ctypes attribute set per field.  That is the
# layout of every 64-bit ABI (LP64); elsewhere should_process_many is unavailable.
EVENT_WORDS = 4
EVENT_AS_WORDS = (ctypes.sizeof(Event) == 8 * EVENT_WORDS and
                  (Event.key.offset, Event.key_len.offset, Event.result.offset,
                   Event.info.offset) == (8, 16, 24, 28) and
                  ctypes.sizeof(ctypes.c_int) == 4)


# name: (restype, argtypes, holds_gil).  Calls that never block (no syscall, no lock:
# the decision, window, counters, clock) run with the GIL held, which costs less than
# releasing it around a call of some nanoseconds; so does a batch of decisions, whose
# caller builds its array under the GIL anyway.  The others (shm_open, mmap, a walk
# of the whole table) release it so other Python threads keep running.
_PROTOTYPES = {
    "evt_create": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(Options),
                                  ctypes.POINTER(THROTTLE_P)], False),
    "evt_attach": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint,
                                  ctypes.POINTER(THROTTLE_P)], False),
    "evt_close": (None, [THROTTLE_P], False),
    "evt_unlink": (ctypes.c_int, [ctypes.c_char_p], False),
    "evt_is_current": (ctypes.c_int, [THROTTLE_P], False),
    "evt_should_process": (ctypes.c_int, [THROTTLE_P, ctypes.c_uint64, ctypes.c_char_p,
                                          ctypes.c_char_p, ctypes.c_size_t], True),
    "evt_should_process_ex": (ctypes.c_int, [THROTTLE_P, ctypes.c_uint64,
                                             ctypes.c_char_p, ctypes.c_char_p,
                                             ctypes.c_size_t,
                                             ctypes.POINTER(ctypes.c_uint)], True),
    "evt_should_process_batch": (ctypes.c_int, [THROTTLE_P, ctypes.POINTER(Event),
                                                ctypes.c_size_t], True),
    "evt_update_window": (ctypes.c_int, [THROTTLE_P, ctypes.c_uint64], True),
    "evt_get_window": (ctypes.c_uint64, [THROTTLE_P], True),
    "evt_clear": (ctypes.c_int, [THROTTLE_P], False),
    "evt_clear_key": (ctypes.c_int, [THROTTLE_P, ctypes.c_char_p, ctypes.c_size_t], True),
    "evt_key_count": (ctypes.c_size_t, [THROTTLE_P], True),
    "evt_stats_get": (ctypes.c_int, [THROTTLE_P, ctypes.POINTER(Stats)], True),
    "evt_now_ns": (ctypes.c_uint64, [], True),
    "evt_strerror": (ctypes.c_char_p, [ctypes.c_int], True),
}


class Library:
    """The loaded library: one attribute per function, prototypes declared."""

    def __init__(self, path):
        self.path = path
        released = ctypes.CDLL(path, use_errno=False)  # releases the GIL per call
        held = ctypes.PyDLL(path)                      # keeps it
        for name, (restype, argtypes, holds_gil) in _PROTOTYPES.items():
            fn = getattr(held if holds_gil else released, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def strerror(self, err):
        return self.evt_strerror(err).decode("utf-8", "replace")


_lock = threading.Lock()
_library = None


def _candidates():
    yield SONAME
    found = ctypes.util.find_library("evthrottle")
    if found and found != SONAME and found.endswith(".so.1"):
        yield found
    yield BUILD_TREE_LIBRARY


def load():
    """The library, loaded on the first call (see the module's docstring)."""
    global _library
    if _library is not None:
        return _library
    with _lock:
        if _library is None:
            path = os.environ.get("EVTHROTTLE_LIBRARY")
            if path:
                try:
                    _library = Library(path)
                except OSError as e:
                    raise OSError("cannot load libevthrottle from EVTHROTTLE_LIBRARY=%s: %s"
                                  % (path, e)) from None
            else:
                tried = []
                for path in _candidates():
                    try:
                        _library = Library(path)
                        break
                    except OSError as e:
                        tried.append("%s (%s)" % (path, e))
                else:
                    raise OSError("libevthrottle not found; install it, build it "
                                  "(meson setup build && ninja -C build) or set "
                                  "EVTHROTTLE_LIBRARY to its path. Tried: "
                                  + "; ".join(tried))
    return _library
