"""Text helpers shared by the speech engines."""

from __future__ import annotations

import re

#: A sentence ends at terminal punctuation followed by white space; abbreviations are rare in replies.
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def split_sentences(text: str) -> list[str]:
    """Cut text where a speaker pauses, so synthesis can stop between pieces instead of after all of it."""
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]
