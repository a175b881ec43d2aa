"""The extra log levels of deepgram-sdk 3.11 (`deepgram.utils.verboselogs`), on the standard `logging` module.

Seed code passes these numbers as `DeepgramClientOptions(verbose=verboselogs.DEBUG)` and may create a
`VerboseLogger`; the levels and names match the seed's (protocol.md §1.2), so either works unchanged:
SPAM=5, DEBUG=10, VERBOSE=15, INFO=20, NOTICE=25, WARNING=30, SUCCESS=35, ERROR=40, CRITICAL=50.
"""

from __future__ import annotations

import logging
from typing import Any, Final

NOTSET: Final = logging.NOTSET
SPAM: Final = 5
DEBUG: Final = logging.DEBUG
VERBOSE: Final = 15
INFO: Final = logging.INFO
NOTICE: Final = 25
WARNING: Final = logging.WARNING
SUCCESS: Final = 35
ERROR: Final = logging.ERROR
CRITICAL: Final = logging.CRITICAL
FATAL: Final = logging.FATAL

_EXTRA_LEVELS: Final = {"SPAM": SPAM, "VERBOSE": VERBOSE, "NOTICE": NOTICE, "SUCCESS": SUCCESS}


def add_log_level(value: int, name: str) -> None:
    """Give `value` a name in log records (`%(levelname)s`) and as an attribute of `logging`."""
    logging.addLevelName(value, name)
    setattr(logging, name, value)


def install() -> None:
    """Make `logging.getLogger` return `VerboseLogger`s, as the seed's `verboselogs.install()` did."""
    logging.setLoggerClass(VerboseLogger)


class VerboseLogger(logging.Logger):
    """A `logging.Logger` with a method per extra level: `spam`, `verbose`, `notice`, `success`."""

    def __init__(self, name: str, level: int = NOTSET) -> None:
        super().__init__(name, level)
        self.parent = logging.getLogger()

    def spam(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(SPAM):
            self._log(SPAM, msg, args, **kwargs)

    def verbose(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(VERBOSE):
            self._log(VERBOSE, msg, args, **kwargs)

    def notice(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(NOTICE):
            self._log(NOTICE, msg, args, **kwargs)

    def success(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(SUCCESS):
            self._log(SUCCESS, msg, args, **kwargs)


for _name, _value in _EXTRA_LEVELS.items():
    add_log_level(_value, _name)
