"""Which words said over the agent interrupt it: a short "Stop." does, a backchannel does not.

Barge-in by length (`TurnConfig.barge_in_min_speech_ms`) lets a cough or an "mm-hm" pass but also a short
command; a sound too short to interrupt by its length is transcribed instead (`turns.ShortSoundPaused`), and
this decides from its words.
"""

from __future__ import annotations

from typing import Final

from voicewire.server.reply_guard import words

#: Backchannels ("mm-hmm", "uh-huh", "yeah", "right") and what Whisper writes for a cough or a breath ("you",
#: "thank you", "bye").
BACKCHANNEL_WORDS: Final = frozenset(
    """mm mmm hmm hm mhm uh huh um umm ah oh yeah yes yep yup ok okay right sure alright aha you thank thanks
    bye""".split()  # noqa: SIM905 - a word list reads better as text
)


def is_interruption(transcript: str) -> bool:
    """Whether a short sound said over the agent holds a word meant to interrupt it."""
    return any(word not in BACKCHANNEL_WORDS for word in words(transcript))
