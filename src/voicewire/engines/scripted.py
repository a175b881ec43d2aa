"""Scripted engines: deterministic stand-ins for unit tests and the server capacity benchmark.

They behave like the real engines where the session can tell the difference (the VAD reacts to the audio,
the LLM streams token by token and stops when closed, TTS yields audio in chunks whose length follows the
text) but cost nothing. Delays go through an injectable `sleep`, so a test on a virtual clock controls them.
They are never a default: only `scripted_registry` and explicit construction use them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence

import numpy as np

from voicewire.engines.base import (
    ENGINE_SAMPLE_RATE,
    ChatMessage,
    FloatAudio,
    LlmEvent,
    PcmAudio,
    TextDelta,
    ToolCall,
    ToolSpec,
    Transcript,
    WindowVad,
)
from voicewire.engines.registry import EngineRegistry

Sleep = Callable[[float], Awaitable[None]]


class ScriptedVad(WindowVad):
    """Speech probability from signal energy: 1.0 above `threshold` RMS, 0.0 below, so tones drive it."""

    def __init__(self, threshold: float = 0.02, window_samples: int = 512) -> None:
        self.threshold = threshold
        self._window_samples = window_samples

    @property
    def window_samples(self) -> int:
        return self._window_samples

    def speech_probability(self, window: FloatAudio) -> float:
        rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64)))) if len(window) else 0.0
        return 1.0 if rms >= self.threshold else 0.0

    def reset(self) -> None:
        """Stateless: nothing to forget."""


class ScriptedEndOfTurn:
    """Answers P(turn complete) with `judge(audio)` after `delay` on the injected clock; records each call."""

    def __init__(
        self, judge: Callable[[FloatAudio], float], *, delay: float = 0.0, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._judge = judge
        self.delay = delay
        self._sleep = sleep
        #: The audio of every call, in order.
        self.calls: list[FloatAudio] = []

    async def completion_probability(self, audio: FloatAudio) -> float:
        self.calls.append(audio)
        if self.delay:
            await self._sleep(self.delay)
        return self._judge(audio)


class ScriptedStt:
    """Returns the scripted transcripts in order (the last one repeats), or what `transcribe_with` says."""

    def __init__(
        self,
        transcripts: Sequence[str] = ("hello",),
        *,
        transcribe_with: Callable[[FloatAudio], str] | None = None,
        delay: float = 0.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._transcripts = list(transcripts)
        self._transcribe_with = transcribe_with
        self.delay = delay
        self._sleep = sleep
        #: Every utterance received, in order.
        self.utterances: list[FloatAudio] = []
        self.keyterms: list[tuple[str, ...]] = []

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        self.utterances.append(audio)
        self.keyterms.append(tuple(keyterms))
        if self.delay:
            await self._sleep(self.delay)
        if self._transcribe_with is not None:
            return Transcript(self._transcribe_with(audio))
        index = min(len(self.utterances), len(self._transcripts)) - 1
        return Transcript(self._transcripts[index] if index >= 0 else "")


Script = Sequence[str | ToolCall]
Responder = Callable[[Sequence[ChatMessage]], Script]


def echo(messages: Sequence[ChatMessage]) -> Script:
    """The default reply: repeat the last user or tool message."""
    last = next((m for m in reversed(messages) if m.role in ("user", "tool")), None)
    if last is None:
        return ["Hello."]
    return [f"You said: {last.content}."] if last.role == "user" else [f"The result is {last.content}."]


class ScriptedLlm:
    """Streams scripted replies word by word; the next script is used for each `stream` call.

    A script is a sequence of text and `ToolCall`s; text is split into word deltas. When the scripts run out,
    `respond` (default: `echo`) makes the reply from the messages. `closed` counts streams that were closed
    before their end (barge-in) so tests can check that generation stopped.
    """

    def __init__(
        self,
        scripts: Iterable[Script] = (),
        *,
        respond: Responder = echo,
        token_delay: float = 0.0,
        first_token_delay: float = 0.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._scripts = list(scripts)
        self._respond = respond
        self.token_delay = token_delay
        self.first_token_delay = first_token_delay
        self._sleep = sleep
        #: What each `stream` call received: the messages and the tools.
        self.requests: list[tuple[list[ChatMessage], list[ToolSpec]]] = []
        self.models: list[str | None] = []
        self.closed = 0
        self.completed = 0

    def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = (), model: str | None = None
    ) -> AsyncGenerator[LlmEvent, None]:
        self.requests.append(([_copy(m) for m in messages], list(tools)))
        self.models.append(model)
        script = self._scripts.pop(0) if self._scripts else self._respond(messages)
        return self._generate(script)

    async def _generate(self, script: Script) -> AsyncGenerator[LlmEvent, None]:
        finished = False
        try:
            if self.first_token_delay:
                await self._sleep(self.first_token_delay)
            for part in script:
                if isinstance(part, ToolCall):
                    yield part
                    continue
                for token in _tokens(part):
                    if self.token_delay:
                        await self._sleep(self.token_delay)
                    yield TextDelta(token)
            finished = True
            self.completed += 1
        finally:
            if not finished:
                self.closed += 1


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def _copy(message: ChatMessage) -> ChatMessage:
    return ChatMessage(message.role, message.content, list(message.tool_calls), message.tool_call_id)


class ScriptedTts:
    """A 440 Hz tone of `seconds_per_char` per character, yielded in `chunk_seconds` chunks.

    `voices` are the names `has_voice` accepts (None: any). `requests` records (text, voice) per call, and
    `closed` counts syntheses stopped before their end.
    """

    def __init__(
        self,
        *,
        sample_rate: int = ENGINE_SAMPLE_RATE,
        seconds_per_char: float = 0.01,
        chunk_seconds: float = 0.05,
        chunk_delay: float = 0.0,
        amplitude: float = 0.3,
        voices: Iterable[str] | None = ("scripted",),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._sample_rate = sample_rate
        self.seconds_per_char = seconds_per_char
        self.chunk_seconds = chunk_seconds
        self.chunk_delay = chunk_delay
        self.amplitude = amplitude
        self._voices = None if voices is None else frozenset(voices)
        self._sleep = sleep
        self.requests: list[tuple[str, str | None]] = []
        self.closed = 0

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def has_voice(self, voice: str) -> bool:
        return self._voices is None or voice in self._voices

    def duration(self, text: str) -> float:
        return len(text) * self.seconds_per_char

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        self.requests.append((text, voice))
        return self._generate(text)

    async def _generate(self, text: str) -> AsyncGenerator[PcmAudio, None]:
        total = round(self.duration(text) * self._sample_rate)
        chunk = max(1, round(self.chunk_seconds * self._sample_rate))
        finished = False
        try:
            for start in range(0, total, chunk):
                if self.chunk_delay:
                    await self._sleep(self.chunk_delay)
                yield tone(min(chunk, total - start), self._sample_rate, self.amplitude, offset=start)
            finished = True
        finally:
            if not finished:
                self.closed += 1


def tone(
    samples: int, sample_rate: int, amplitude: float = 0.3, *, frequency: float = 440.0, offset: int = 0
) -> PcmAudio:
    """A sine tone as int16: loud enough for `ScriptedVad`, continuous across chunks via `offset`."""
    t = (np.arange(samples) + offset) / sample_rate
    return np.rint(np.sin(2 * np.pi * frequency * t) * amplitude * 32767).astype(np.int16)


def scripted_registry(
    *,
    vad: Callable[[], ScriptedVad] = ScriptedVad,
    stt: ScriptedStt | None = None,
    llm: ScriptedLlm | None = None,
    tts: ScriptedTts | None = None,
    end_of_turn: ScriptedEndOfTurn | None = None,
) -> EngineRegistry:
    """An `EngineRegistry` of scripted engines: every model and voice name maps onto them."""
    return EngineRegistry(
        vad_factory=vad,
        stt=stt or ScriptedStt(),
        llm=llm or ScriptedLlm(),
        tts=tts or ScriptedTts(),
        end_of_turn=end_of_turn,
    )
