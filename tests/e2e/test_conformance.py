"""The unmodified deepgram-sdk 3.11 agent clients (sync and async) hold a whole conversation with the server.

The server runs in-process with scripted engines; the client is pointed at it with `members=` exactly as
protocol.md §3 describes. Each test checks what the seed client's users would see: every event type, in
order, with parsed payloads (a malformed message would surface as an Error event and a closed socket).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from deepgram import (
    AgentWebSocketEvents,
    DeepgramClient,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    SettingsConfigurationOptions,
    UpdateInstructionsOptions,
)
from deepgram.clients.agent.v1.websocket.options import Function, Item, Parameters, Properties

import voicewire.protocol as vw
from tests.conftest import TEST_AUDIO
from tests.e2e.recorder import Recorder
from tests.server.net import FAST_TURNS
from tests.server.timeline import pcm_frame, silence, speech
from voicewire.audio import read_wav
from voicewire.client import ClientOptions
from voicewire.client import DeepgramClient as VoicewireClient
from voicewire.engines.base import ToolCall
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, ScriptedVad
from voicewire.server import AgentServer, ServerConfig

pytestmark = pytest.mark.filterwarnings(
    # deepgram-sdk 3.11 uses websockets APIs that websockets 15+ deprecates; not ours to fix.
    "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning",
    "ignore:ConnectionClosed.code is deprecated:DeprecationWarning",
)

API_KEY = "conformance-key-0123456789"
EVENTS = [e for e in AgentWebSocketEvents if e.value not in ("SettingsConfiguration", "AgentKeepAlive")]

SECONDS_PER_CHAR = 0.005
WEATHER = ToolCall("call_7", "get_weather", '{"item": "Paris"}')


def agent_server() -> AgentServer:
    # The seed settings name think.provider.type "open_ai": the operator has configured it (here, the
    # scripted model), so no PROVIDER_FALLBACK warning comes before SettingsApplied.
    llm = ScriptedLlm([["Hello from voicewire. How can I help?"], [WEATHER], ["It is sunny in Paris."]])
    registry = EngineRegistry(
        vad_factory=ScriptedVad,
        stt=ScriptedStt(["hello agent", "what is the weather in Paris"]),
        llm=llm,
        tts=ScriptedTts(seconds_per_char=SECONDS_PER_CHAR),
        providers={"open_ai": llm},
    )
    config = ServerConfig(host="127.0.0.1", port=0, api_keys=(API_KEY,), turns=FAST_TURNS)
    return AgentServer(config, registry)


def seed_settings(encoding: str = "linear16", rate: int = 16000) -> SettingsConfigurationOptions:
    settings = SettingsConfigurationOptions()
    settings.audio.input.encoding = encoding
    settings.audio.input.sample_rate = rate
    settings.audio.output.sample_rate = 24000
    settings.agent.listen.model = "nova-3"
    settings.agent.think.provider.type = "open_ai"
    settings.agent.think.model = "gpt-4o-mini"
    settings.agent.think.instructions = "You are a helpful assistant."
    settings.agent.think.functions = [
        Function(
            name="get_weather",
            description="Weather for a city",
            url="",
            method="",
            parameters=Parameters(
                type="object",
                properties=Properties(item=Item(type="string", description="city")),
                required=["item"],
            ),
        )
    ]
    return settings


def utterance_frames() -> Iterator[bytes]:
    """A tone the scripted VAD hears as speech, then enough silence to end the turn, in 20 ms frames."""
    audio = np.concatenate((speech(0.4), silence(0.4)))
    for start in range(0, len(audio), 320):
        yield pcm_frame(audio[start : start + 320])


#: The events of the whole conversation, Open and Close aside (their position varies, protocol.md §1.6).
CONVERSATION = [
    "Welcome",
    "SettingsApplied",
    # a user turn: the reply is sent sentence by sentence inside one AgentStartedSpeaking/AgentAudioDone
    "UserStartedSpeaking",
    "ConversationText",
    "ConversationText",
    "AgentStartedSpeaking",
    "AudioData",
    "ConversationText",
    "AudioData",
    "AgentAudioDone",
    # UpdateInstructions: the 3.11 client does not model InstructionsUpdated
    "Unhandled",
    # InjectAgentMessage
    "ConversationText",
    "AgentStartedSpeaking",
    "AudioData",
    "AgentAudioDone",
    # a user turn with a client-side function call
    "UserStartedSpeaking",
    "ConversationText",
    "FunctionCallRequest",
    "ConversationText",
    "AgentStartedSpeaking",
    "AudioData",
    "AgentAudioDone",
]


def check_conversation(recorder: Recorder, instructions_ack: str = "Unhandled") -> None:
    """What every client must have seen by the end of the conversation."""
    assert recorder.count("Error") == 0, recorder.payloads("Error")
    expected = [instructions_ack if name == "Unhandled" else name for name in CONVERSATION]
    assert [name for name in recorder.names() if name not in ("Open", "Close")] == expected
    assert recorder.count("Open") == 1 and recorder.count("Close") >= 1
    welcome = recorder.payloads("Welcome")[0]
    assert welcome.session_id
    texts = [(t.role, t.content) for t in recorder.payloads("ConversationText")]
    assert texts == [
        ("user", "hello agent"),
        ("assistant", "Hello from voicewire."),
        ("assistant", "How can I help?"),
        ("assistant", "Injected hello."),
        ("user", "what is the weather in Paris"),
        ("assistant", "It is sunny in Paris."),
    ]
    for started in recorder.payloads("AgentStartedSpeaking"):
        assert started.total_latency >= started.ttt_latency >= 0 and started.tts_latency >= 0
    assert recorder.count("AgentStartedSpeaking") == recorder.count("AgentAudioDone") == 3
    request = recorder.payloads("FunctionCallRequest")[0]
    assert (request.function_name, request.function_call_id) == ("get_weather", "call_7")
    assert json.loads(request.input) == {"item": "Paris"}  # JSON text, not a Python repr
    audio = b"".join(e.kwargs_data for e in recorder.payloads("AudioData"))
    spoken = sum(len(content) for role, content in texts if role == "assistant")
    assert len(audio) == pytest.approx(spoken * SECONDS_PER_CHAR * 24000 * 2, abs=16)  # linear16 at 24 kHz
    if instructions_ack == "Unhandled":
        assert [json.loads(u.raw)["type"] for u in recorder.payloads("Unhandled")] == ["InstructionsUpdated"]


class AudioPayload:
    def __init__(self, data: bytes) -> None:
        self.kwargs_data = data


def payload_of(kwargs: dict[str, Any], args: tuple[Any, ...]) -> Any:
    if "data" in kwargs:
        return AudioPayload(kwargs["data"])
    values = list(kwargs.values()) or list(args)
    return values[0] if values else None


# -- the sync client -------------------------------------------------------------------------------------


def converse_sync(url: str, recorder: Recorder) -> None:
    connection = DeepgramClient(API_KEY).agent.websocket.v("1")

    def handler(name: str, client: Any, *args: Any, **kwargs: Any) -> None:
        recorder.record(name, payload_of(kwargs, args))
        if name == "FunctionCallRequest":
            request = kwargs["function_call_request"]
            output = json.dumps({"forecast": "sunny"})
            client.send(str(FunctionCallResponse(function_call_id=request.function_call_id, output=output)))

    for event in EVENTS:
        connection.on(event, functools.partial(handler, event.value))
    assert connection.start(seed_settings(), members={"_websocket_url": url})
    try:
        recorder.wait_for("SettingsApplied")
        for frame in utterance_frames():
            connection.send(frame)
        recorder.wait_for("AgentAudioDone")
        connection.send(str(UpdateInstructionsOptions(instructions="Be brief.")))
        recorder.wait_for("Unhandled")
        connection.send(str(InjectAgentMessageOptions(message="Injected hello.")))
        recorder.wait_for("AgentAudioDone", 2)
        for frame in utterance_frames():
            connection.send(frame)
        recorder.wait_for("FunctionCallRequest")
        recorder.wait_for("AgentAudioDone", 3)
    finally:
        connection.finish()


async def test_the_seed_sync_client_holds_a_whole_conversation() -> None:
    recorder = Recorder()
    async with agent_server() as server:
        await asyncio.to_thread(converse_sync, server.url, recorder)
        assert server.sessions_served == 1
    check_conversation(recorder)
    assert recorder.names()[-1] == "Close"


# -- the async client ------------------------------------------------------------------------------------


async def converse_async(url: str, recorder: Recorder) -> None:
    connection = DeepgramClient(API_KEY).agent.asyncwebsocket.v("1")

    async def handler(name: str, client: Any, *args: Any, **kwargs: Any) -> None:
        recorder.record(name, payload_of(kwargs, args))
        if name == "FunctionCallRequest":
            request = kwargs["function_call_request"]
            output = json.dumps({"forecast": "sunny"})
            await client.send(
                str(FunctionCallResponse(function_call_id=request.function_call_id, output=output))
            )

    for event in EVENTS:
        connection.on(event, functools.partial(handler, event.value))
    assert await connection.start(seed_settings(), members={"_websocket_url": url})
    try:
        await asyncio.to_thread(recorder.wait_for, "SettingsApplied")
        for frame in utterance_frames():
            await connection.send(frame)
        await asyncio.to_thread(recorder.wait_for, "AgentAudioDone")
        await connection.send(str(UpdateInstructionsOptions(instructions="Be brief.")))
        await asyncio.to_thread(recorder.wait_for, "Unhandled")
        await connection.send(str(InjectAgentMessageOptions(message="Injected hello.")))
        await asyncio.to_thread(recorder.wait_for, "AgentAudioDone", 2)
        for frame in utterance_frames():
            await connection.send(frame)
        await asyncio.to_thread(recorder.wait_for, "AgentAudioDone", 3)
    finally:
        await connection.finish()


async def test_the_seed_async_client_holds_a_whole_conversation() -> None:
    recorder = Recorder()
    async with agent_server() as server:
        await converse_async(server.url, recorder)
    check_conversation(recorder)


# -- real speech -----------------------------------------------------------------------------------------


def speak_recording(url: str, recorder: Recorder) -> None:
    recording = read_wav(TEST_AUDIO / "testing-8k-mulaw.wav")
    assert (recording.encoding, recording.sample_rate) == ("mulaw", 8000)
    connection = DeepgramClient(API_KEY).agent.websocket.v("1")
    for event in EVENTS:
        connection.on(
            event, functools.partial(lambda name, client, *a, **k: recorder.record(name, None), event.value)
        )
    assert connection.start(seed_settings("mulaw", 8000), members={"_websocket_url": url})
    try:
        recorder.wait_for("SettingsApplied")
        for start in range(0, len(recording.data), 160):  # 20 ms mu-law frames
            connection.send(recording.data[start : start + 160])
        for _ in range(50):  # 1 s of mu-law silence, so the last turn ends
            connection.send(b"\xff" * 160)
        recorder.wait_for("AgentAudioDone")
    finally:
        connection.finish()


async def test_a_real_recording_in_mulaw_drives_a_turn() -> None:
    recorder = Recorder()
    async with agent_server() as server:
        await asyncio.to_thread(speak_recording, server.url, recorder)
        turns = server.turn_metrics()
    assert recorder.count("Error") == 0
    assert recorder.count("UserStartedSpeaking") >= 1
    assert turns and turns[0].kind == "user" and turns[0].speech_ended is not None


# -- voicewire's own clients -----------------------------------------------------------------------------


def voicewire_settings() -> vw.SettingsConfigurationOptions:
    """The same settings through voicewire's message classes (a real JSON-Schema `properties` map)."""
    return vw.SettingsConfigurationOptions.from_json(seed_settings().to_json())


