"""The operator decides which endpoint and model serve a session's `think` settings (engines/registry.py):
a session that asks for an unconfigured provider is told so with a Warning (or refused when strict), and a
configured endpoint is asked for the operator's model, not the client's "gpt-4o-mini"."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.server.net import client, fast_config, receive_until, running, speak
from voicewire.engines.llm_openai import OpenAiCompatibleLlm
from voicewire.engines.registry import EngineRegistry, ProviderConfig
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, ScriptedVad
from voicewire.protocol import SettingsConfigurationOptions


def deepgram_settings() -> str:
    settings = SettingsConfigurationOptions()
    settings.agent.think.provider.type = "open_ai"
    settings.agent.think.model = "gpt-4o-mini"
    settings.agent.think.instructions = "You are a helpful assistant. Answer in one short sentence."
    return str(settings)


def registry(**providers: Any) -> EngineRegistry:
    return EngineRegistry(
        vad_factory=ScriptedVad,
        stt=ScriptedStt(["say hello"]),
        llm=ScriptedLlm(),
        tts=ScriptedTts(),
        **providers,
    )


V1_OPEN_AI = json.dumps(
    {"type": "Settings", "agent": {"think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}}}}
)


async def test_an_unconfigured_provider_gets_a_warning_naming_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="voicewire")
    async with running(registry=registry()) as server, client(server.v1_url) as ws:
        await ws.send(V1_OPEN_AI)
        await receive_until(ws, "SettingsApplied")
        warning = await receive_until(ws, "Warning")
    assert warning[-1]["code"] == "PROVIDER_FALLBACK"  # type: ignore[index]
    assert "'open_ai'" in warning[-1]["description"] and "ScriptedLlm" in warning[-1]["description"]  # type: ignore[index]
    assert any("open_ai" in r.getMessage() and r.levelname == "INFO" for r in caplog.records)


async def test_early_access_clients_get_no_warning_message_only_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """protocol.md §6: a 3.11 client has no Warning message; it would only show up as Unhandled."""
    caplog.set_level("INFO", logger="voicewire")
    async with running(registry=registry()) as server, client(server.url) as ws:
        await ws.send(deepgram_settings())
        await receive_until(ws, "SettingsApplied")
        await ws.send(json.dumps({"type": "KeepAlive"}))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
    assert any("open_ai" in r.getMessage() and r.levelname == "INFO" for r in caplog.records)


async def test_strict_providers_turns_the_fallback_into_an_error() -> None:
    async with running(registry=registry(strict_providers=True)) as server, client(server.url) as ws:
        await ws.send(deepgram_settings())
        messages = await receive_until(ws, "Error")
    error = messages[-1]
    assert (
        isinstance(error, dict)
        and error["code"] == "INVALID_SETTINGS"
        and "'open_ai'" in error["description"]
    )
    assert "SettingsApplied" not in [m["type"] for m in messages if isinstance(m, dict)]


async def slow_receive_until(ws: ClientConnection, wanted: str) -> list[dict[str, Any]]:
    """Text messages up to `wanted`, allowing for a real model on a busy machine."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(60):
        while not seen or seen[-1]["type"] != wanted:
            message = await ws.recv()
            if isinstance(message, str):
                seen.append(json.loads(message))
    return seen


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards to the real endpoint over a real socket, keeping each request body."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.bodies: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(await request.aread()))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.models
async def test_a_configured_endpoint_is_asked_for_the_operators_model(llama_server: str) -> None:
    provider = ProviderConfig(base_url=llama_server, model="qwen2.5-7b-instruct")
    transport = RecordingTransport()
    endpoint = OpenAiCompatibleLlm(
        llama_server, model=provider.model, timeout=60, extra_body={"max_tokens": 20}, transport=transport
    )
    engines = registry(providers={"open_ai": endpoint}, provider_configs={"open_ai": provider})
    try:
        async with running(fast_config(idle_timeout_s=120.0), engines) as server, client(server.url) as ws:
            await ws.send(deepgram_settings())
            applied = await receive_until(ws, "SettingsApplied")
            await speak(ws)
            reply = await slow_receive_until(ws, "AgentStartedSpeaking")
    finally:
        await endpoint.aclose()
    assert "Warning" not in [m["type"] for m in applied if isinstance(m, dict)]
    assert [body["model"] for body in transport.bodies] == ["qwen2.5-7b-instruct"]
    spoken = [
        m for m in reply if isinstance(m, dict) and m["type"] == "ConversationText" and m["role"] != "user"
    ]
    assert spoken and spoken[0]["content"].strip()
