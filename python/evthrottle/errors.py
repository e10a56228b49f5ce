"""The exception the library's negative errnos become.

Every failing call raises an :class:`EvtError`, an :class:`OSError` whose ``errno``
is the library's errno and whose ``strerror`` is the library's message
(``evt_strerror``), or, where the binding knows the value and the limit, a message
that says them ("key is 40 bytes, this throttle's key_max is 32", "table full:
131072 slots, 98304 keys; raise capacity or lower the window", "capacity 2147483648
is above 268435456", "throttle name is 300 bytes, at most 200"); for calls that take
a throttle name, ``filename`` is the name.

``OSError(errno, message)`` picks a builtin subclass from the errno (``ENOENT`` gives
:class:`FileNotFoundError`, ``EACCES`` :class:`PermissionError`, ...).  EvtError keeps
that: an errno with a builtin subclass raises a class derived from both EvtError and
that subclass (``EvtFileNotFoundError(EvtError, FileNotFoundError)``), so each of
these catches a missing throttle::

    except FileNotFoundError:      # the builtin, as for OSError(ENOENT, ...)
    except evthrottle.EvtError:    # any error of the library
    except OSError as e:           # e.errno == errno.ENOENT

Errnos without a builtin subclass (``EROFS``, ``EMSGSIZE``, ``EINVAL``, ``ENOSPC``,
``EBADMSG``, ``EUSERS``...) raise EvtError itself.
"""
import errno as _errno


class EvtError(OSError):
    """An error reported by libevthrottle: ``errno``, ``strerror`` (the library's
    message) and, for named throttles, ``filename`` (the throttle name)."""

    __module__ = "evthrottle"


def _derive():
    """One EvtError subclass per builtin OSError subclass, defined at module level so
    that they pickle (e.g. from a multiprocessing child)."""
    classes = {}
    for code in sorted(set(_errno.errorcode)):
        base = type(OSError(code, ""))
        if base is OSError or base in classes:
            continue
        name = "Evt" + base.__name__
        cls = type(name, (EvtError, base), {
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": "EvtError for errnos that OSError maps to %s." % base.__name__,
        })
        globals()[name] = cls
        classes[base] = cls
    return classes


_BY_BASE = _derive()
_BY_ERRNO = {}


def error_class(err):
    """The exception class for a (positive) errno."""
    cls = _BY_ERRNO.get(err)
    if cls is None:
        cls = _BY_BASE.get(type(OSError(err, "")), EvtError)
        _BY_ERRNO[err] = cls
    return cls
