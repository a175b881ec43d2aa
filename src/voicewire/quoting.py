"""Quoting a client's value back to it (or into a log) in bounded space."""

from __future__ import annotations

import reprlib
from typing import Any

#: Characters of a client's value quoted back in an error message: enough to recognise it, and a reply
#: never grows with what the client sent.
EXCERPT_CHARS = 40


_EXCERPT = reprlib.Repr()
_EXCERPT.maxlevel, _EXCERPT.maxdict, _EXCERPT.maxlist = 2, 4, 4
_EXCERPT.maxstring = _EXCERPT.maxother = EXCERPT_CHARS


def excerpt(value: Any) -> str:
    """`repr(value)` of at most `EXCERPT_CHARS` characters, computed without reading all of a long value."""
    try:
        text = _EXCERPT.repr(value)
    except ValueError:  # an integer too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."
