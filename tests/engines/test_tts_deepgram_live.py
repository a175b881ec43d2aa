"""DeepgramLiveTts against a local WebSocket server that speaks Deepgram's streaming speak protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.engines.speech_api import SYNTHESISED
from voicewire.engines.base import EngineError
from voicewire.engines.tts_deepgram_live import DeepgramLiveTts

KEY = "dg-key"


@dataclass
class LiveSpeak:
    base_url: str = ""
    mode: str = "ok"
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def live_speak() -> AsyncIterator[LiveSpeak]:
    api = LiveSpeak()

    def check(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Token {KEY}":
            return connection.respond(401, '{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}')
        return None

    async def handle(ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urlsplit(ws.request.path)
        assert url.path == "/v1/speak"
        api.queries.append(parse_qs(url.query))
        try:
            async for message in ws:
                document = json.loads(message)
                api.received.append(document)
                if document["type"] != "Flush":
                    continue
                if api.mode == "error":
                    await ws.send(json.dumps({"type": "Error", "err_code": "BAD", "err_msg": "no voice"}))
                    continue
                if api.mode == "silent":
                    continue
                data = SYNTHESISED.astype("<i2").tobytes()
                for start in range(0, len(data), 4801):  # odd sizes: samples straddle frames
                    await ws.send(data[start : start + 4801])
                    await asyncio.sleep(0.01)
                await ws.send(json.dumps({"type": "Flushed", "sequence_id": 0}))
        except ConnectionClosed:
            pass
        finally:
            api.finished.set()

    async with serve(handle, "127.0.0.1", 0, process_request=check) as server:
        api.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        yield api


async def test_streams_every_sample_then_closes(live_speak: LiveSpeak) -> None:
    tts = DeepgramLiveTts(live_speak.base_url, api_key=KEY, sample_rate=16000)
    chunks = [pcm async for pcm in tts.synthesize("Hello there.", voice="aura-2-orion-en")]
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate(chunks), SYNTHESISED)
    assert live_speak.queries == [
        {"model": ["aura-2-orion-en"], "encoding": ["linear16"], "sample_rate": ["16000"]}
    ]
    await asyncio.wait_for(live_speak.finished.wait(), 2)
    assert [m["type"] for m in live_speak.received] == ["Speak", "Flush", "Close"]
    assert live_speak.received[0]["text"] == "Hello there."


async def test_closing_after_the_first_chunk_ends_the_connection(live_speak: LiveSpeak) -> None:
    stream = DeepgramLiveTts(live_speak.base_url, api_key=KEY).synthesize("Hello there.")
    async with contextlib.aclosing(stream):
        first = await anext(stream)
    assert 0 < first.size < SYNTHESISED.size
    await asyncio.wait_for(live_speak.finished.wait(), 2)


@pytest.mark.parametrize(
    ("mode", "key", "limit_s", "message"),
    [("ok", "wrong", 5.0, "HTTP 401"), ("error", KEY, 5.0, "no voice"), ("silent", KEY, 0.3, "sent nothing")],
)
async def test_failures_are_engine_errors_without_the_key(
    live_speak: LiveSpeak, mode: str, key: str, limit_s: float, message: str
) -> None:
    live_speak.mode = mode
    tts = DeepgramLiveTts(live_speak.base_url, api_key=key, timeout=limit_s)
    with pytest.raises(EngineError, match=message) as raised:
        async for _ in tts.synthesize("Hello there."):
            pass
    assert key not in str(raised.value)
