"""Text as a voice says it.

Language models write for screens: markdown emphasis, headings, hashtags, links, emoji. A TTS engine reads
the marks aloud ("hash fix it bites"), or stumbles on them, so each piece of a reply is cleaned before it is
spoken, and the client is shown the same words it hears.
"""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_HASHTAG = re.compile(r"#(\w+)")
#: Word boundaries inside a hashtag: "FixItBites" → "Fix It Bites", "TestOne23" → "Test One 23".
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[0-9])(?=[A-Za-z])")
#: Markdown and table marks that mean nothing spoken.
_MARKUP = re.compile(r"[*_`~#>|]+")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[.,!?;:])")


def speakable(text: str) -> str:
    text = _URL.sub("a link", text)
    text = _HASHTAG.sub(lambda match: _CAMEL.sub(" ", match.group(1)), text)
    text = _MARKUP.sub(" ", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("So", "Cs", "Co"))
    return _SPACE_BEFORE_PUNCTUATION.sub("", _SPACES.sub(" ", text)).strip()
