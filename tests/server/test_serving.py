from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.server.net import (
    client,
    fast_config,
    fast_registry,
    free_port,
    receive,
    receive_until,
    running,
    speak,
    wait_healthy,
)
from voicewire.engines.registry import EngineRegistry
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.server.config import ServerConfig
from voicewire.server.serving import run_event_loop, serve_until_signalled

SETTINGS = str(SettingsConfigurationOptions())
ROOT = Path(__file__).resolve().parents[2]


async def start_session(url: str) -> ClientConnection:
    ws = await client(url).__aenter__()
    assert isinstance(await receive(ws), dict)  # Welcome
    await ws.send(SETTINGS)
    await receive_until(ws, "SettingsApplied")
    return ws


async def take_turn(ws: ClientConnection) -> str:
    """One spoken turn; the scripted server's transcript names the worker process that heard it."""
    await speak(ws)
    while True:
        message = (await receive_until(ws, "ConversationText"))[-1]
        assert isinstance(message, dict)
        if message["role"] == "user":
            return str(message["content"])


async def test_serve_loads_engines_then_stops_on_sigterm_closing_sessions_with_1001(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def load() -> EngineRegistry:
        return fast_registry()

    port = free_port()
    serving = asyncio.create_task(serve_until_signalled(ServerConfig(port=port, drain_timeout_s=0), load))
    async with asyncio.timeout(20):
        await wait_healthy(port)
    async with client(f"ws://127.0.0.1:{port}/agent") as ws:
        assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    await asyncio.wait_for(serving, 5)
    gc.unfreeze()  # serving froze what was alive; the rest of the test run collects as usual
    assert f"talk to it at http://127.0.0.1:{port}/\n" in capsys.readouterr().err


async def test_what_is_alive_once_the_engines_are_loaded_is_left_out_of_full_collections() -> None:
    gc.unfreeze()

    async def load() -> EngineRegistry:
        return fast_registry()

    port = free_port()
    serving = asyncio.create_task(serve_until_signalled(ServerConfig(port=port, drain_timeout_s=0), load))
    try:
        async with asyncio.timeout(20):
            await wait_healthy(port)  # the engines are in place, and nothing awaits between that and freezing
        assert gc.get_freeze_count() > 1000  # the modules, the engines, the server
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, 5)


async def test_drain_refuses_new_sessions_and_ends_when_the_live_ones_do() -> None:
    async with running(fast_config()) as server:
        url = server.url
        ws = await start_session(url)
        draining = asyncio.create_task(server.drain(timeout_s=10))
        await asyncio.sleep(0.1)
        with pytest.raises(OSError):
            async with client(url):
                pass
        assert await take_turn(ws) == "hello there"  # the live session still converses
        started = time.monotonic()
        await ws.close()
        await asyncio.wait_for(draining, 2)
        assert time.monotonic() - started < 1.0
        assert server.sessions == {}


async def test_drain_closes_sessions_still_open_at_the_deadline_with_1001() -> None:
    async with running(fast_config()) as server:
        ws = await start_session(server.url)
        started = time.monotonic()
        await server.drain(timeout_s=0.3)
        assert 0.3 <= time.monotonic() - started < 2.0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_server_runs_on_uvloop_when_installed_unless_asked_for_asyncio() -> None:
    pytest.importorskip("uvloop")
    assert run_event_loop(_loop_module()).startswith("uvloop")
    assert run_event_loop(_loop_module(), "uvloop").startswith("uvloop")
    assert run_event_loop(_loop_module(), "asyncio").startswith("asyncio")


def test_without_uvloop_auto_falls_back_to_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert run_event_loop(_loop_module()).startswith("asyncio")
    with pytest.raises(ImportError):
        run_event_loop(_loop_module(), "uvloop")


@contextlib.contextmanager
def scripted_server(port: int, *arguments: str) -> Iterator[subprocess.Popen[bytes]]:
    """`tests.server.scripted_server` as a process of its own: real signals, real SO_REUSEPORT."""
    command = [sys.executable, "-m", "tests.server.scripted_server", "--port", str(port), *arguments]
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@contextlib.asynccontextmanager
async def sessions(url: str, count: int) -> AsyncIterator[list[ClientConnection]]:
    opened = await asyncio.gather(*(start_session(url) for _ in range(count)))
    try:
        yield list(opened)
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)


async def test_workers_share_one_port_and_drain_together_on_sigterm() -> None:
    port = free_port()
    with scripted_server(port, "--workers", "2") as process:
        await wait_ready(process, workers=2)
        url = f"ws://127.0.0.1:{port}/agent"
        async with sessions(url, 12) as live:
            workers = collections.Counter(await asyncio.gather(*(take_turn(ws) for ws in live)))
            assert len(workers) == 2, workers
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert process.poll() is None  # draining: the sessions are still live
            assert collections.Counter(await asyncio.gather(*(take_turn(ws) for ws in live))) == workers
        assert await asyncio.to_thread(process.wait, 10) == 0


async def test_workers_stop_when_their_parent_is_killed() -> None:
    port = free_port()
    with scripted_server(port, "--workers", "2", "--drain", "1") as process:
        await wait_ready(process, workers=2)
        process.kill()  # SIGKILL: no SIGTERM is forwarded, the workers must notice on their own
        assert process.stderr is not None
        # The pipe closes only when both workers, which inherited it, have exited.
        rest = await asyncio.wait_for(asyncio.to_thread(process.stderr.read), 30)
        assert rest.count(b"voicewire: stopped") == 2
    with pytest.raises(OSError):  # nobody listens on the port any more
        await asyncio.open_connection("127.0.0.1", port)


async def wait_ready(process: subprocess.Popen[bytes], workers: int = 1) -> None:
    """Until every worker has printed its "ready" line (the kernel only spreads over bound sockets)."""

    seen: list[bytes] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            # count, not lines: unbuffered workers (PYTHONUNBUFFERED, as in CI) write text and newline apart,
            # so two "ready" messages can share one line
            if sum(line.count(b"voicewire: ready") for line in seen) == workers:
                return
        raise AssertionError(f"the server exited with {process.wait()} before {workers} worker(s) were ready")

    try:
        await asyncio.wait_for(asyncio.to_thread(read), 60)
    except TimeoutError:  # say how far the workers got
        raise AssertionError(f"{workers} worker(s) not ready after 60 s; stderr so far: {seen!r}") from None
