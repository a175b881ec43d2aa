"""The SDK speaking v1: the same 3.11-shaped API, v1 on the wire."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from tests.server.net import running
from tests.server.timeline import pcm_frame, silence, speech
from voicewire.client import AsyncAgentWebSocketClient, ClientOptions, VoicewireError
from voicewire.client._core import ClientCore
from voicewire.protocol import AgentWebSocketEvents as Events
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.protocol import agent as a
from voicewire.protocol.dialects import V1


def v1_core(url: str = "ws://127.0.0.1:8080") -> ClientCore:
    return ClientCore(ClientOptions(url=url, options={"dialect": "v1"}))


def test_v1_settings_are_what_the_v1_server_decodes_them_to() -> None:
    options = SettingsConfigurationOptions()
    options.agent.think.instructions = "Be brief."
    options.agent.think.model = "gpt-4o-mini"
    options.agent.think.provider.type = "open_ai"
    options.agent.listen.keyterms = ["Paris"]
    options.audio.input.encoding, options.audio.input.sample_rate = "mulaw", 8000
    plan = v1_core()._prepare(options, None, None, None, {})
    assert plan.url == "ws://127.0.0.1:8080/v1/agent/converse"
    command = V1().decode(plan.settings)
    assert isinstance(command, a.Configure)
    settings = command.settings
    assert settings.input == a.AudioFormat("mulaw", 8000)
    assert settings.think.prompt == "Be brief."
    assert settings.think.providers == (a.ThinkProvider("open_ai", "gpt-4o-mini"),)
    assert settings.listen.keyterms == ("Paris",)
    assert settings.speak == (a.SpeakProvider("deepgram", "aura-asteria-en"),)


def test_an_explicit_path_is_kept() -> None:
    plan = v1_core("ws://127.0.0.1:8080/v1/agent")._prepare(
        SettingsConfigurationOptions(), None, None, None, {}
    )
    assert plan.url == "ws://127.0.0.1:8080/v1/agent"


def test_client_messages_are_v1_messages() -> None:
    core = v1_core()
    sent = [
        core._keep_alive_text(),
        core._instructions_text("Be brief."),
        core._speak_text("aura-2-andromeda-en"),
        core._inject_text("One moment."),
        core._function_call_response_text("c1", {"t": 21}),
    ]
    assert [V1().decode(text) for text in sent] == [
        a.KeepAlive(),
        a.UpdatePrompt("Be brief."),
        a.UpdateSpeak((a.SpeakProvider("deepgram", "aura-2-andromeda-en"),)),
        a.InjectAgentText("One moment."),
        a.FunctionResult("c1", '{"t": 21}'),
    ]


def test_v1_server_messages_reach_the_3_11_handlers() -> None:
    core = v1_core()
    encode = V1().encode
    frames = [
        encode(a.Welcome("r-1")),
        encode(a.PromptUpdated()),
        encode(a.Error(a.ErrorCode.INVALID_SETTINGS, "bad")),
        encode(a.FunctionCallStarted("c1", "get_weather", "{}", client_side=True)),
        encode(a.HistoryAdded(a.HistoryItem("user", "Hi"))),
    ]
    decoded = [pair for frame in frames for pair in core._decode(str(frame))]
    assert [event for event, _ in decoded] == [
        Events.Welcome,
        Events.InstructionsUpdated,
        Events.Error,
        Events.FunctionCallRequest,
        Events.Unhandled,
    ]
    assert decoded[0][1]["welcome"].session_id == "r-1"
    error = decoded[2][1]["error"]
    assert (error.description, error.message, error.code) == ("bad", "bad", "INVALID_SETTINGS")
    request = decoded[3][1]["function_call_request"]
    assert (request.function_name, request.function_call_id, request.input) == ("get_weather", "c1", "{}")
    assert json.loads(decoded[4][1]["unhandled"].raw)["type"] == "History"


def test_an_unknown_dialect_is_an_error() -> None:
    with pytest.raises(VoicewireError, match="dialect"):
        ClientCore(ClientOptions(options={"dialect": "v2"}))


async def test_the_async_client_holds_a_v1_conversation_with_the_server() -> None:
    seen: list[tuple[Events, object]] = []
    done = asyncio.Event()
    async with running() as server:
        client = AsyncAgentWebSocketClient(
            ClientOptions(url=server.url.removesuffix("/agent"), options={"dialect": "v1"})
        )
        for event in (
            Events.Welcome,
            Events.ConversationText,
            Events.InstructionsUpdated,
            Events.Error,
            Events.AgentAudioDone,
        ):

            async def record(_: object, _event: Events = event, **payload: object) -> None:
                seen.append((_event, next(iter(payload.values()))))
                if _event is Events.AgentAudioDone:
                    done.set()

            client.on(event, record)
        assert await client.start(SettingsConfigurationOptions())
        audio = np.concatenate((speech(0.4), silence(0.4)))
        for start in range(0, len(audio), 320):
            await client.send(pcm_frame(audio[start : start + 320]))
        await asyncio.wait_for(done.wait(), 5)
        assert await client.update_instructions("Be brief.")
        await asyncio.sleep(0.2)
        await client.finish()
    kinds = [event for event, _ in seen]
    assert kinds[0] is Events.Welcome and Events.Error not in kinds
    texts = [(m.role, m.content) for e, m in seen if e is Events.ConversationText]  # type: ignore[attr-defined]
    assert texts[0] == ("user", "hello there")
    assert kinds[-1] is Events.InstructionsUpdated
