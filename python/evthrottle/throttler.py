"""EventThrottler: the seed's class over libevthrottle, through evthrottle._evthrottle.

The decisions, the window, the counters and the handle are the extension's
(``_evthrottle.Throttle``, which this class subclasses, so ``should_process`` is a
C call); this layer adds the seed's constructor, its defaults and logging.
"""
import logging

from . import _evthrottle, config
from ._evthrottle import realtime, realtime_ns  # noqa: F401  (re-exported)
from ._evthrottle import LIMIT_MAX, library_path, now, now_ns, strerror, unlink

__all__ = ["EventThrottler", "library_path", "now", "now_ns", "realtime", "realtime_ns",
           "strerror", "unlink",
           "PRIVATE_KEY_MAX", "LIMIT_MAX"]

LOGGER_NAME = "evthrottle"
ON_FULL = {"throttle": 0, "process": 1, "error": 2}   # enum evt_on_full
ON_STALE = {"throttle": 0, "process": 1, "error": 2}  # enum evt_on_stale
ON_UNREACHABLE = {"local": 0, "throttle": 1, "process": 2}  # enum evt_on_unreachable

# The longest key of a throttle this package creates (private, or create=True), in
# bytes, unless key_max says otherwise: the library's default (32) refuses UUIDs with
# a prefix, SHA-256 hex digests and many session tokens.  96 is the largest that keeps
# a table slot in two 64-byte cache lines (32 bytes of slot header + the key).
PRIVATE_KEY_MAX = 96

_logger = logging.getLogger(LOGGER_NAME)


