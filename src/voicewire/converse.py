"""`voicewire converse`: one real conversation from an audio file, through voicewire's own SDK client.

It is the end-to-end check a user runs first: the file is streamed like a microphone would (real time, or its
speech `--speed` times faster, pauses still in real time; then silence, as a muted microphone sends), the
agent's events are recorded with their time since connect, and the agent's audio is collected into a WAV file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voicewire.audio import bytes_per_sample, decode, encode, read_wav, write_wav
from voicewire.client import AsyncAgentWebSocketClient, ClientOptions
from voicewire.protocol import (
    AgentStartedSpeakingResponse,
    AgentWebSocketEvents,
    ConversationTextResponse,
    ErrorResponse,
    FunctionCallRequest,
    SettingsConfigurationOptions,
)

#: Output format asked of the agent: plain 16 kHz linear16, written to the WAV file as it arrives.
OUTPUT_RATE = 16000
#: Microphone-like frames: 20 ms of audio each.
FRAME_SECONDS = 0.02
#: A frame this far below loud speech (-20 dB) is a pause, sent in real time whatever `--speed` says.
_PAUSE_LEVEL = 0.1


@dataclass
class Conversation:
    """What the client saw: the fields of `--json`."""

    #: `(role, text)` of every ConversationText, in the order they arrived.
    turns: list[tuple[str, str]] = field(default_factory=list)
    agent_audio: bytearray = field(default_factory=bytearray)
    latencies: list[dict[str, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Why the conversation ended before the agent's reply: a fatal error, a close, an unanswerable call.
    fatal: str | None = None

    @property
    def user_transcripts(self) -> list[str]:
        return [text for role, text in self.turns if role == "user"]

    @property
    def agent_transcripts(self) -> list[str]:
        return [text for role, text in self.turns if role != "user"]

    @property
    def agent_audio_seconds(self) -> float:
        return len(self.agent_audio) / 2 / OUTPUT_RATE

    def to_json(self) -> dict[str, Any]:
        return {
            "user_transcripts": self.user_transcripts,
            "agent_transcripts": self.agent_transcripts,
            "agent_audio_seconds": round(self.agent_audio_seconds, 3),
            "latencies": self.latencies,
            "events": self.events,
            "errors": self.errors,
            "fatal": self.fatal,
        }


#: Errors after which the agent still answers: a server-side function failed, or a stray response id.
RECOVERABLE_ERRORS = frozenset({"FUNCTION_CALL_FAILED", "UNKNOWN_FUNCTION_CALL_ID"})


class _Recorder:
    """Collects events as handlers, answers client-side function calls, notices when to give up.

    converse sends only audio, so any other Error (and a close) means no reply is coming: waiting out the
    timeout would only hide why.
    """

    def __init__(self, started: float, functions: Mapping[str, Any] | None) -> None:
        self.conversation = Conversation()
        self._started = started
        self._functions = functions
        self.replies_done = 0
        self.last_event_at = started

    def attach(self, client: AsyncAgentWebSocketClient) -> None:
        for event in AgentWebSocketEvents:
            client.on(event, self._handler(event))

    def _handler(self, event: AgentWebSocketEvents) -> Any:
        async def handle(client: AsyncAgentWebSocketClient, **payload: Any) -> None:
            self.record(event, payload)
            request = payload.get("function_call_request")
            if isinstance(request, FunctionCallRequest):
                await self._answer(client, request)

        return handle

    def record(self, event: AgentWebSocketEvents, payload: dict[str, Any]) -> None:
        now = time.monotonic()
        self.last_event_at = now
        conversation = self.conversation
        if event is AgentWebSocketEvents.AudioData:
            conversation.agent_audio.extend(payload["data"])
            return
        conversation.events.append({"type": event.value, "t": round(now - self._started, 3)})
        message = next(iter(payload.values()), None)
        if isinstance(message, ConversationTextResponse):
            conversation.turns.append((message.role, message.content))
        elif isinstance(message, AgentStartedSpeakingResponse):
            conversation.latencies.append(
                {
                    "total_latency": message.total_latency,
                    "tts_latency": message.tts_latency,
                    "ttt_latency": message.ttt_latency,
                }
            )
        elif isinstance(message, ErrorResponse):
            text = message.description or message.message
            conversation.errors.append(text)
            if message.code not in RECOVERABLE_ERRORS:
                self._give_up(f"the agent sent an error: {text}")
        elif event is AgentWebSocketEvents.AgentAudioDone:
            self.replies_done += 1
        elif event is AgentWebSocketEvents.Close and not self.replies_done:
            self._give_up("the agent closed the connection before replying")

    async def _answer(self, client: AsyncAgentWebSocketClient, request: FunctionCallRequest) -> None:
        name = request.function_name
        if self._functions is None:
            self._give_up(
                f"the agent called the client-side function {name!r}; "
                "give canned results with --functions FILE (a JSON object: name → result)"
            )
        elif name not in self._functions:
            self._give_up(
                f"the agent called the client-side function {name!r}, which --functions has no result for"
            )
        else:
            await client.send_function_call_response(request.function_call_id, self._functions[name])

    def _give_up(self, reason: str) -> None:
        if self.conversation.fatal is None:
            self.conversation.fatal = reason


def settings_for(
    encoding: str, sample_rate: int, base: dict[str, Any] | None
) -> SettingsConfigurationOptions:
    """The user's settings (if any) with the audio formats this run needs."""
    settings = SettingsConfigurationOptions.from_dict(base or {"type": "SettingsConfiguration"})
    settings.audio.input.encoding = encoding
    settings.audio.input.sample_rate = sample_rate
    settings.audio.output.encoding = "linear16"
    settings.audio.output.sample_rate = OUTPUT_RATE
    settings.audio.output.container = "none"
    return settings


