"""Cut a streamed LLM reply into pieces that TTS can start on while the LLM goes on.

TTS engines synthesise a whole piece at once, so the first piece decides when the agent starts talking. It
is therefore cut early: at the first comma, semicolon or colon after a few words ("Sure, I can check that,
..."); in a sentence without one, before a word that starts a clause ("Promote the general
welfare | and secure ...", "Your internet has been down | since ..."); and after `FIRST_PIECE_MAX_WORDS`
words at the latest. A small model's first sentence often runs to 20 words, and Piper needed 0.7-1.4 s for
such a piece while the LLM went on generating on the same cores.

Later pieces are whole sentences, cut at `.`, `!` or `?` followed by white space, unless they run long: a
long sentence may be cut at a clause break after `LONG_PIECE_MIN_WORDS` words, and any piece is cut at a word
boundary before it exceeds `MAX_PIECE_WORDS` words or `MAX_PIECE_CHARS` characters (`engines._text`), so no
text, however long or unpunctuated, reaches TTS as one call. A
period does not end a sentence inside a number ("3.5"), after a title ("Mr."), after an initial ("J.") or
inside a dotted abbreviation ("e.g.", "U.S.").
"""

from __future__ import annotations

import re

from voicewire.engines._text import bounded_pieces, length_cut

#: Words before the first clause break that may be cut off as the first piece.
FIRST_PIECE_MIN_WORDS = 4
#: Words after which the first piece is cut at a word boundary, clause or not. Each word is about 25 ms of
#: SmolLM2 and 10 ms of Piper before the first audio: 5 instead of 7 took the LLM's first piece from 257 to
#: 209 ms and Piper's from 172 to 144 ms (p50, `voicewire bench latency`).
FIRST_PIECE_MAX_WORDS = 5
#: Words after which a later sentence may also be cut at a clause break.
LONG_PIECE_MIN_WORDS = 20

#: Words the first piece may be cut before: conjunctions, relative pronouns, copulas; speech pauses there.
#: Not "that" or "so", which as often start no clause ("check that for you", "so much").
_CLAUSE_STARTERS = frozenset(
    """and but or because since although though which who whom whose where when while if unless until is
    are was were""".split()  # noqa: SIM905 - a word list reads better as text
)

_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt vs etc approx dept est fig inc ltd co corp no vol
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()  # noqa: SIM905 - a word list reads better
)
_OPENERS = "\"'([{\u201c\u2018"
_CLOSERS = "\"')]}\u201d\u2019"
_BREAK = re.compile(r"[.!?]+|[,;:]|\n")
_WORD = re.compile(r"\S+")


def _ends_abbreviation(text: str) -> bool:
    """Whether the period at the end of `text` belongs to an abbreviation rather than ending a sentence."""
    word = text[:-1].rsplit(maxsplit=1)[-1] if text[:-1].split() else ""
    word = word.lstrip(_OPENERS).lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True
    return "." in word or word in _ABBREVIATIONS


class SentenceSplitter:
    """Feed text deltas with `push`; take the rest with `flush` when the stream ends."""

    def __init__(self) -> None:
        self._buffer = ""
        self._scanned = 0
        self._first = True

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        pieces: list[str] = []
        while (cut := self._cut()) is not None:
            piece = self._buffer[:cut].strip()
            self._buffer = self._buffer[cut:]
            self._scanned = 0
            if piece:
                pieces.append(piece)
                self._first = False
        return pieces

    def flush(self) -> list[str]:
        pieces = bounded_pieces(self._buffer)
        self._buffer = ""
        self._scanned = 0
        if pieces:
            self._first = False
        return pieces

    def _cut(self) -> int | None:
        candidates = [self._next_cut(), length_cut(self._buffer.lstrip())]
        if candidates[1] is not None:
            candidates[1] += len(self._buffer) - len(self._buffer.lstrip())
        if self._first:
            candidates.append(self._word_cut())
        known = [cut for cut in candidates if cut is not None]
        return min(known) if known else None

    def _word_cut(self) -> int | None:
        """Where the first piece ends at a word boundary: before a clause starter or the word past the cap."""
        complete = [word for word in _WORD.finditer(self._buffer) if word.end() < len(self._buffer)]
        for before, word in enumerate(complete):
            if before < FIRST_PIECE_MIN_WORDS:
                continue
            bare = word.group().strip(_OPENERS).lower()
            if before >= FIRST_PIECE_MAX_WORDS or bare in _CLAUSE_STARTERS:
                return word.start()
        return None

    def _next_cut(self) -> int | None:
        """The index after the first break that is followed by white space, or None if none is known yet."""
        for match in _BREAK.finditer(self._buffer, self._scanned):
            end = match.end()
            while end < len(self._buffer) and self._buffer[end] in _CLOSERS:
                end += 1
            if end >= len(self._buffer):
                return None  # the next delta decides (e.g. "3." + "5", or "." + " Next")
            self._scanned = match.start() + 1
            mark = match.group()
            if mark == "\n":
                return end
            if not self._buffer[end].isspace():
                continue
            if mark in ",;:":
                words = len(self._buffer[: match.start()].split())
                if words >= (FIRST_PIECE_MIN_WORDS if self._first else LONG_PIECE_MIN_WORDS):
                    return end
                continue
            if mark == "." and _ends_abbreviation(self._buffer[: match.end()]):
                continue
            return end
        return None