def _option(field, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("%s must be an int, not %s" % (field, type(value).__name__))
    if value <= 0:  # the upper limit is the extension's to say (EvtError EINVAL)
        raise ValueError("%s must be positive (leave it out for the default), got %d"
                         % (field, value))
    return value


def _policy(field, value, policies):
    """A policy's name to its enum value; None is the library's default (0)."""
    if value is None:
        return 0
    if value not in policies:
        raise ValueError("%s must be one of %s, got %r"
                         % (field, ", ".join(policies), value))
    return policies[value]


def _flag(field, value):
    """True or False; None is False (the library's default)."""
    if value is not None and not isinstance(value, bool):
        raise TypeError("%s must be True or False, not %s" % (field, type(value).__name__))
    return bool(value)


class EventThrottler(_evthrottle.Throttle):
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
    ``capacity``, ``key_max`` (default :data:`PRIVATE_KEY_MAX`, 96 bytes),
    ``on_full`` (``"throttle"``, ``"process"`` or ``"error"``: a new key and no room),
    ``on_stale`` (the same three: an event older than what reclaim forgot) and
    ``client_idle`` (seconds, > 0: a client this far behind no longer holds reclaim
    back; default 1) and ``limit`` (processed events per key per window, 1 to
    :data:`LIMIT_MAX`; default 1, the seed's rule) and ``shadow`` (True: decide and
    count, but answer True to what the rule denies); when attaching, those belong
    to the creator and must be left out (``update_limit()`` and ``set_shadow()``
    change a shared throttle's).  ``huge_pages=True`` backs the table with
    transparent huge pages (fewer TLB misses on a large table), or raises EvtError
    EOPNOTSUPP where the system offers none for shared memory (/dev/shm mounted
    with huge=advise, within_size or always; for a private throttle,
    transparent_hugepage/shmem_enabled).

    ``redis`` (``"unix:/run/redis/redis.sock"`` or ``"host:port"``) makes the
    created throttle *global*: one rule across every host whose throttle names the
    same Redis and the same ``global_name`` (default: ``name``; a private global
    throttle needs it), as evthrottled.conf's ``global`` group does.  ``timeout``
    (seconds, > 0; default 0.002) bounds a decision's wait for Redis,
    ``on_unreachable`` (``"local"``, the default, ``"throttle"`` or ``"process"``)
    answers meanwhile, ``auth_file`` names a file holding ``password`` or ``user
    password``.  Timestamps must then come from a clock the hosts share
    (:func:`realtime`).  A decision its host's table throttles stays local and
    keeps the GIL; one that asks Redis releases it for the round trip.

    Times are seconds (int, float, Fraction or Decimal; not bool), as in the seed,
    rounded to the nearest nanosecond.  Keys are str (UTF-8), bytes (or another
    bytes-like object) or int (8 bytes: the signed 64-bit value in the host's byte
    order, as a C client passes ``int64_t id`` with ``&id, 8``).

    Errors of the library raise :class:`evthrottle.EvtError` (an OSError with the
    library's errno and message).  A closed throttler raises ValueError.

    Thread safety: no Python lock is needed; any number of threads may share one
    EventThrottler.  Decisions hold the GIL; create, attach, clear, bursts of
    65536 events or more, and a global throttle's round trips to Redis (its
    decisions that its host cannot make alone, and all its bursts) release it.  ``close()`` while another thread's call runs
    without the GIL takes effect when that call returns.
    """

    def __init__(self, window=None, name=None, *, capacity=None, key_max=None,
                 readonly=False, create=False, on_full=None, on_stale=None,
                 client_idle=None, limit=None, shadow=None, huge_pages=None,
                 redis=None, global_name=None, timeout=None, on_unreachable=None,
                 auth_file=None):
        if name is not None and not create:
            if (window, capacity, key_max, on_full, on_stale, client_idle,
                    limit, shadow, huge_pages, redis, global_name, timeout,
                    on_unreachable, auth_file) != (None,) * 14:
                raise ValueError("window, capacity, key_max, on_full, on_stale, "
                                 "client_idle, limit, shadow, the global options (redis, "
                                 "global_name, timeout, on_unreachable, auth_file) and "
                                 "huge_pages are set by the throttle's creator; attach "
                                 "with the name only (and use update_window(), "
                                 "update_limit() or set_shadow() to change them)")
            super().__init__(name, readonly=readonly)
        else:
            if readonly:
                raise ValueError("readonly=True needs a named throttle to attach to")
            super().__init__(
                name, create=True,
                window=config.DEFAULT_WINDOW if window is None else window,
                capacity=0 if capacity is None else _option("capacity", capacity),
                key_max=PRIVATE_KEY_MAX if key_max is None else _option("key_max", key_max),
                on_full=_policy("on_full", on_full, ON_FULL),
                on_stale=_policy("on_stale", on_stale, ON_STALE),
                client_idle=client_idle,
                limit=0 if limit is None else _option("limit", limit),
                shadow=_flag("shadow", shadow),
                huge_pages=_flag("huge_pages", huge_pages),
                redis=redis, global_name=global_name, timeout=timeout,
                on_unreachable=_policy("on_unreachable", on_unreachable, ON_UNREACHABLE),
                auth_file=auth_file)
        if _logger.isEnabledFor(logging.DEBUG):
            what = "private throttle" if name is None else (
                "created throttle '%s'" % name if create else
                "attached to throttle '%s'%s" % (name, " read-only" if readonly else ""))
            _logger.debug("EventThrottler: %s, window %s seconds", what, self.get_window())

    def update_window(self, new_window):
        """Set the window (seconds, > 0) for every later decision of every process
        sharing the throttle."""
        old = self.get_window()
        super().update_window(new_window)
        _logger.info("Window updated from %s to %s seconds", old, self.get_window())

    def update_limit(self, limit):
        """Set the limit (processed events per key per window, 1 to LIMIT_MAX) for
        every later decision of every process sharing the throttle."""
        old = self.get_limit()
        super().update_limit(_option("limit", limit))
        _logger.info("Limit updated from %d to %d events a window", old, limit)

    def set_shadow(self, on):
        """Shadow mode on (True) or off, for every later decision of every process
        sharing the throttle."""
        super().set_shadow(on)
        _logger.info("Shadow mode %s", "on" if on else "off")

    def clear(self):
        """Forget every key (for every process sharing the throttle); returns how
        many were tracked."""
        n = super().clear()
        _logger.info("Cleared all keys")
        return n

    def clear_key(self, key):
        """Forget one key: True if it was tracked, False if not."""
        was = super().clear_key(key)
        _logger.debug("Cleared key %r: %s", key, "was tracked" if was else "not tracked")
        return was

    def close(self):
        """Detach (``evt_close``); the throttle and its state stay.  Idempotent."""
        if self.closed:
            return
        super().close()
        _logger.debug("EventThrottler: closed %s",
                      "private throttle" if self.name is None else repr(self.name))

    def __enter__(self):
        if self.closed:
            raise ValueError("operation on a closed EventThrottler")
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        what = "private" if self.name is None else repr(self.name)
        if self.closed:
            return "<EventThrottler %s closed>" % what
        return "<EventThrottler %s window=%s%s>" % (what, self.get_window(),
                                                   " readonly" if self.readonly else "")