async def converse(
    audio_path: Path,
    url: str,
    *,
    speed: float = 1.0,
    settings: dict[str, Any] | None = None,
    api_key: str = "",
    functions: Mapping[str, Any] | None = None,
    dialect: str = "early-access",
    reply_timeout: float = 30.0,
    settle_seconds: float = 1.0,
) -> Conversation:
    """Stream `audio_path` to the agent at `url` and wait for its reply.

    `functions` maps client-side function names to canned results (text as is, anything else as JSON).
    `dialect` is the client's protocol: "early-access" (`/agent`) or "v1" (`/v1/agent/converse`); the
    settings are given in the early-access shape either way and translated for v1.
    """
    wav = read_wav(audio_path)
    if wav.channels != 1:
        raise ValueError(f"{audio_path}: only mono audio can be streamed, not {wav.channels} channels")
    samples_per_frame = max(1, int(wav.sample_rate * FRAME_SECONDS))
    bytes_per_frame = samples_per_frame * bytes_per_sample(wav.encoding)
    silence = encode(np.zeros(samples_per_frame, np.int16), wav.encoding)
    client = AsyncAgentWebSocketClient(ClientOptions(api_key=api_key, url=url, options={"dialect": dialect}))
    recorder = _Recorder(time.monotonic(), functions)
    recorder.attach(client)
    if not await client.start(settings_for(wav.encoding, wav.sample_rate, settings)):
        raise ConnectionError(f"could not connect to the agent at {url}")
    try:
        speech = [wav.data[i : i + bytes_per_frame] for i in range(0, len(wav.data), bytes_per_frame)]
        async for frame in paced(speech, frame_intervals(speech, wav.encoding, speed)):
            if recorder.conversation.fatal is not None:
                break
            await client.send(frame)
        deadline = time.monotonic() + reply_timeout
        async for frame in paced(itertools.repeat(silence), FRAME_SECONDS):
            if recorder.conversation.fatal is not None:
                break
            await client.send(frame)
            now = time.monotonic()
            answered = recorder.replies_done > 0 and now - recorder.last_event_at > settle_seconds
            if answered:
                break
            if now > deadline:
                recorder.conversation.fatal = f"no reply from the agent within {reply_timeout:g} s"
                break
    finally:
        await client.finish()
    return recorder.conversation


