"""The contracts between the session and the models.

Every stage is a small `typing.Protocol` so that the offline defaults, remote providers and the scripted
engines of the unit tests are interchangeable. The shapes follow what the real engines can do:

* VAD is stateful (Silero keeps a recurrent state), so the server asks a factory for one detector per session;
  scoring is awaited, so detectors of many sessions can share one batched model call.
* STT works on a whole utterance (Whisper has no useful streaming mode on a 2-core CPU).
* The LLM streams text deltas and tool calls; closing the iterator must stop generation (barge-in).
* TTS streams audio for one piece of text; closing the iterator must stop synthesis (barge-in).

Audio crosses these interfaces as numpy arrays: float32 in [-1, 1] for input, int16 for output, mono.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatAudio = npt.NDArray[np.float32]
PcmAudio = npt.NDArray[np.int16]

#: The rate every input engine works at. Session audio is resampled to it once, on arrival.
ENGINE_SAMPLE_RATE = 16000

Role = Literal["system", "user", "assistant", "tool"]


class EngineError(Exception):
    """An engine failed in a way the session reports to the client instead of crashing."""


@dataclass(frozen=True)
class ToolSpec:
    """A function the LLM may call, in JSON-Schema terms (as in `think.functions`)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ToolCall:
    """One call the LLM asked for. `arguments` is JSON text, as every chat API carries it."""

    id: str
    name: str
    arguments: str


@dataclass
class ChatMessage:
    """One entry of the conversation history the session keeps and the LLM reads."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply as the LLM produced it."""

    text: str


LlmEvent = TextDelta | ToolCall


@runtime_checkable
class VoiceActivityDetector(Protocol):
    """Scores fixed-size windows of 16 kHz audio; one instance per session (it is stateful).

    Scoring is asynchronous so that a detector may score the windows of many sessions in one model call
    (Silero runs about 3x cheaper per window in batches); detectors that score one window at a time derive
    from `WindowVad`.
    """

    @property
    def window_samples(self) -> int:
        """How many samples make one window (512 for Silero at 16 kHz)."""
        ...

    async def speech_probabilities(self, windows: FloatAudio) -> Sequence[float]:
        """Probability in [0, 1] that each row of `windows` (shape `(n, window_samples)`) is speech.

        The rows are consecutive audio of this detector's stream, in order.
        """
        ...

    def reset(self) -> None:
        """Forget the recurrent state, e.g. between unrelated streams."""
        ...


class WindowVad(ABC):
    """A detector that scores one window at a time, synchronously (WebRTC, the scripted one)."""

    @property
    @abstractmethod
    def window_samples(self) -> int: ...

    @abstractmethod
    def speech_probability(self, window: FloatAudio) -> float:
        """Probability in [0, 1] that `window` (exactly `window_samples` long) is speech."""

    async def speech_probabilities(self, windows: FloatAudio) -> Sequence[float]:
        return [self.speech_probability(window) for window in windows]

    @abstractmethod
    def reset(self) -> None: ...


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str = "en"


@runtime_checkable
class EndOfTurnModel(Protocol):
    """Judges from the sound of a turn so far (words and intonation) whether the speaker has finished.

    Shared by every session of a server; calls from many sessions may be scored together.
    """

    async def completion_probability(self, audio: FloatAudio) -> float:
        """P(the turn is complete) for 16 kHz audio of the turn up to now, trailing silence included."""
        ...


@runtime_checkable
class SpeechToText(Protocol):
    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        """Transcribe one utterance of 16 kHz mono audio.

        `keyterms` are words the recogniser should favour (`agent.listen.keyterms`). Cancelling the
        awaiting task abandons the result; implementations run the model off the event loop.
        """
        ...


@runtime_checkable
class LanguageModel(Protocol):
    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        model: str | None = None,
    ) -> AsyncGenerator[LlmEvent, None]:
        """Stream the assistant's next reply as text deltas and/or tool calls.

        `messages` starts with the system prompt. The caller may stop iterating at any point and then
        calls `aclose()`; generation must stop promptly (within one token) when that happens.
        """
        ...


@runtime_checkable
class TextToSpeech(Protocol):
    @property
    def sample_rate(self) -> int:
        """The native rate of the audio `synthesize` yields; the session resamples it."""
        ...

    def has_voice(self, voice: str) -> bool:
        """Whether `voice` (an engine voice name) can be synthesised by this engine."""
        ...

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        """Stream int16 mono audio for `text`; stopping iteration and `aclose()` must stop synthesis."""
        ...
