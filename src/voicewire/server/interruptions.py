"""Which words said over the agent interrupt it: a short "Stop." does, a backchannel or a hum does not.

Barge-in by length (`TurnConfig.barge_in_min_speech_ms`) lets a cough or an "mm-hm" pass, but also a short
command; a sound too short to interrupt by its length is transcribed instead (`turns.ShortSoundPaused`), and
this decides from its words. Only words that people use to cut in count: Whisper writes some word for
almost any hum ("hmm" came back as "them."), so a list of backchannels to ignore let one in eight sounds
over the agent interrupt it (`voicewire bench turns`), against one in twelve by length alone.
"""

from __future__ import annotations

from typing import Final

from voicewire.server.reply_guard import words

INTERRUPTING_WORDS: Final = frozenset(
    """stop wait no nope hold hang excuse sorry pardon hey actually but cancel enough pause quiet repeat
    listen""".split()  # noqa: SIM905 - a word list reads better as text
)


def is_interruption(transcript: str) -> bool:
    """Whether a short sound said over the agent holds a word meant to interrupt it."""
    return any(word in INTERRUPTING_WORDS for word in words(transcript))
