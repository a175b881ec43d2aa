"""Text helpers shared by the speech engines and the server's sentence splitter."""

from __future__ import annotations

import re

#: Longest piece of text handed to a TTS engine in one call, in words and in characters. Piper's memory and
#: time grow with the length of what it synthesises at once (about 6 MB per word for unpunctuated text), and
#: a shared voice is locked for the whole call; 25 words are about 8 s of speech.
MAX_PIECE_WORDS = 25
MAX_PIECE_CHARS = 200

#: A sentence ends at terminal punctuation followed by white space; abbreviations are rare in replies.
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_WORD = re.compile(r"\S+")


def split_sentences(text: str) -> list[str]:
    """Cut text where a speaker pauses, so synthesis can stop between pieces instead of after all of it.

    A sentence longer than `MAX_PIECE_WORDS` words or `MAX_PIECE_CHARS` characters is cut further at word
    boundaries (inside a word only if that one word is too long).
    """
    return [piece for sentence in _SENTENCE_END.split(text.strip()) for piece in bounded_pieces(sentence)]


def length_cut(text: str) -> int | None:
    """Where a piece starting at `text[0]` must end to stay within the bounds, or None if all of it fits.

    Only the first `MAX_PIECE_CHARS` characters are read, so cutting a long text costs linear time.
    """
    if len(text) <= MAX_PIECE_CHARS and len(_WORD.findall(text)) <= MAX_PIECE_WORDS:
        return None
    for index, word in enumerate(_WORD.finditer(text, 0, MAX_PIECE_CHARS + 1)):
        if index >= MAX_PIECE_WORDS or word.end() > MAX_PIECE_CHARS:
            return word.start() if index > 0 else MAX_PIECE_CHARS
    return MAX_PIECE_CHARS


def bounded_pieces(text: str) -> list[str]:
    """`text` in pieces within `MAX_PIECE_WORDS` and `MAX_PIECE_CHARS`, cut at word boundaries."""
    pieces: list[str] = []
    rest = text.strip()
    while (cut := length_cut(rest)) is not None:
        piece = rest[:cut].strip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