def converse_voicewire_sync(url: str, recorder: Recorder) -> None:
    connection = VoicewireClient(API_KEY, ClientOptions(url=url)).agent.websocket.v("1")

    def handler(name: str, client: Any, *args: Any, **kwargs: Any) -> None:
        recorder.record(name, payload_of(kwargs, args))
        if name == "FunctionCallRequest":
            request = kwargs["function_call_request"]
            client.send_function_call_response(request.function_call_id, {"forecast": "sunny"})

    for event in vw.AgentWebSocketEvents:
        connection.on(event, functools.partial(handler, event.value))
    assert connection.start(voicewire_settings())
    try:
        recorder.wait_for("SettingsApplied")
        for frame in utterance_frames():
            connection.send(frame)
        recorder.wait_for("AgentAudioDone")
        connection.update_instructions("Be brief.")
        recorder.wait_for("InstructionsUpdated")
        connection.inject_agent_message("Injected hello.")
        recorder.wait_for("AgentAudioDone", 2)
        for frame in utterance_frames():
            connection.send(frame)
        recorder.wait_for("AgentAudioDone", 3)
    finally:
        connection.finish()


async def test_the_voicewire_sync_client_holds_a_whole_conversation() -> None:
    recorder = Recorder()
    async with agent_server() as server:
        await asyncio.to_thread(converse_voicewire_sync, server.url, recorder)
    check_conversation(recorder, instructions_ack="InstructionsUpdated")


