"""Settings of the evthrottle Python package, as in the seed's ``config.py``.

``DEFAULT_WINDOW`` is read when an :class:`~evthrottle.EventThrottler` is made
without a window.  The ``LOG_*`` settings are what :func:`evthrottle.setup_logger`
uses for the arguments it is not given; the package itself configures no logging
(its logger has a NullHandler only)::

    import logging
    from evthrottle import config, setup_logger
    config.LOG_LEVEL = logging.DEBUG
    config.LOG_TO_FILE = True          # also logs/evthrottle.log
    setup_logger("evthrottle")
"""
import logging

# Window of a new private throttle, in seconds.
DEFAULT_WINDOW = 10

# The logging of setup_logger() when it is called without arguments.
LOG_LEVEL = logging.INFO
LOG_TO_CONSOLE = True    # to stderr
LOG_TO_FILE = False      # to LOG_DIRECTORY/<logger name>.log
LOG_DIRECTORY = "logs"   # created on demand; relative to the working directory