def frame_intervals(frames: Sequence[bytes], encoding: str, speed: float) -> list[float]:
    """Seconds to wait after each frame: speech goes `speed` times faster, pauses always go in real time.

    Where a turn ends, and whether the next speech counts as a barge-in or a turn of its own, depends on
    how long the pause lasts in wall time against the server's STT and LLM, which no speed-up makes faster.
    Sped-up pauses made 4 user turns at 1x into 1 at 4x; real-time pauses make the same turns at any speed.
    A frame is a pause when it is 20 dB below the file's loud speech (its 95th-percentile frame level).
    """
    levels = np.array([_rms(decode(frame, encoding)) for frame in frames])
    if not len(levels):
        return []
    quiet = levels < _PAUSE_LEVEL * np.percentile(levels, 95)
    return [FRAME_SECONDS if is_quiet else FRAME_SECONDS / speed for is_quiet in quiet]


def _rms(pcm: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) if len(pcm) else 0.0


async def paced(
    frames: Iterable[bytes], interval: float | Iterable[float], start: float | None = None
) -> AsyncIterator[bytes]:
    """Yield frames on the wall clock from `start` (default: now), without drift: one every `interval`
    seconds, or after each frame as long as its entry in a sequence of intervals."""
    due = time.monotonic() if start is None else start
    intervals = itertools.repeat(interval) if isinstance(interval, float | int) else iter(interval)
    for frame, wait in zip(frames, intervals, strict=False):
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        yield frame
        due += wait


def format_conversation(conversation: Conversation, out: Path | None) -> str:
    lines = []
    for event in conversation.events:
        lines.append(f"  {event['t']:7.3f}s  {event['type']}")
    turns = [f"{'user:  ' if role == 'user' else 'agent: '}{text}" for role, text in conversation.turns]
    latency_lines = [
        f"latency: total {lat['total_latency']:.3f}s"
        f" (text {lat['ttt_latency']:.3f}s, speech {lat['tts_latency']:.3f}s)"
        for lat in conversation.latencies
    ]
    summary = [f"agent audio: {conversation.agent_audio_seconds:.2f}s"]
    if out is not None:
        summary[0] += f", written to {out}"
    errors = [f"error: {text}" for text in conversation.errors]
    return "\n".join(["events:", *lines, "", *turns, *latency_lines, *summary, *errors])


def load_functions(path: Path) -> dict[str, Any]:
    """The `--functions` file: a JSON object mapping each client-side function name to its result."""
    functions = json.loads(path.read_text())
    if not isinstance(functions, dict):
        raise ValueError(f"{path}: expected a JSON object mapping function names to results")
    return functions


async def run(
    audio_path: Path,
    *,
    url: str | None,
    out: Path | None,
    speed: float,
    settings_path: Path | None,
    config_path: Path | None = None,
    api_key: str = "",
    functions_path: Path | None = None,
    dialect: str = "early-access",
) -> Conversation:
    """Run one conversation, starting the server in-process when no `url` is given."""
    settings = json.loads(await asyncio.to_thread(settings_path.read_text)) if settings_path else None
    functions = await asyncio.to_thread(load_functions, functions_path) if functions_path else None
    async with contextlib.AsyncExitStack() as stack:
        if url is None:
            local_url, server_keys = await stack.enter_async_context(_local_server(config_path))
            api_key = api_key or next(iter(server_keys), "")
        agent_url = local_url if url is None else url
        conversation = await converse(
            audio_path,
            agent_url,
            speed=speed,
            settings=settings,
            api_key=api_key,
            functions=functions,
            dialect=dialect,
        )
    if out is not None:
        write_wav(out, bytes(conversation.agent_audio), OUTPUT_RATE)
    return conversation


@contextlib.asynccontextmanager
async def _local_server(config_path: Path | None) -> AsyncIterator[tuple[str, tuple[str, ...]]]:
    """The server with the configured (by default the offline) engines, on a free loopback port: its URL
    and its API keys, so that a config with `api_keys` does not lock its own client out."""
    from voicewire.engines.registry import EngineConfig, EngineRegistry
    from voicewire.server.app import AgentServer
    from voicewire.server.config import load_config

    config = dataclasses.replace(load_config(config_path), host="127.0.0.1", port=0)
    registry = await EngineRegistry.load_warm(EngineConfig.from_mapping(config.engines, environ=os.environ))
    try:
        async with AgentServer(config, registry) as server:
            yield server.url, config.api_keys
    finally:
        await registry.aclose()
