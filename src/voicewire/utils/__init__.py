"""Helpers that deepgram-sdk 3.11 code imports from `deepgram.utils`, so ported code keeps its imports.

`from deepgram.utils import verboselogs` becomes `from voicewire.utils import verboselogs`.
"""

from voicewire.utils import verboselogs
from voicewire.utils.verboselogs import (
    CRITICAL,
    DEBUG,
    ERROR,
    FATAL,
    INFO,
    NOTICE,
    NOTSET,
    SPAM,
    SUCCESS,
    VERBOSE,
    WARNING,
    VerboseLogger,
)

__all__ = [
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "NOTICE",
    "NOTSET",
    "SPAM",
    "SUCCESS",
    "VERBOSE",
    "WARNING",
    "VerboseLogger",
    "verboselogs",
]
