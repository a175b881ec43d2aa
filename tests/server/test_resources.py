"""Each bound held under attack: the server process's memory before, during and after one client's attacks.

The server runs in its own process (`benchmarks.server scripted`: Silero VAD, scripted STT/LLM/TTS) so its
resident memory can be read from /proc. Text to speak, oversized frames, a client that never reads, and
connection churn each get their turn; the peak and the final RSS must stay within `GROWTH_LIMIT` of the idle
server's, and the server must still serve a normal session afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator

import pytest
from benchmarks.attacks import RssSampler
from benchmarks.common import rss_bytes
from benchmarks.server import ServerProcess
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

GROWTH_LIMIT = 50 * 1024 * 1024
SETTINGS = json.dumps({"type": "SettingsConfiguration"})


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = ServerProcess("scripted")
    try:
        yield process
    finally:
        process.close()


async def _long_text(url: str) -> None:
    async with connect(url, proxy=None, max_size=None) as ws:
        await ws.send(SETTINGS)
        await ws.send(json.dumps({"type": "InjectAgentMessage", "message": " ".join(["word"] * 799)}))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                async for _ in ws:
                    pass


async def _oversized(url: str) -> None:
    ws = await connect(url, proxy=None)
    with contextlib.suppress(ConnectionClosed, OSError):
        await ws.send("x" * 10_000_000)
        async for _ in ws:
            pass
    _abort(ws)


async def _slow_reader(url: str) -> None:
    ws = await connect(url, proxy=None, max_queue=1)
    with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
        async with asyncio.timeout(10.0):
            for _ in range(600):
                await ws.send(json.dumps({"type": "y" * 200_000}))
    _abort(ws)


def _abort(ws: ClientConnection) -> None:
    """Drop the TCP connection (the server may already have done so)."""
    if not ws.transport.is_closing():
        ws.transport.abort()


async def _churn(url: str) -> None:
    for _ in range(30):
        async with connect(url, proxy=None) as ws:
            await ws.send(SETTINGS)
            await ws.recv()


async def _still_serves(url: str) -> bool:
    async with connect(url, proxy=None) as ws:
        await ws.send(SETTINGS)
        async with asyncio.timeout(5):
            async for message in ws:
                if isinstance(message, str) and json.loads(message)["type"] == "SettingsApplied":
                    return True
    return False


@pytest.mark.parametrize("attack", [_long_text, _oversized, _slow_reader, _churn])
async def test_one_clients_attack_leaves_the_servers_memory_bounded(
    server: ServerProcess, attack: object
) -> None:
    idle = rss_bytes(server.pid)
    sampler = RssSampler(server.pid)
    started = time.monotonic()
    await attack(server.url)
    await asyncio.sleep(0.5)
    peak = sampler.stop()
    after = rss_bytes(server.pid)
    print(
        f"{attack.__name__}: RSS {idle >> 20} → peak {peak >> 20} → {after >> 20} MiB"
        f" in {time.monotonic() - started:.1f} s"
    )
    assert peak - idle < GROWTH_LIMIT
    assert after - idle < GROWTH_LIMIT
    assert await _still_serves(server.url)
