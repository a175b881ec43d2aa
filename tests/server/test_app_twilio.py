"""`/twilio` over real sockets with scripted engines: the token, the server's agent, malformed messages."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.protocol.twilio_messages import FRAME_BYTES, STREAM_SID, TwilioPeer, media_payload
from tests.server.net import WAIT, client, fast_config, fast_registry, running
from tests.server.timeline import pcm_frame, silence, speech
from voicewire.engines.scripted import ScriptedLlm, ScriptedTts
from voicewire.protocol.agent import Endpoint, FunctionSpec
from voicewire.server import AgentServer
from voicewire.server.config import AgentProfile, TwilioConfig

TOKEN = "twilio-shared-secret"
TWILIO = TwilioConfig(
    token=TOKEN,
    prompt="You are the front desk.",
    greeting="Hello caller.",
    profiles={"quiet": AgentProfile(greeting="")},
)


def twilio_url(server: AgentServer) -> str:
    return server.url.removesuffix("/agent") + "/twilio"


def mulaw_speech(seconds: float = 0.4, pause: float = 0.4) -> list[bytes]:
    """A tone the scripted VAD hears as speech, then silence that ends the turn, in Twilio's 20 ms frames."""
    audio = pcm_frame(np.concatenate((speech(seconds, rate=8000), silence(pause, rate=8000))), "mulaw")
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), WAIT)
    assert isinstance(message, str), "Twilio gets only text messages"
    parsed: dict[str, Any] = json.loads(message)
    return parsed


async def until_mark(ws: ClientConnection) -> tuple[bytes, dict[str, Any]]:
    """The agent audio of one reply and the mark that follows it."""
    audio = bytearray()
    while (message := await next_event(ws))["event"] == "media":
        payload = media_payload(message)
        assert len(payload) == FRAME_BYTES and message["streamSid"] == STREAM_SID
        audio += payload
    assert message["event"] == "mark", message
    return bytes(audio), message


async def closed(ws: ClientConnection) -> tuple[int | None, str | None, list[str | bytes]]:
    """Wait for the server to close; what it sent before, and its close code and reason."""
    received: list[str | bytes] = []
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(WAIT):
            while True:
                received.append(await ws.recv())
    return ws.close_code, ws.close_reason, received


async def test_twilio_is_off_without_a_token() -> None:
    async with running() as server:
        async with httpx.AsyncClient(trust_env=False) as http:
            assert (await http.get(f"http://127.0.0.1:{server.port}/twilio")).status_code == 404
        with pytest.raises(InvalidStatus) as refused:
            async with client(twilio_url(server)):
                pass
        assert refused.value.response.status_code == 404


async def test_a_call_hears_the_greeting_and_gets_answered_by_the_configured_agent() -> None:
    llm = ScriptedLlm([["Sure, one moment."]])
    async with (
        running(fast_config(twilio=TWILIO), fast_registry(llm=llm)) as server,
        client(twilio_url(server)) as ws,
    ):
        peer = TwilioPeer()
        await ws.send(peer.connected())
        await ws.send(peer.start({"token": TOKEN}))
        greeting, mark = await until_mark(ws)
        assert len(greeting) > FRAME_BYTES and mark["mark"] == {"name": "reply-1"}
        await ws.send(peer.mark("reply-1"))  # Twilio echoes a mark once it has played
        for frame in mulaw_speech():
            await ws.send(peer.media(frame))
        assert await next_event(ws) == {"event": "clear", "streamSid": STREAM_SID}
        reply, mark = await until_mark(ws)
        assert len(reply) > FRAME_BYTES and mark["mark"] == {"name": "reply-2"}
        await ws.send(peer.stop())
        code, _, _ = await closed(ws)
        assert code == 1000
    messages, _tools = llm.requests[0]
    assert messages[0].role == "system" and messages[0].content == "You are the front desk."


