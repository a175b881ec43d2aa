"""DeepgramLiveStt against a local WebSocket server that speaks Deepgram's streaming listen protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from voicewire.engines.base import EngineError
from voicewire.engines.stt_deepgram_live import DeepgramLiveStt, websocket_url

KEY = "dg-key"
UTTERANCE = (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32)


@dataclass
class LiveApi:
    base_url: str = ""
    mode: str = "ok"
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    audio_bytes: list[int] = field(default_factory=list)


def results(text: str, *, final: bool) -> str:
    alternative = {"transcript": text, "confidence": 0.9, "words": []}
    return json.dumps({"type": "Results", "is_final": final, "channel": {"alternatives": [alternative]}})


@pytest.fixture
async def live_api() -> AsyncIterator[LiveApi]:
    api = LiveApi()

    def check(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Token {KEY}":
            return connection.respond(401, '{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}')
        return None

    async def handle(ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urlsplit(ws.request.path)
        assert url.path == "/v1/listen"
        api.queries.append(parse_qs(url.query))
        received = 0
        async for message in ws:
            if isinstance(message, bytes):
                received += len(message)
                if api.mode == "fail":
                    await ws.close(1011, "DATA-0000")
                    return
                continue
            if json.loads(message) == {"type": "CloseStream"}:
                break
        api.audio_bytes.append(received)
        if api.mode == "silent":
            await asyncio.sleep(2)
            return
        await ws.send(results("turn the", final=False))
        await ws.send(results("turn the lights", final=True))
        await ws.send(results("on", final=True))
        await ws.send(json.dumps({"type": "Metadata", "duration": 1.0, "channels": 1}))
        await ws.close()

    async with serve(handle, "127.0.0.1", 0, process_request=check) as server:
        port = server.sockets[0].getsockname()[1]
        api.base_url = f"http://127.0.0.1:{port}/v1"
        yield api


def test_the_websocket_url_sits_beside_the_rest_one() -> None:
    assert websocket_url("https://api.deepgram.com/v1/") == "wss://api.deepgram.com/v1"
    assert websocket_url("http://127.0.0.1:8080/v1") == "ws://127.0.0.1:8080/v1"


async def test_streams_the_utterance_and_joins_the_final_results(live_api: LiveApi) -> None:
    stt = DeepgramLiveStt(live_api.base_url, model="nova-3", api_key=KEY)
    transcript = await stt.transcribe(UTTERANCE, keyterms=["Acme"])
    assert transcript.text == "turn the lights on"
    (query,) = live_api.queries
    assert query["model"] == ["nova-3"] and query["encoding"] == ["linear16"]
    assert query["sample_rate"] == ["16000"] and query["keyterm"] == ["Acme"]
    assert live_api.audio_bytes == [len(UTTERANCE) * 2]


@pytest.mark.parametrize(
    ("mode", "key", "limit_s", "message"),
    [
        ("ok", "wrong", 5.0, "HTTP 401"),
        ("fail", KEY, 5.0, "1011"),
        ("silent", KEY, 0.3, "timed out"),
    ],
)
async def test_failures_are_engine_errors_without_the_key(
    live_api: LiveApi, mode: str, key: str, limit_s: float, message: str
) -> None:
    live_api.mode = mode
    stt = DeepgramLiveStt(live_api.base_url, api_key=key, timeout=limit_s)
    with pytest.raises(EngineError, match=message) as raised:
        await stt.transcribe(UTTERANCE)
    assert key not in str(raised.value)
