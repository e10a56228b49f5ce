"""Logging for the evthrottle package, as in the seed's ``logger.py``.

:func:`setup_logger` configures a standard :mod:`logging` logger from
:mod:`evthrottle.config` (or its arguments): a console handler on stderr, a file
handler in ``config.LOG_DIRECTORY`` (created on demand), or neither.  Calling it again
replaces the handlers it added before, so it may be used to reconfigure at run time::

    import logging
    from evthrottle.logger import setup_logger

    logger = setup_logger("my_module", log_level=logging.DEBUG,
                          log_to_file=True, log_file="my_module.log")

With at least one handler, records stop at this logger (no duplicates through the
root logger).  With neither console nor file, it has no handler of its own and its
records propagate to your application's logging configuration.

The package itself never calls it: as the logging documentation asks of libraries,
the ``evthrottle`` logger has only a ``NullHandler`` and its records propagate, so
nothing is printed unless the application configures logging (``logging.basicConfig``
or its own handlers) or calls ``setup_logger("evthrottle")``.
"""
import logging
import os

from . import config

FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def setup_logger(logger_name, log_level=None, log_to_console=None, log_to_file=None,
                 log_file=None):
    """Configure and return the logger ``logger_name``.

    Arguments left as None take their value from :mod:`evthrottle.config` at the time
    of the call: ``LOG_LEVEL``, ``LOG_TO_CONSOLE``, ``LOG_TO_FILE``; ``log_file`` is a
    file name inside ``config.LOG_DIRECTORY`` (default ``<logger_name>.log``), or an
    absolute path.
    """
    if log_level is None:
        log_level = config.LOG_LEVEL
    if log_to_console is None:
        log_to_console = config.LOG_TO_CONSOLE
    if log_to_file is None:
        log_to_file = config.LOG_TO_FILE

    logger = logging.getLogger(logger_name)
    logger.setLevel(log_level)
    for handler in [h for h in logger.handlers if getattr(h, "_evthrottle", False)]:
        logger.removeHandler(handler)
        handler.close()

    formatter = logging.Formatter(FORMAT)
    handlers = []
    if log_to_console:
        handlers.append(logging.StreamHandler())
    if log_to_file:
        path = os.path.join(config.LOG_DIRECTORY, log_file or logger_name + ".log")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    for handler in handlers:
        handler._evthrottle = True
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.propagate = not handlers
    return logger