async def converse_voicewire_async(url: str, recorder: Recorder) -> None:
    connection = VoicewireClient(API_KEY, ClientOptions(url=url)).agent.asyncwebsocket.v("1")

    async def handler(name: str, client: Any, *args: Any, **kwargs: Any) -> None:
        recorder.record(name, payload_of(kwargs, args))
        if name == "FunctionCallRequest":
            request = kwargs["function_call_request"]
            await client.send_function_call_response(request.function_call_id, {"forecast": "sunny"})

    for event in vw.AgentWebSocketEvents:
        connection.on(event, functools.partial(handler, event.value))
    assert await connection.start(voicewire_settings())
    try:
        await asyncio.to_thread(recorder.wait_for, "SettingsApplied")
        for frame in utterance_frames():
            await connection.send(frame)
        await asyncio.to_thread(recorder.wait_for, "AgentAudioDone")
        await connection.update_instructions("Be brief.")
        await asyncio.to_thread(recorder.wait_for, "InstructionsUpdated")
        await connection.inject_agent_message("Injected hello.")
        await asyncio.to_thread(recorder.wait_for, "AgentAudioDone", 2)
        for frame in utterance_frames():
            await connection.send(frame)
        await asyncio.to_thread(recorder.wait_for, "AgentAudioDone", 3)
    finally:
        await connection.finish()


async def test_the_voicewire_async_client_holds_a_whole_conversation() -> None:
    recorder = Recorder()
    async with agent_server() as server:
        await converse_voicewire_async(server.url, recorder)
    check_conversation(recorder, instructions_ack="InstructionsUpdated")
