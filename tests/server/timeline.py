"""A virtual timeline for session tests (after LiveKit's timeline tests).

Time only moves when the test feeds audio (20 ms per frame, like a live client) or calls `advance`; scripted
engines sleep on the same clock. After each step the event loop runs until the session has reacted, so a
test reads like a transcript of the conversation and never depends on wall-clock speed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from voicewire.audio import encode
from voicewire.engines.base import ChatMessage, ToolCall
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, scripted_registry, tone
from voicewire.protocol import Function, Header, Parameters, SettingsConfigurationOptions
from voicewire.protocol.dialects import EarlyAccess, WireFormat
from voicewire.server import ServerConfig, TurnConfig
from voicewire.server.connection import Connection

FRAME_SECONDS = 0.02
#: Event-loop iterations that let every ready task run to its next real wait.
_SETTLE_ITERATIONS = 200


async def settle() -> None:
    for _ in range(_SETTLE_ITERATIONS):
        await asyncio.sleep(0)


class VirtualClock:
    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order and letting each react."""
        target = self._now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self._now = target
        await settle()


class FakeTransport:
    """Records what the session sends, and when; `close` is remembered, not performed."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self.sent: list[str | bytes] = []
        self.times: list[float] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, message: str | bytes) -> None:
        self.sent.append(message)
        self.times.append(self._clock.now())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


def assert_error(message: dict[str, Any], code: str) -> None:
    """An `Error` with `code`, readable by 3.11 clients (`message`) and v1 ones (`description`) alike."""
    assert message["type"] == "Error"
    assert message["code"] == code
    assert message["description"] and message["message"] == message["description"]


def summary(sent: list[str | bytes]) -> list[str]:
    """Message types in order, with runs of binary frames collapsed to one "<audio>"."""
    out: list[str] = []
    for item in sent:
        name = "<audio>" if isinstance(item, bytes) else json.loads(item)["type"]
        if not (name == "<audio>" and out and out[-1] == "<audio>"):
            out.append(name)
    return out


def pcm_frame(samples: np.ndarray[Any, Any], encoding: str = "linear16") -> bytes:
    return encode(samples.astype(np.int16), encoding)


def speech(seconds: float, rate: int = 16000, amplitude: float = 0.3) -> np.ndarray[Any, Any]:
    return tone(round(seconds * rate), rate, amplitude, frequency=220.0)


def silence(seconds: float, rate: int = 16000) -> np.ndarray[Any, Any]:
    return np.zeros(round(seconds * rate), dtype=np.int16)


def frames(samples: np.ndarray[Any, Any], rate: int = 16000) -> Iterator[np.ndarray[Any, Any]]:
    size = round(FRAME_SECONDS * rate)
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


WEATHER_CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')


def weather_settings(url: str | None = None, method: str = "post") -> SettingsConfigurationOptions:
    """Settings offering `get_weather`: client-side, or called by the server at `url`."""
    settings = SettingsConfigurationOptions()
    settings.agent.think.functions = [
        Function(
            name="get_weather",
            description="Weather for a city",
            url=url,
            method=method if url else None,
            headers=[Header("authorization", "Bearer secret")] if url else None,
            parameters=Parameters(
                properties={"city": {"type": "string", "description": "city"}}, required=["city"]
            ),
        )
    ]
    return settings


#: Typical v1 settings, as the official clients send them.
V1_SETTINGS: dict[str, Any] = {
    "type": "Settings",
    "audio": {
        "input": {"encoding": "linear16", "sample_rate": 16000},
        "output": {"encoding": "linear16", "sample_rate": 16000, "container": "none"},
    },
    "agent": {
        "listen": {"provider": {"type": "deepgram", "model": "nova-3"}},
        # No provider type: the server's own model answers without a PROVIDER_FALLBACK warning.
        "think": {"prompt": "You are a helpful voice assistant."},
        "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
    },
}

#: Every onset interrupts the agent here; the barge-in minimum has its own tests (test_session_turns.py).
TEST_TURNS = TurnConfig(
    end_of_turn_ms=300, onset_windows=3, min_speech_ms=150, preroll_ms=200, tail_ms=200,
    speculative_stt=False, barge_in_min_speech_ms=0,
)  # fmt: skip


class Timeline:
    """A session on a virtual clock with scripted engines, driven like a live client."""

    def __init__(
        self,
        *,
        clock: VirtualClock | None = None,
        config: ServerConfig | None = None,
        stt: ScriptedStt | None = None,
        llm: ScriptedLlm | None = None,
        tts: ScriptedTts | None = None,
        wire: WireFormat | None = None,
    ) -> None:
        """Engines given here should sleep on `clock` (pass the same one); the client speaks early access
        unless `wire` says otherwise."""
        self.clock = clock or VirtualClock()
        self.stt = stt or ScriptedStt(["hello there"], sleep=self.clock.sleep)
        self.llm = llm or ScriptedLlm(sleep=self.clock.sleep)
        self.tts = tts or ScriptedTts(sleep=self.clock.sleep)
        self.registry = scripted_registry(stt=self.stt, llm=self.llm, tts=self.tts)
        self.config = config or ServerConfig(turns=TEST_TURNS)
        self.transport = FakeTransport(self.clock)
        self.connection = Connection(
            self.config,
            self.registry,
            self.transport,
            wire or EarlyAccess(),
            clock=self.clock,
            session_id="test",
        )
        self.session = self.connection.session
        self.encoding = "linear16"
        self.rate = 16000

    async def __aenter__(self) -> Timeline:
        self.session.start()
        await settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.aclose()

    # -- client actions ----------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.connection.receive(message if isinstance(message, str) else json.dumps(message))
        await settle()

    async def configure(self, settings: SettingsConfigurationOptions | None = None, **audio: Any) -> None:
        settings = settings or SettingsConfigurationOptions()
        if "encoding" in audio:
            settings.audio.input.encoding = audio["encoding"]
        if "rate" in audio:
            settings.audio.input.sample_rate = audio["rate"]
        self.encoding = settings.audio.input.encoding or "linear16"
        self.rate = settings.audio.input.sample_rate or 16000
        await self.send(str(settings))

    async def feed(self, samples: np.ndarray[Any, Any]) -> None:
        """Send audio in 20 ms frames, advancing the clock by each frame's duration."""
        for frame in frames(samples, self.rate):
            await self.clock.advance(len(frame) / self.rate)
            await self.connection.receive(pcm_frame(frame, self.encoding))

    async def say(self, seconds: float = 0.5, *, pause: float = 0.5) -> None:
        """Speak for `seconds`, then stay silent for `pause` (longer than end of turn: the turn ends)."""
        await self.feed(speech(seconds, self.rate))
        await self.feed(silence(pause, self.rate))

    async def quiet(self, seconds: float) -> None:
        await self.feed(silence(seconds, self.rate))

    # -- observations ------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.transport.sent if isinstance(m, str)]

    def of_type(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == name]

    @property
    def summary(self) -> list[str]:
        return summary(self.transport.sent)

    @property
    def audio(self) -> bytes:
        return b"".join(m for m in self.transport.sent if isinstance(m, bytes))

    def mark(self) -> int:
        """A position in the sent messages, for `since`."""
        return len(self.transport.sent)

    def since(self, mark: int) -> list[str]:
        return summary(self.transport.sent[mark:])

    def history(self) -> list[tuple[str, str]]:
        return [(m.role, m.content) for m in self.session.history]

    @staticmethod
    def chat(messages: list[ChatMessage]) -> list[tuple[str, str]]:
        return [(m.role, m.content) for m in messages]
