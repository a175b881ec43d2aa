"""The network edge over real sockets on 127.0.0.1: routes, auth, limits, shutdown, vanishing clients."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.server.net import client, fast_config, fast_registry, receive, receive_until, running, speak, types
from tests.server.timeline import V1_SETTINGS
from voicewire.engines.scripted import ScriptedLlm, ScriptedTts
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.server import AgentServer, ConfigError

SETTINGS = str(SettingsConfigurationOptions())


async def http_get(server: AgentServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(f"http://127.0.0.1:{server.port}{path}")


async def test_healthz_reports_engine_readiness() -> None:
    async with AgentServer(fast_config()) as server:
        assert (await http_get(server, "/healthz")).status_code == 503
        with pytest.raises(InvalidStatus) as refused:
            async with client(server.url):
                pass
        assert refused.value.response.status_code == 503
        server.engines = fast_registry()
        response = await http_get(server, "/healthz")
        assert (response.status_code, response.text) == (200, "ok\n")


async def test_unknown_paths_are_404() -> None:
    async with running() as server:
        assert (await http_get(server, "/index.html")).status_code == 404
        assert (await http_get(server, "/v1/listen")).status_code == 404
        with pytest.raises(InvalidStatus) as refused:
            async with client(server.url.replace("/agent", "/agents")):
                pass
        assert refused.value.response.status_code == 404


async def test_a_whole_conversation_over_a_socket_with_settings_sent_before_welcome() -> None:
    async with running() as server, client(server.url + "?scenario=happy&x=1") as ws:
        await ws.send(SETTINGS)  # not waiting for Welcome, like the 3.11 SDK
        welcome = await receive(ws)
        assert isinstance(welcome, dict) and welcome["type"] == "Welcome" and welcome["session_id"]
        assert await receive(ws) == {"type": "SettingsApplied"}
        await speak(ws)
        seen = await receive_until(ws, "AgentAudioDone")
        assert types(seen) == [
            "UserStartedSpeaking",
            "ConversationText",
            "ConversationText",
            "AgentStartedSpeaking",
            "<audio>",
            "AgentAudioDone",
        ]
        started = next(m for m in seen if isinstance(m, dict) and m["type"] == "AgentStartedSpeaking")
        assert started["total_latency"] >= started["ttt_latency"] >= 0
        metrics = (await http_get(server, "/metrics.json")).json()
        assert metrics["sessions_active"] == 1
        assert metrics["turns"][-1]["speech_ended"] < metrics["now"] <= time.monotonic()
        assert metrics["turns"][-1]["kind"] == "user"
        assert "transcript" not in metrics["turns"][-1]
        assert metrics["turns"][-1]["total_latency"] == pytest.approx(started["total_latency"])


@pytest.mark.parametrize(
    "path", ["/v1/agent/converse", "/v1/agent", "/v1/agent/converse?mip_opt_out=true&x=1"]
)
async def test_the_v1_paths_speak_v1(path: str) -> None:
    async with running() as server, client(server.url.replace("/agent", path)) as ws:
        welcome = await receive(ws)
        assert isinstance(welcome, dict) and set(welcome) == {"type", "request_id"}
        await ws.send(json.dumps({"type": "SettingsConfiguration"}))
        error = await receive(ws)
        assert isinstance(error, dict) and error["type"] == "Error" and "/agent" in error["description"]
        await ws.send(json.dumps(V1_SETTINGS))
        assert await receive(ws) == {"type": "SettingsApplied"}
        await speak(ws)
        seen = await receive_until(ws, "AgentAudioDone")
        assert types(seen)[:3] == ["UserStartedSpeaking", "ConversationText", "History"]


async def test_v1_settings_on_the_early_access_path_name_the_v1_path() -> None:
    async with running() as server, client(server.url) as ws:
        await receive(ws)
        await ws.send(json.dumps(V1_SETTINGS))
        error = await receive(ws)
        assert isinstance(error, dict) and "/v1/agent/converse" in error["description"]
        assert error["code"] == "UNPARSABLE_CLIENT_MESSAGE"


class TestAuthentication:
    KEY = "s3cret-key-0123456789"

    @pytest.fixture
    def config(self) -> Any:
        return fast_config(api_keys=(self.KEY, "other-key-0123456789"))

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Token wrong"}, {"Authorization": "Basic s3cret-key"}, {"Authorization": ""}],
    )
    async def test_a_missing_or_wrong_key_gets_401_before_the_upgrade(
        self, config: Any, headers: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        async with running(config) as server:
            with pytest.raises(InvalidStatus) as refused:
                async with client(server.url, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 401
            assert server.sessions_served == 0
        server_logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "websockets.client")
        assert "Authorization" in server_logs or not headers  # websockets did log the header...
        assert self.KEY not in server_logs and "wrong-key" not in server_logs  # ...but not its value

    @pytest.mark.parametrize("scheme", ["Token", "Bearer", "token"])
    async def test_a_key_in_the_authorization_header(self, config: Any, scheme: str) -> None:
        headers = {"Authorization": f"{scheme} {self.KEY}"}
        async with running(config) as server, client(server.url, additional_headers=headers) as ws:
            assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]

    async def test_metrics_need_a_key_and_healthz_does_not(self, config: Any) -> None:
        async with running(config) as server:
            assert (await http_get(server, "/metrics")).status_code == 401
            assert (await http_get(server, "/metrics.json")).status_code == 401
            assert (await http_get(server, "/healthz")).status_code == 200
            async with httpx.AsyncClient(trust_env=False) as http:
                response = await http.get(
                    f"http://127.0.0.1:{server.port}/metrics.json",
                    headers={"Authorization": f"Token {self.KEY}"},
                )
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "application/json"
            assert response.json()["sessions_served"] == 0

    async def test_a_key_as_the_token_subprotocol_pair(self, config: Any) -> None:
        async with running(config) as server:
            async with client(server.url, subprotocols=["token", "other-key-0123456789"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "token"
                assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]
            with pytest.raises(InvalidStatus):
                async with client(server.url, subprotocols=["token", "nope"]):  # type: ignore[list-item]
                    pass


async def test_binding_a_public_address_without_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="--insecure"):
        async with AgentServer(fast_config(host="0.0.0.0"), fast_registry()):
            pass
    async with AgentServer(fast_config(host="0.0.0.0", insecure=True), fast_registry()) as server:
        assert server.port > 0
    async with AgentServer(fast_config(host="0.0.0.0", api_keys=("k" * 16,)), fast_registry()) as server:
        assert server.port > 0


async def test_sessions_beyond_the_limit_are_closed_with_1013() -> None:
    async with running(fast_config(max_sessions=1)) as server, client(server.url) as first:
        assert (await receive(first))["type"] == "Welcome"  # type: ignore[index]
        async with client(server.url) as second:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(second)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013
        await first.send(SETTINGS)
        assert await receive(first) == {"type": "SettingsApplied"}


async def test_shutdown_ends_every_session_with_1001() -> None:
    server = AgentServer(fast_config(), fast_registry())
    await server.start()
    async with client(server.url) as a, client(server.url) as b:
        await receive(a)
        await receive(b)
        await server.close()
        for ws in (a, b):
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.sessions == {}


async def test_a_large_text_frame_is_an_error_and_the_session_continues() -> None:
    async with running(fast_config(max_text_frame_bytes=4096)) as server, client(server.url) as ws:
        await receive(ws)
        await ws.send(SETTINGS)
        await receive(ws)
        await ws.send('{"type": "UpdateInstructions", "instructions": "' + "x" * 5000 + '"}')
        error = await receive(ws)
        assert isinstance(error, dict) and error["code"] == "UNPARSABLE_CLIENT_MESSAGE"
        await ws.send('{"type": "UpdateInstructions", "instructions": "short"}')
        assert await receive(ws) == {"type": "InstructionsUpdated"}


async def test_a_binary_frame_over_the_limit_gets_an_error_then_closes_with_1009() -> None:
    async with running(fast_config(max_binary_frame_bytes=64 * 1024)) as server, client(server.url) as ws:
        await receive(ws)
        await ws.send(b"\x00" * (64 * 1024 + 2))
        error = await receive(ws)
        assert isinstance(error, dict) and error["type"] == "Error" and "1009" in error["description"]
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_client_vanishing_mid_reply_ends_only_its_session(caplog: pytest.LogCaptureFixture) -> None:
    llm = ScriptedLlm(token_delay=0.01)
    tts = ScriptedTts(seconds_per_char=0.1)
    async with running(registry=fast_registry(llm=llm, tts=tts)) as server:
        async with client(server.url) as ws:
            await ws.send(SETTINGS)
            await receive_until(ws, "SettingsApplied")
            await speak(ws)
            await receive_until(ws, "AgentStartedSpeaking")
            ws.transport.abort()  # no close handshake: the client is just gone
        async with asyncio.timeout(5):
            while server.sessions:  # noqa: ASYNC110 - the server has no event for this; poll briefly
                await asyncio.sleep(0.01)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        async with client(server.url) as ws:
            await ws.send(SETTINGS)
            assert types(await receive_until(ws, "SettingsApplied")) == ["Welcome", "SettingsApplied"]
