"""evthrottle: a per-key event throttle shared by the processes of one host.

Type stubs of the package (the EventThrottler methods are the C extension's)."""
import logging
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Optional, Tuple, Union

from . import config as config

Seconds = Union[int, float, Fraction, Decimal]
"""Seconds, rounded to the nearest nanosecond; never bool."""
Key = Union[str, bytes, bytearray, memoryview, int]
"""str (UTF-8), bytes-like, or int (8 bytes: signed 64-bit, the host's byte order)."""
Event = Tuple[Seconds, object, Key]
"""(timestamp, event_id, key), as should_process takes them."""

DEFAULT_WINDOW: int
"""Window of a throttle made without one, in seconds (config.DEFAULT_WINDOW)."""
PRIVATE_KEY_MAX: int
"""key_max (bytes) of a throttle this package creates unless given: 96."""
LIMIT_MAX: int
"""The largest limit (processed events per key per window): EVT_LIMIT_MAX."""


class EvtError(OSError):
    """An error of libevthrottle: errno, strerror (the library's message) and, for
    named throttles, filename (the name).  Errnos with a builtin OSError subclass
    raise a class derived from both (FileNotFoundError for a missing throttle)."""
    index: int
    """should_process_many: the first event in error."""
    answers: Optional[list[Optional[bool]]]
    """should_process_many under on_full="error": every answer, None where no room."""


class EventThrottler:
    """Per-key event throttle: for each key, only the first event within the window
    is processed.  EventThrottler(window) is a private throttle (the seed's class);
    EventThrottler(name=N) attaches to N; create=True creates N."""

    def __init__(self, window: Optional[Seconds] = None, name: Optional[str] = None, *,
                 capacity: Optional[int] = None, key_max: Optional[int] = None,
                 readonly: bool = False, create: bool = False,
                 on_full: Optional[Literal["throttle", "process", "error"]] = None,
                 on_stale: Optional[Literal["throttle", "process", "error"]] = None,
                 client_idle: Optional[Seconds] = None,
                 limit: Optional[int] = None, shadow: Optional[bool] = None,
                 huge_pages: Optional[bool] = None, redis: Optional[str] = None,
                 global_name: Optional[str] = None, timeout: Optional[Seconds] = None,
                 on_unreachable: Optional[Literal["local", "throttle", "process"]] = None,
                 auth_file: Optional[str] = None) -> None:
        """Create a private throttle, attach to a named one, or create one
        (create=True).  window, capacity, key_max, on_full (a new key and no room),
        on_stale (an event older than what reclaim forgot: "error" raises EvtError
        ESTALE) and client_idle (seconds, > 0: a client this far behind no longer
        holds reclaim back; default 1) and limit (processed events per key per
        window, 1 to LIMIT_MAX; default 1) and shadow (True: decide and count, but
        answer True to what the rule denies) and huge_pages (True: transparent huge
        pages for the table, or EvtError EOPNOTSUPP where the system offers none for
        shared memory) are the creator's.  redis ("unix:PATH" or "HOST:PORT")
        makes the created throttle global, with global_name (shared by every
        host; default: name), timeout (seconds; default 0.002), on_unreachable
        (default "local") and auth_file: evthrottled.conf's global group
        (docs/python.md)."""

    def should_process(self, timestamp: Seconds, event_id: object, key: Key) -> bool:
        """True if the event of key at timestamp (seconds) is to be processed: the
        key has no processed event yet, or its last one is at least a window older
        (with a limit N: its window, opened by a processed event, has had fewer than
        N; in shadow mode, always).  event_id takes no part."""

    def should_process_many(self, events: Iterable[Event]) -> list[bool]:
        """The answers of should_process on each event in turn, in one library call.
        Bad input decides nothing; 65536 events or more are decided without
        the GIL."""

    def prefetch(self, key: Key) -> None:
        """Start fetching the key's slot into this CPU's cache (evt_prefetch), for a
        decision shortly after; changes nothing."""

    def update_window(self, new_window: Seconds) -> None:
        """Set the window (seconds, > 0) for every later decision of every process."""

    def update_limit(self, limit: int) -> None:
        """Set the limit (processed events per key per window, 1 to LIMIT_MAX) for
        every later decision of every process."""

    def peek(self, timestamp: Seconds, key: Key) -> bool:
        """What should_process would answer now, deciding nothing (evt_peek): a
        moment's answer, which another decision may change before yours."""

    def set_shadow(self, on: bool) -> None:
        """Shadow mode on or off for every later decision of every process: decided
        and counted, but what the rule denies is answered True (would_throttle)."""

    def get_shadow(self) -> bool:
        """True in shadow mode."""

    def get_limit(self) -> int:
        """The limit: processed events per key per window (1: the seed's rule)."""

    def get_window(self) -> Union[int, float]:
        """The window in seconds: an int when whole, else a float."""

    def clear(self) -> int:
        """Forget every key; returns how many were tracked."""

    def clear_key(self, key: Key) -> bool:
        """Forget one key: True if it was tracked, False if not."""

    def get_key_count(self) -> int:
        """The number of keys tracked now."""

    def is_current(self) -> bool:
        """True while the name still refers to the region this object maps; False once
        it was removed or replaced (evt_is_current): close and attach again."""

    def stats(self) -> dict[str, int]:
        """The fields of struct evt_stats (evt_stats_get), times in nanoseconds."""

    def close(self) -> None:
        """Detach (evt_close); the throttle and its state stay.  Idempotent."""

    @property
    def name(self) -> Optional[str]:
        """The throttle's name, or None for a private throttle."""

    @property
    def readonly(self) -> bool:
        """Attached with readonly=True (EVT_RDONLY)."""

    @property
    def closed(self) -> bool:
        """close() was called."""

    def __enter__(self) -> "EventThrottler": ...
    def __exit__(self, *exc: object) -> None: ...


def now() -> float:
    """The host's shared clock (CLOCK_MONOTONIC) in seconds: evt_now_ns() / 1e9."""

def now_ns() -> int:
    """The host's shared clock in nanoseconds: evt_now_ns()."""

def realtime() -> float:
    """CLOCK_REALTIME in seconds since 1970: evt_realtime_ns() / 1e9, the clock a
    global throttle's hosts share."""

def realtime_ns() -> int:
    """CLOCK_REALTIME in nanoseconds since 1970: evt_realtime_ns()."""

def unlink(name: str) -> None:
    """Remove the named throttle (evt_unlink); FileNotFoundError if none."""

def strerror(err: int) -> str:
    """The library's message for an errno (sign ignored)."""

def library_path() -> str:
    """The file libevthrottle's code was loaded from."""

def setup_logger(logger_name: str, log_level: Optional[int] = None,
                 log_to_console: Optional[bool] = None, log_to_file: Optional[bool] = None,
                 log_file: Optional[str] = None) -> logging.Logger:
    """The seed's setup_logger: configure logger_name from config or the arguments."""
