"""EventThrottler: the seed's class over libevthrottle."""
import ctypes
import decimal
import errno
import fractions
import itertools
import logging
import numbers
import os
import weakref
from array import array

from . import _lib, config
from .errors import error_class
from .logger import get_logger

NS_PER_S = 1_000_000_000
U64_MAX = 2**64 - 1
_MAX_INT_SECONDS = U64_MAX // NS_PER_S
_TWO_64 = 2.0**64

LOGGER_NAME = "evthrottle"


def seconds_to_ns(value, what="timestamp"):
    """Seconds (int, float, Fraction or Decimal) as uint64 nanoseconds, rounded to the
    nearest nanosecond.  ValueError for a negative, NaN, infinite or too large value;
    TypeError for anything that is not a real number."""
    if isinstance(value, int):
        if 0 <= value <= _MAX_INT_SECONDS:
            return value * NS_PER_S
        ns = value * NS_PER_S
    elif isinstance(value, float):
        if not value >= 0:  # also NaN
            raise ValueError("%s must be a non-negative number of seconds, got %r"
                             % (what, value))
        if value * 1e9 >= 2.0**64:
            raise ValueError("%s out of range (at most %d ns), got %r"
                             % (what, U64_MAX, value))
        return round(value * 1e9)
    elif isinstance(value, (numbers.Real, decimal.Decimal)):
        try:
            ns = round(fractions.Fraction(value) * NS_PER_S)
        except (ValueError, OverflowError):  # NaN, infinity
            raise ValueError("%s must be a finite number of seconds, got %r"
                             % (what, value)) from None
    else:
        raise TypeError("%s must be a number of seconds (int or float), not %s"
                        % (what, type(value).__name__))
    if value < 0:
        raise ValueError("%s must be a non-negative number of seconds, got %r"
                         % (what, value))
    if ns > U64_MAX:
        raise ValueError("%s out of range (at most %d ns), got %r" % (what, U64_MAX, value))
    return ns


def ns_to_seconds(ns):
    """Nanoseconds as seconds: an int when whole, else a float."""
    whole, rest = divmod(ns, NS_PER_S)
    return whole if rest == 0 else ns / NS_PER_S


def _window_ns(window):
    ns = seconds_to_ns(window, "window")
    if ns == 0:
        raise ValueError("window must be > 0 seconds (at least 1 ns), got %r" % (window,))
    return ns


def key_bytes(key):
    """A key as bytes: str is UTF-8 encoded, bytes-like is taken as is."""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise TypeError("key must be str or bytes, not %s" % type(key).__name__)


def _name_bytes(name):
    if not isinstance(name, str):
        raise TypeError("throttle name must be str, not %s" % type(name).__name__)
    return name.encode("utf-8")


def raise_error(rc, name=None):
    """Raise the EvtError for the library's negative errno ``rc``."""
    err = -rc
    message = _lib.load().strerror(err)
    if name is None:
        raise error_class(err)(err, message)
    raise error_class(err)(err, message, name)


def _event_error(rc, index, answers=None):
    """The EvtError of raise_error(rc), for the event at ``index`` of a
    should_process_many burst, with the burst's answers once it was decided."""
    err = -rc
    e = error_class(err)(err, _lib.load().strerror(err))
    e.index = index
    e.answers = answers
    return e


def now_ns():
    """``evt_now_ns()``: CLOCK_MONOTONIC in nanoseconds, the clock every process of
    the host shares."""
    return _lib.load().evt_now_ns()


def now():
    """``evt_now_ns() / 1e9``: the shared clock in seconds, for ``should_process``."""
    return _lib.load().evt_now_ns() / 1e9


def unlink(name):
    """Remove the named throttle (``evt_unlink``).  Processes that have it open keep
    their mapping.  FileNotFoundError if there is none of that name."""
    rc = _lib.load().evt_unlink(_name_bytes(name))
    if rc < 0:
        raise_error(rc, name)


def strerror(err):
    """The library's message for an errno (``evt_strerror``; sign ignored)."""
    return _lib.load().strerror(err)


