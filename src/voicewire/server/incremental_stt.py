"""Transcribe a long turn piece by piece while the user is still talking, so its end costs a short tail.

Whisper's cost grows with the audio (and past 20 s it takes the padded 30 s path), and a 26 s turn reached its
end of turn with nothing transcribed: 1.2-1.3 s from end of speech to the first reply audio on an idle box,
3-5 s on a busy one. Speculative STT already asks for a transcript at every pause of a turn; this wrapper
turns those pauses into segment boundaries. When a request holds at least `min_segment_s` of audio not yet
transcribed, that stretch (from the last boundary to this pause) becomes a segment: it is transcribed once,
to completion even if the speech resumes and the request is cancelled, and every later request of the same
turn reuses its text and transcribes only the audio after it. Short turns go through unchanged.

A request belongs to the same turn when its audio starts with the audio of the segments already done (the
turn detector only appends to a turn, so each pause's utterance is a prefix of the final one); anything
else starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError, FloatAudio, SpeechToText, Transcript

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Segment:
    end: int
    text: str


class IncrementalStt:
    """One session's recogniser: `stt` plus the finished segments of the turn in progress."""

    def __init__(self, stt: SpeechToText, *, min_segment_s: float = 4.0) -> None:
        self.stt = stt
        self._min_segment = round(min_segment_s * ENGINE_SAMPLE_RATE)
        self._audio = np.empty(0, dtype=np.float32)  # the audio the segments cover
        self._segments: list[_Segment] = []
        self._job: asyncio.Task[_Segment | None] | None = None

    @property
    def segments(self) -> list[str]:
        """Texts of the segments finished so far in the current turn."""
        return [segment.text for segment in self._segments]

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        if self._job is not None:  # a segment of this turn may be finishing: use it rather than redo it
            await asyncio.wait([self._job])
            self._job = None
        done = self._reusable(audio)
        rest = audio[done:]
        if len(rest) < self._min_segment:
            if done and not len(rest):
                return self._joined()
            return self._joined((await self.stt.transcribe(rest, keyterms=keyterms)).text)
        self._job = asyncio.create_task(self._transcribe_segment(audio, done, keyterms))
        segment = await asyncio.shield(self._job)  # cancelling the request does not stop the segment
        if segment is None:
            raise EngineError("speech recognition of a segment failed")
        return self._joined()

    def _reusable(self, audio: FloatAudio) -> int:
        """How much of `audio` the finished segments cover (0 when it is another turn: forget them)."""
        covered = len(self._audio)
        if covered and len(audio) >= covered and np.array_equal(audio[:covered], self._audio):
            return covered
        self._audio = np.empty(0, dtype=np.float32)
        self._segments = []
        return 0

    async def _transcribe_segment(
        self, audio: FloatAudio, start: int, keyterms: Sequence[str]
    ) -> _Segment | None:
        try:
            transcript = await self.stt.transcribe(audio[start:], keyterms=keyterms)
        except EngineError as exc:
            logger.debug("segment transcription failed: %s", exc)
            return None
        segment = _Segment(len(audio), transcript.text.strip())
        self._segments.append(segment)
        self._audio = np.array(audio, dtype=np.float32, copy=True)
        return segment

    def _joined(self, tail: str = "") -> Transcript:
        return Transcript(" ".join(text for text in (*self.segments, tail.strip()) if text))
