"""The server as an operating-system process: serve until SIGTERM/SIGINT, then drain; or N such processes.

One process listens at once (so `/healthz` answers 503 while the engines load), loads its engines, and on
SIGTERM drains: it stops accepting, lets live sessions end by themselves for up to `drain_timeout_s`, then
closes the rest with 1001. A load balancer sees the refused connections and sends new sessions elsewhere.

`run_workers` starts `workers` such processes on one port: the kernel spreads new connections across them
(SO_REUSEPORT), and each has its own engines and event loop, so they share nothing and use one core each.
The parent only forwards SIGTERM/SIGINT and waits; a worker that dies is reported, not restarted (that is
the service manager's job, which sees the parent exit when the last worker has).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from types import FrameType
from typing import Any, Literal, TypeVar, get_args

from voicewire.engines.registry import EngineConfig, EngineRegistry
from voicewire.logs import LogFormat, configure_logging
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig
from voicewire.server.static import playground_url

logger = logging.getLogger(__name__)

EngineLoader = Callable[[], Awaitable[EngineRegistry]]
#: The event loop a server process runs on: `auto` is uvloop when it is installed, else asyncio's own.
EventLoopName = Literal["auto", "uvloop", "asyncio"]
EVENT_LOOPS: tuple[EventLoopName, ...] = get_args(EventLoopName)
T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T], loop: EventLoopName = "auto") -> T:
    """Run a server process's main coroutine to completion.

    Every session's 20 ms frames pass through the event loop (socket reads, wake-ups, timers), so its own
    cost is a large share of a busy server's; uvloop's is a fraction of asyncio's (README, "Capacity").
    """
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                main.close()
                raise
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def freeze_loaded_objects() -> None:
    """Move what is alive once the engines are loaded (modules, engines, their Python objects) out of the
    cyclic collector's generations, after collecting what is already garbage.

    It lives as long as the server, yet every full collection, which stops all sessions, walked it: at 125-150
    sessions a full collection took 35-47 ms, a few every 10 s, which alone pushed the p99 frame lag of
    `bench capacity` over 50 ms at 140 sessions. Frozen, a full collection takes about 5 ms.
    """
    gc.collect()
    gc.freeze()


def _stop_when_parent_dies(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """A worker of `run_workers` whose parent is gone (killed with SIGKILL, so it could not forward SIGTERM)
    stops as on SIGTERM: it drains and exits instead of holding the port as an orphan. The parent's sentinel
    becomes readable when the parent exits."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def parent_gone() -> None:
        loop.remove_reader(sentinel)
        stop.set()

    loop.add_reader(sentinel, parent_gone)


async def serve_until_signalled(config: ServerConfig, load_engines: EngineLoader) -> None:
    """Listen, load the engines, serve until SIGINT/SIGTERM (or, in a worker, its parent's death), drain,
    release the engines."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _stop_when_parent_dies(loop, stop)
    async with AgentServer(config) as server:
        print(f"voicewire: loading engines for {server.url}", file=sys.stderr)
        loading = asyncio.ensure_future(load_engines())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not loading.done():
            stopping.cancel()
            loading.cancel()
            print("voicewire: stopped while loading engines", file=sys.stderr)
            return
        registry = loading.result()
        server.engines = registry
        freeze_loaded_objects()
        print(f"voicewire: ready at {server.url}", file=sys.stderr)
        print(
            f"voicewire: talk to it at {playground_url(config.host, server.port)}",
            file=sys.stderr,
            flush=True,
        )
        try:
            await stopping
            print(f"voicewire: draining {len(server.sessions)} session(s)", file=sys.stderr, flush=True)
            await server.drain(config.drain_timeout_s)
        finally:
            await registry.aclose()
    print("voicewire: stopped", file=sys.stderr)


def serve_with_default_engines(
    config: ServerConfig,
    engine_config: EngineConfig,
    log_level: str,
    log_format: LogFormat = "text",
    event_loop: EventLoopName = "auto",
) -> None:
    """One worker process's body: the offline engines named by `engine_config`."""
    configure_logging(log_level, log_format)
    run_event_loop(serve_until_signalled(config, lambda: EngineRegistry.load_warm(engine_config)), event_loop)


def run_workers(config: ServerConfig, worker: Callable[[ServerConfig], None]) -> int:
    """Run `worker(config)` in `config.workers` fresh processes; 0 when all of them exit cleanly.

    `worker` must be picklable (a module-level function or a `functools.partial` of one): processes are
    spawned, not forked, so no engine state or thread is inherited half-initialised.
    """
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=worker, args=(config,), name=f"voicewire-worker-{index}")
        for index in range(config.workers)
    ]
    for process in processes:
        process.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [process for process in processes if process.exitcode != 0]
    for process in failed:
        logger.error("%s exited with code %s", process.name, process.exitcode)
    return 1 if failed else 0
