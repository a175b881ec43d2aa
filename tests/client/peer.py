"""A scripted Voice Agent server on 127.0.0.1 that records what the client sends.

`Peer` runs on the caller's event loop (async client tests); `ThreadedPeer` runs one on a loop in a background
thread (sync client tests). A script is a coroutine that talks to one connection through `PeerSession`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

Script = Callable[["PeerSession"], Awaitable[None]]
TIMEOUT = 3.0


class PeerSession:
    """One client connection as seen by a script."""

    def __init__(self, ws: ServerConnection, peer: Peer) -> None:
        self.ws = ws
        self.peer = peer
        self._taken: set[int] = set()

    async def send(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def send_json(self, **fields: Any) -> None:
        await self.ws.send(json.dumps(fields))

    async def expect(self, type_name: str) -> dict[str, Any]:
        """The next not yet expected JSON message of this type, in arrival order."""
        async with asyncio.timeout(TIMEOUT), self.peer.arrived:
            while True:
                for index, message in enumerate(self.peer.received):
                    if index in self._taken or not isinstance(message, str):
                        continue
                    data: dict[str, Any] = json.loads(message)
                    if data.get("type") == type_name:
                        self._taken.add(index)
                        return data
                await self.peer.arrived.wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


async def welcome_then_settings(session: PeerSession) -> dict[str, Any]:
    """The opening every scenario shares: Welcome, then SettingsApplied once the settings arrive."""
    await session.send_json(type="Welcome", session_id="session-1")
    settings = await session.expect("SettingsConfiguration")
    await session.send_json(type="SettingsApplied")
    return settings


async def opening_only(session: PeerSession) -> None:
    await welcome_then_settings(session)


class Peer:
    def __init__(self, script: Script = opening_only) -> None:
        self.script = script
        self.received: list[str | bytes] = []
        self.headers: list[Headers] = []
        self.paths: list[str] = []
        self.close_codes: list[int | None] = []
        self.script_errors: list[BaseException] = []
        self._server: Server | None = None
        self._arrived: asyncio.Condition | None = None

    @property
    def arrived(self) -> asyncio.Condition:
        assert self._arrived is not None
        return self._arrived

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agent"

    async def start(self) -> None:
        self._arrived = asyncio.Condition()
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Peer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name("peer-connection")
        assert ws.request is not None
        self.paths.append(ws.request.path)
        self.headers.append(ws.request.headers)
        reader = asyncio.create_task(self._read(ws), name="peer-reader")
        try:
            await self.script(PeerSession(ws, self))
        except Exception as exc:
            self.script_errors.append(exc)
        await reader

    async def _read(self, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                self.received.append(message)
                async with self.arrived:
                    self.arrived.notify_all()
        except ConnectionClosed:
            pass
        self.close_codes.append(ws.close_code)

    # What the client sent, decoded.
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in list(self.received) if isinstance(m, str)]

    def types(self) -> list[str]:
        return [m.get("type", "") for m in self.messages()]

    def audio(self) -> list[bytes]:
        return [m for m in list(self.received) if isinstance(m, bytes)]


class ThreadedPeer:
    """A `Peer` on its own event loop thread, for the thread-based client."""

    def __init__(self, script: Script = opening_only) -> None:
        self.peer = Peer(script)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-peer", daemon=True)

    def __enter__(self) -> Peer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.peer.start(), self._loop).result(TIMEOUT)
        return self.peer

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.peer.stop(), self._loop).result(TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        self._loop.close()


def wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.002)


async def until(predicate: Callable[[], bool]) -> None:
    """Poll: the state it watches is often changed by client or device threads, which cannot wake the loop."""
    async with asyncio.timeout(TIMEOUT):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.002)