def _release(lib, handle, pid):
    # A forked child holds a copy of its parent's handle: closing it there would free
    # the parent's client slot, so the child only drops it (its copy of the mapping
    # goes with the process).
    if os.getpid() == pid:
        lib.evt_close(handle)


class EventThrottler:
    """Per-key event throttle: for each key, only the first event within the window
    is processed.

    ``EventThrottler(window=DEFAULT_WINDOW)`` is the seed's class: a private throttle
    of this process (``evt_create(NULL, ...)``), shared with children forked after
    it is made.

    ``EventThrottler(name="orders")`` attaches to the throttle ``orders`` that
    evthrottled (or another process) created (``evt_attach``); every process attached
    to it shares its keys, window and counters.  ``readonly=True`` attaches with
    ``EVT_RDONLY``: window, key count and stats can be read, decisions and changes
    raise EvtError(EROFS).  ``create=True`` creates the named throttle instead
    (``evt_create(name, ...)``; FileExistsError if it exists) with ``window``,
    ``capacity``, ``key_max`` and ``on_full`` (``"throttle"``, ``"process"`` or
    ``"error"``); when attaching, those belong to the creator and must be left out.

    Times are seconds (int or float), as in the seed; the library works in unsigned
    64-bit nanoseconds, and seconds are rounded to the nearest nanosecond.  Every
    process sharing a throttle must use one clock: :func:`evthrottle.now` (the
    library's ``evt_now_ns()``) or your own.

    Errors of the library raise :class:`evthrottle.EvtError` (an OSError with the
    library's errno and message).  A closed throttler raises ValueError.

    Thread safety: the C handle is thread-safe, so an EventThrottler may be used from
    any number of threads without a Python lock, except that :meth:`close` (or the
    end of a ``with`` block) must not race with other calls on the same object (as
    with ``evt_close``).  Decisions hold the GIL for their few nanoseconds of C;
    calls that may block (create, attach, clear) release it.
    """

    def __init__(self, window=None, name=None, *, capacity=None, key_max=None,
                 readonly=False, create=False, on_full=None):
        lib = _lib.load()
        self._name = name
        self._readonly = bool(readonly)
        handle = _lib.THROTTLE_P()
        if name is not None and not create:
            if (window, capacity, key_max, on_full) != (None, None, None, None):
                raise ValueError("window, capacity, key_max and on_full are set by the "
                                 "throttle's creator; attach with the name only (and "
                                 "use update_window() to change the window)")
            flags = _lib.EVT_RDONLY if readonly else 0
            rc = lib.evt_attach(_name_bytes(name), flags, ctypes.byref(handle))
        else:
            if readonly:
                raise ValueError("readonly=True needs a named throttle to attach to")
            opts = _lib.Options.init()
            opts.window_ns = _window_ns(config.DEFAULT_WINDOW if window is None else window)
            for field, value in (("capacity", capacity), ("key_max", key_max)):
                if value is not None:
                    if not isinstance(value, int) or isinstance(value, bool):
                        raise TypeError("%s must be an int" % field)
                    if not 0 < value < 2**32:
                        raise ValueError("%s out of range: %d" % (field, value))
                    setattr(opts, field, value)
            if on_full is not None:
                if on_full not in _lib.ON_FULL:
                    raise ValueError("on_full must be one of %s, got %r"
                                     % (", ".join(_lib.ON_FULL), on_full))
                opts.on_full = _lib.ON_FULL[on_full]
            rc = lib.evt_create(None if name is None else _name_bytes(name),
                                ctypes.byref(opts), ctypes.byref(handle))
        if rc < 0:
            raise_error(rc, name)

        self._h = handle
        self._finalizer = weakref.finalize(self, _release, lib, handle, os.getpid())
        self._decide = lib.evt_should_process
        self._batch = lib.evt_should_process_batch
        self._key_max = None  # read once, by should_process_many
        self._lib = lib
        self._logger = get_logger(LOGGER_NAME)
        if self._logger.isEnabledFor(logging.DEBUG):
            what = "private throttle" if name is None else (
                "created throttle '%s'" % name if create else
                "attached to throttle '%s'%s" % (name, " read-only" if readonly else ""))
            self._logger.debug("EventThrottler: %s, window %s seconds", what,
                               self.get_window())

    # The seed's API.

    def should_process(self, timestamp, event_id, key):
        """True if the event of ``key`` at ``timestamp`` (seconds) is to be processed:
        the key has no processed event yet, or its last one is at least a window
        older.  ``event_id`` (None, str or bytes) takes no part in the decision."""
        h = self._h
        if h is None:
            raise ValueError("operation on a closed EventThrottler")
        if type(timestamp) is int and 0 <= timestamp <= _MAX_INT_SECONDS:
            ts = timestamp * NS_PER_S
        else:
            ts = seconds_to_ns(timestamp)
        k = key.encode("utf-8") if type(key) is str else key_bytes(key)
        rc = self._decide(h, ts, None, k, len(k))
        if rc == 1:
            return True
        if rc == 0:
            return False
        raise_error(rc)

    def should_process_many(self, events):
        """Decide a burst: ``events`` is an iterable of ``(timestamp, event_id, key)``
        tuples, as should_process takes them; returns a list of bools, one per event
        in order, exactly the answers of should_process called on each in turn (a key
        repeated in the burst sees its own earlier decision).  One library call
        (``evt_should_process_batch``) decides them all, with the keys' table slots
        fetched together.

        Bad input decides nothing: every timestamp and key is checked first, and a
        bad one raises what should_process raises for it (ValueError or TypeError,
        EvtError EINVAL for an empty key, EMSGSIZE for one longer than key_max), as
        does a read-only throttle (EROFS) or a closed one (ValueError), whatever
        the number of events.  A table full under ``on_full="error"`` raises
        EvtError(ENOSPC) as should_process does, but only once the whole burst was
        decided: the events before the full one and those after it stand (decided
        as by a loop over should_process that went on past the error), and the
        exception's ``answers`` holds their answers, None for each event that
        found no room, its ``index`` the first of those."""
        self._handle()  # refuse a closed throttler before reading any event
        if not _lib.EVENT_AS_WORDS:
            raise NotImplementedError("should_process_many needs a 64-bit platform")
        ns = []
        keys = []
        add_ns = ns.append
        add_key = keys.append
        for ts, _event_id, key in events:  # as should_process converts them
            if type(ts) is float and 0.0 <= ts * 1e9 < _TWO_64:
                add_ns(round(ts * 1e9))
            elif type(ts) is int and 0 <= ts <= _MAX_INT_SECONDS:
                add_ns(ts * NS_PER_S)
            else:
                add_ns(seconds_to_ns(ts))
            add_key(key.encode("utf-8") if type(key) is str else key_bytes(key))
        n = len(keys)
        lens = list(map(len, keys))
        key_max = self._key_max or self._read_key_max()
        # Taken only now: reading the events ran the caller's code, which may have
        # closed the throttler (the handle would be freed).
        h = self._handle()
        if not n or min(lens) == 0 or max(lens) > key_max:
            # Nothing to decide, or a bad key: the library's whole-call errors (EROFS)
            # come first, as in should_process.
            rc = self._batch(h, None, 0)
            if rc < 0:
                raise_error(rc)
            if not n:
                return []
            bad = next(i for i, size in enumerate(lens) if not 0 < size <= key_max)
            raise _event_error(-errno.EMSGSIZE if lens[bad] else -errno.EINVAL, bad)
        # The events as 64-bit words (_lib.EVENT_AS_WORDS): ts_ns, key, key_len, out;
        # the keys one after the other in one buffer.  Both are reached through their
        # first element: a ctypes array type per length would be cached for good.
        joined = bytearray().join(keys)
        starts = list(itertools.accumulate(
            lens, initial=ctypes.addressof(ctypes.c_char.from_buffer(joined))))
        words = array("Q", bytes(8 * _lib.EVENT_WORDS * n))
        words[0::4] = array("Q", ns)
        words[1::4] = array("Q", starts[:-1])
        words[2::4] = array("Q", lens)
        rc = self._batch(h, ctypes.byref(_lib.Event.from_buffer(words)), n)
        if rc < 0:
            raise_error(rc)
        results = memoryview(words).cast("B").cast("i")[6::8].tolist()
        if min(results) < 0:  # ENOSPC: the table is full and on_full is error
            answers = [None if r < 0 else r == 1 for r in results]
            bad = answers.index(None)
            raise _event_error(results[bad], bad, answers)
        return list(map(bool, results))

    def _read_key_max(self):
        self._key_max = self.stats()["key_max"]  # fixed by the throttle's creator
        return self._key_max

    def update_window(self, new_window):
        """Set the window (seconds, > 0) for every later decision of every process
        sharing the throttle."""
        ns = _window_ns(new_window)
        old = self.get_window()
        rc = self._lib.evt_update_window(self._handle(), ns)
        if rc < 0:
            raise_error(rc, self._name)
        self._logger.info("Window updated from %s to %s seconds", old, ns_to_seconds(ns))

    def get_window(self):
        """The current window in seconds: an int when it is whole, else a float."""
        return ns_to_seconds(self._lib.evt_get_window(self._handle()))

    def clear(self):
        """Forget every key (for every process sharing the throttle); returns how
        many were tracked."""
        rc = self._lib.evt_clear(self._handle())
        if rc < 0:
            raise_error(rc, self._name)
        self._logger.info("Cleared all keys")
        return rc

    def get_key_count(self):
        """The number of keys tracked now."""
        return self._lib.evt_key_count(self._handle())

    # Beyond the seed.

    def clear_key(self, key):
        """Forget one key: True if it was tracked, False if not."""
        k = key_bytes(key)
        rc = self._lib.evt_clear_key(self._handle(), k, len(k))
        if rc < 0:
            raise_error(rc, self._name)
        self._logger.debug("Cleared key %r: %s", key, "was tracked" if rc else "not tracked")
        return rc == 1

    def stats(self):
        """The throttle's totals over every client (``evt_stats_get``) as a dict with
        the fields of ``struct evt_stats``: window_ns, processed, throttled, new_keys,
        reclaimed, cleared, full, keys, horizon_ns, capacity, key_max, clients,
        client_max, on_full (times in nanoseconds)."""
        s = _lib.Stats()
        rc = self._lib.evt_stats_get(self._handle(), ctypes.byref(s))
        if rc < 0:
            raise_error(rc, self._name)
        return {f: getattr(s, f) for f, _ in _lib.Stats._fields_ if f != "reserved"}

    def is_current(self):
        """True while the throttle's name still refers to the region this object
        maps; False once it was removed (``evthrottled --remove``) or replaced
        (``--recreate``): this object then decides alone on the old region and
        should be closed and attached again (``evt_is_current``).  A private
        throttle raises EvtError (EINVAL)."""
        rc = self._lib.evt_is_current(self._handle())
        if rc < 0:
            raise_error(rc, self._name)
        return rc == 1

    @property
    def name(self):
        """The throttle's name, or None for a private throttle."""
        return self._name

    @property
    def readonly(self):
        return self._readonly

    @property
    def closed(self):
        return self._h is None

    def close(self):
        """Detach (``evt_close``); the throttle and its state stay.  Idempotent."""
        if self._h is None:
            return
        self._h = None
        self._finalizer()
        self._logger.debug("EventThrottler: closed %s",
                           "private throttle" if self._name is None else repr(self._name))

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        what = "private" if self._name is None else repr(self._name)
        if self._h is None:
            return "<EventThrottler %s closed>" % what
        return "<EventThrottler %s window=%s%s>" % (what, self.get_window(),
                                                   " readonly" if self._readonly else "")

    def _handle(self):
        h = self._h
        if h is None:
            raise ValueError("operation on a closed EventThrottler")
        return h