async def test_a_wrong_token_closes_with_nothing_spoken_while_another_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tts = ScriptedTts()
    async with (
        running(fast_config(twilio=TWILIO), fast_registry(tts=tts)) as server,
        client(twilio_url(server)) as good,
        client(twilio_url(server)) as bad,
    ):
        caller = TwilioPeer()
        await good.send(caller.connected())
        await good.send(caller.start({"token": TOKEN}))
        intruder = TwilioPeer(stream_sid="MZ" + "9" * 32)
        await bad.send(intruder.connected())
        with caplog.at_level(logging.INFO):
            await bad.send(intruder.start({"token": TOKEN + "x"}))
            for frame in mulaw_speech():
                await bad.send(intruder.media(frame))
            code, reason, received = await closed(bad)
        assert (code, reason, received) == (1008, "missing or wrong token", [])
        greeting, _ = await until_mark(good)
        assert greeting
    assert [text for text, _voice in tts.requests] == ["Hello caller."]  # only the good call spoke
    assert "missing or wrong token" in caplog.text and TOKEN not in caplog.text


async def test_media_before_start_closes_with_policy_violation() -> None:
    async with running(fast_config(twilio=TWILIO)) as server, client(twilio_url(server)) as ws:
        peer = TwilioPeer()
        await ws.send(peer.connected())
        await ws.send(peer.media(b"\xff" * FRAME_BYTES))
        code, reason, received = await closed(ws)
        assert (code, reason, received) == (1008, "'media' before start", [])


async def test_malformed_messages_are_logged_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async with running(fast_config(twilio=TWILIO)) as server, client(twilio_url(server)) as ws:
        peer = TwilioPeer()
        await ws.send(peer.connected())
        await ws.send(peer.start({"token": TOKEN, "profile": "quiet"}))
        with caplog.at_level(logging.INFO):
            await ws.send(peer.media(b"", payload="%%% not base64 %%%"))
            await ws.send(json.dumps({"event": "surprise", "streamSid": STREAM_SID}))
            await ws.send(peer.start({"token": TOKEN}))
            await ws.send(peer.dtmf("5"))
            for frame in mulaw_speech():
                await ws.send(peer.media(frame))
            assert (await next_event(ws))["event"] == "clear"
            reply, _ = await until_mark(ws)  # the quiet profile has no greeting: this is the answer
            assert reply
    for problem in ("not base64", "unknown event 'surprise'", "second start"):
        assert "UNPARSABLE_CLIENT_MESSAGE: Twilio stream: ignored" in caplog.text and problem in caplog.text


async def test_api_keys_do_not_apply_to_twilio_which_has_its_token() -> None:
    config = fast_config(api_keys=("api-key-0123456789",), twilio=TWILIO)
    async with running(config) as server:
        with pytest.raises(InvalidStatus) as refused:
            async with client(server.url):
                pass
        assert refused.value.response.status_code == 401
        async with client(twilio_url(server)) as ws:
            peer = TwilioPeer()
            await ws.send(peer.start({"token": TOKEN}))
            _, mark = await until_mark(ws)
            assert mark["mark"]["name"] == "reply-1"


async def test_configured_functions_are_offered_to_the_model() -> None:
    weather = FunctionSpec("get_weather", "The weather", endpoint=Endpoint("http://127.0.0.1:9/weather"))
    config = fast_config(
        function_call_allowlist=("127.0.0.1:9",),
        twilio=TwilioConfig(token=TOKEN, profiles={"weather": AgentProfile(functions=(weather,))}),
    )
    llm = ScriptedLlm([["Fine."]])
    async with running(config, fast_registry(llm=llm)) as server, client(twilio_url(server)) as ws:
        peer = TwilioPeer()
        await ws.send(peer.start({"token": TOKEN, "profile": "weather"}))
        for frame in mulaw_speech():
            await ws.send(peer.media(frame))
        assert (await next_event(ws))["event"] == "clear"
        await until_mark(ws)
    _messages, tools = llm.requests[0]
    assert [tool.name for tool in tools] == ["get_weather"]
