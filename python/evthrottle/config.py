"""Settings of the evthrottle Python package, as in the seed's ``config.py``.

Change them before the first :class:`~evthrottle.EventThrottler` is made (the
``evthrottle`` logger is set up from them then), or call
:func:`evthrottle.logger.setup_logger` yourself at any time::

    import logging
    from evthrottle import config
    config.LOG_LEVEL = logging.DEBUG
    config.LOG_TO_FILE = True          # also logs/evthrottle.log
"""
import logging

# Window of a new private throttle, in seconds.
DEFAULT_WINDOW = 10

# The logging of setup_logger() when it is called without arguments.
LOG_LEVEL = logging.INFO
LOG_TO_CONSOLE = True    # to stderr
LOG_TO_FILE = False      # to LOG_DIRECTORY/<logger name>.log
LOG_DIRECTORY = "logs"   # created on demand; relative to the working directory
