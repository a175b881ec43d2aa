"""A remote engine with a local one behind it: when the remote fails, the turn is served locally.

Remote servers go away (a deploy, a network partition, a spent quota); a local model that is already loaded
can still answer, slower or in another voice, which is better than a silent turn. The wrappers satisfy the
same Protocols, log the remote failure as a warning, and only raise `EngineError` when the local engine
fails as well, or when speech already started in the remote voice (a sentence spliced from two voices would
be worse than the session's error).

A remote that failed is not asked again for `retry_after_s` (every session goes straight to the local
engine meanwhile): an endpoint that times out would otherwise cost each turn the whole timeout.

The engines are shared by every session, so they tell the session that fell back through a context
variable the session sets for its own tasks (`fallback_listener`); what it hears names the stage, not the
endpoint or its error, which stay in the server's log.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence

import numpy as np

from voicewire.audio.resample import StreamResampler
from voicewire.engines.base import EngineError, FloatAudio, PcmAudio, SpeechToText, TextToSpeech, Transcript

logger = logging.getLogger(__name__)

#: Called with a description when a remote engine failed and the local one served instead.
fallback_listener: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "fallback_listener", default=None
)


def _tell_listener(description: str) -> None:
    listener = fallback_listener.get()
    if listener is not None:
        listener(description)


class _Backoff:
    """Whether the remote may be asked now: not within `retry_after_s` of its last failure."""

    def __init__(self, retry_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._retry_at = 0.0

    def available(self) -> bool:
        return self._clock() >= self._retry_at

    def failed(self) -> None:
        self._retry_at = self._clock() + self._retry_after_s


class FallbackStt:
    """`primary`, or `fallback` for an utterance on which `primary` raised `EngineError`."""

    def __init__(self, primary: SpeechToText, fallback: SpeechToText, *, retry_after_s: float = 30.0) -> None:
        self.primary = primary
        self.fallback = fallback
        self._backoff = _Backoff(retry_after_s)

    def __repr__(self) -> str:
        return f"FallbackStt({self.primary!r} -> {self.fallback!r})"

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        if self._backoff.available():
            try:
                return await self.primary.transcribe(audio, keyterms=keyterms)
            except EngineError as exc:
                self._backoff.failed()
                logger.warning("remote STT failed, transcribing locally: %s", exc)
        _tell_listener("Remote speech recognition failed; the local recogniser transcribed this turn")
        return await self.fallback.transcribe(audio, keyterms=keyterms)


class FallbackTts:
    """`primary`'s voices at `primary`'s rate; a sentence it fails before any audio is spoken by `fallback`.

    The fallback's audio is resampled to the primary's rate, because the session sized its encoder for the
    rate this engine reports before synthesis started.
    """

    def __init__(
        self,
        primary: TextToSpeech,
        fallback: TextToSpeech,
        fallback_voice: str | None = None,
        *,
        retry_after_s: float = 30.0,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.fallback_voice = fallback_voice
        self._backoff = _Backoff(retry_after_s)

    def __repr__(self) -> str:
        return f"FallbackTts({self.primary!r} -> {self.fallback!r})"

    @property
    def sample_rate(self) -> int:
        return self.primary.sample_rate

    def has_voice(self, voice: str) -> bool:
        return self.primary.has_voice(voice)

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        spoke = False
        if self._backoff.available():
            try:
                async with contextlib.aclosing(self.primary.synthesize(text, voice=voice)) as stream:
                    async for pcm in stream:
                        spoke = True
                        yield pcm
                return
            except EngineError as exc:
                self._backoff.failed()
                if spoke:
                    raise
                logger.warning("remote TTS failed, speaking locally: %s", exc)
        _tell_listener("Remote speech synthesis failed; the local voice speaks this sentence")
        resampler = StreamResampler(self.fallback.sample_rate, self.sample_rate, np.int16)
        async with contextlib.aclosing(self.fallback.synthesize(text, voice=self.fallback_voice)) as stream:
            async for pcm in stream:
                yield resampler.process(pcm)
        tail = resampler.flush()
        if tail.size:
            yield tail
