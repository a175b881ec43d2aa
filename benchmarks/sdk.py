"""Client overhead: voicewire's sync and async clients against deepgram-sdk 3.11's, and the transport floor.

Every client connects to the same `FloodPeer` (another process), which answers the settings with a burst of
server messages: every text type in turn, interleaved one for one with 3,200-byte audio frames. Each client
registers one counting handler for every event, so each message is parsed and dispatched to user code.
CPU is this process's user + system time from `start()` to the last handler call, so it includes the
websockets I/O thread, the client's own threads and the connection set-up (amortised over the burst).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import io
import json
import logging
import pstats
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

from benchmarks.common import FloodPeer, Stopwatch, median, parser, pin_apart, print_table, write_json

#: Runs `count` messages from `url` and returns (wall, cpu) seconds; each is a fresh connection.
Runner = Callable[[str, int], tuple[float, float]]

DEEPGRAM_SYNC: Final = "deepgram-sdk 3.11 sync"
DEEPGRAM_ASYNC: Final = "deepgram-sdk 3.11 async"
VOICEWIRE_SYNC: Final = "voicewire sync"
VOICEWIRE_ASYNC: Final = "voicewire async"
BARE_SYNC: Final = "bare websockets sync"
BARE_ASYNC: Final = "bare websockets asyncio"
BARE_PICOWS: Final = "bare picows (asyncio)"

#: The floor each client is held to: the bare client on the same transport.
FLOOR_OF: Final = {
    VOICEWIRE_SYNC: BARE_SYNC,
    VOICEWIRE_ASYNC: BARE_ASYNC,
    DEEPGRAM_SYNC: BARE_SYNC,
    DEEPGRAM_ASYNC: BARE_ASYNC,
}
BASELINE_OF: Final = {VOICEWIRE_SYNC: DEEPGRAM_SYNC, VOICEWIRE_ASYNC: DEEPGRAM_ASYNC}
TARGET_VS_DEEPGRAM: Final = 3.0
TARGET_VS_FLOOR: Final = 1.5


class SyncCounter:
    """The trivial handler: count, and signal when the whole burst has been dispatched."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = threading.Event()

    def __call__(self, client: object, *args: object, **kwargs: object) -> None:
        self.count += 1
        if self.count == self.target:
            self.done.set()


class AsyncCounter:
    """Both async SDKs wrap each handler call in a task, so the handler must be a coroutine function."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = asyncio.Event()

    async def __call__(self, client: object, *args: object, **kwargs: object) -> None:
        self.count += 1
        if self.count == self.target:
            self.done.set()


def _message_events(events: Any) -> list[Any]:
    """Every event except the synthetic Open and Close, which are not part of the burst."""
    return [e for e in events if e.value not in ("Open", "Close")]


def _deepgram() -> Any:
    """The SDK at its best: by default it logs a warning for every message type it does not know."""
    from deepgram import DeepgramClient, DeepgramClientOptions

    return DeepgramClient("benchmark-key", DeepgramClientOptions(verbose=logging.ERROR))


def run_deepgram_sync(url: str, count: int) -> tuple[float, float]:
    from deepgram import AgentWebSocketEvents, SettingsConfigurationOptions

    client = _deepgram().agent.websocket.v("1")
    counter = SyncCounter(count)
    for event in _message_events(AgentWebSocketEvents):
        client.on(event, counter)
    with Stopwatch() as sw:
        if not client.start(SettingsConfigurationOptions(), members={"_websocket_url": url}):
            raise RuntimeError("deepgram-sdk sync client failed to connect")
        counter.done.wait(120)
    client.finish()
    return sw.wall, sw.cpu


async def _deepgram_async(url: str, count: int) -> tuple[float, float]:
    from deepgram import AgentWebSocketEvents, SettingsConfigurationOptions

    client = _deepgram().agent.asyncwebsocket.v("1")
    counter = AsyncCounter(count)
    for event in _message_events(AgentWebSocketEvents):
        client.on(event, counter)
    with Stopwatch() as sw:
        if not await client.start(SettingsConfigurationOptions(), members={"_websocket_url": url}):
            raise RuntimeError("deepgram-sdk async client failed to connect")
        await asyncio.wait_for(counter.done.wait(), 120)
    await client.finish()
    return sw.wall, sw.cpu


def run_voicewire_sync(url: str, count: int) -> tuple[float, float]:
    from voicewire.client import AgentWebSocketClient, ClientOptions
    from voicewire.protocol import AgentWebSocketEvents, SettingsConfigurationOptions

    client = AgentWebSocketClient(ClientOptions(api_key="benchmark-key", url=url))
    counter = SyncCounter(count)
    for event in _message_events(AgentWebSocketEvents):
        client.on(event, counter)
    with Stopwatch() as sw:
        if not client.start(SettingsConfigurationOptions()):
            raise RuntimeError("voicewire sync client failed to connect")
        counter.done.wait(120)
    client.finish()
    return sw.wall, sw.cpu


async def _voicewire_async(url: str, count: int) -> tuple[float, float]:
    from voicewire.client import AsyncAgentWebSocketClient, ClientOptions
    from voicewire.protocol import AgentWebSocketEvents, SettingsConfigurationOptions

    client = AsyncAgentWebSocketClient(ClientOptions(api_key="benchmark-key", url=url))
    counter = AsyncCounter(count)
    for event in _message_events(AgentWebSocketEvents):
        client.on(event, counter)
    with Stopwatch() as sw:
        if not await client.start(SettingsConfigurationOptions()):
            raise RuntimeError("voicewire async client failed to connect")
        await asyncio.wait_for(counter.done.wait(), 120)
    await client.finish()
    return sw.wall, sw.cpu


def run_bare_sync(url: str, count: int) -> tuple[float, float]:
    """The floor of the sync clients: receive on the websockets sync connection and parse the JSON."""
    from websockets.sync.client import connect

    loads = json.loads
    received = 0
    with Stopwatch() as sw, connect(url) as ws:
        ws.send('{"type":"SettingsConfiguration"}')
        while received < count:
            message = ws.recv()
            if isinstance(message, str):
                loads(message)
            received += 1
    return sw.wall, sw.cpu


async def _bare_async(url: str, count: int) -> tuple[float, float]:
    from websockets.asyncio.client import connect

    loads = json.loads
    received = 0
    with Stopwatch() as sw:
        async with connect(url) as ws:
            await ws.send('{"type":"SettingsConfiguration"}')
            while received < count:
                message = await ws.recv()
                if isinstance(message, str):
                    loads(message)
                received += 1
    return sw.wall, sw.cpu


async def _bare_picows(url: str, count: int) -> tuple[float, float]:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    loads = json.loads

    class Listener(WSListener):
        received = 0

        def on_ws_connected(self, transport: WSTransport) -> None:
            transport.send(WSMsgType.TEXT, b'{"type":"SettingsConfiguration"}')

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                loads(frame.get_payload_as_bytes())
            elif frame.msg_type != WSMsgType.BINARY:
                return
            self.received += 1
            if self.received == count and not done.done():
                done.set_result(None)
                transport.disconnect()

    with Stopwatch() as sw:
        transport, _ = await ws_connect(Listener, url)
        await asyncio.wait_for(done, 120)
    await transport.wait_disconnected()
    return sw.wall, sw.cpu


def _in_loop(coro: Callable[[str, int], Awaitable[tuple[float, float]]]) -> Runner:
    """Each async run gets a fresh event loop, like a script that calls `asyncio.run` once."""
    return lambda url, count: asyncio.run(coro(url, count))  # type: ignore[arg-type]


def runners(include_picows: bool) -> dict[str, Runner]:
    found: dict[str, Runner] = {
        DEEPGRAM_SYNC: run_deepgram_sync,
        VOICEWIRE_SYNC: run_voicewire_sync,
        BARE_SYNC: run_bare_sync,
        DEEPGRAM_ASYNC: _in_loop(_deepgram_async),
        VOICEWIRE_ASYNC: _in_loop(_voicewire_async),
        BARE_ASYNC: _in_loop(_bare_async),
    }
    if include_picows:
        found[BARE_PICOWS] = _in_loop(_bare_picows)
    return found


@dataclass
class Result:
    client: str
    messages: int
    wall_s: float
    cpu_s: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.wall_s

    @property
    def cpu_us_per_msg(self) -> float:
        return self.cpu_s / self.messages * 1e6


def measure(
    chosen: dict[str, Runner], url: str, count: int, repeats: int, warm: bool = True
) -> dict[str, Result]:
    """Median wall and CPU per client over `repeats` rounds, each round running every client once.

    Interleaving spreads slow drifts of the machine (frequency, neighbours) over all clients alike; unless
    `warm` is False, one unmeasured run per client first warms imports and caches. A client whose package
    is missing is skipped.
    """
    live = dict(chosen)
    walls: dict[str, list[float]] = {name: [] for name in live}
    cpus: dict[str, list[float]] = {name: [] for name in live}
    for round_ in range(repeats + warm):
        for name, runner in list(live.items()):
            gc.collect()
            try:
                wall, cpu = runner(url, min(count, 200) if warm and round_ == 0 else count)
            except ImportError as exc:
                print(f"skipped {name}: {exc}")
                del live[name]
                continue
            if not warm or round_ > 0:
                walls[name].append(wall)
                cpus[name].append(cpu)
    return {name: Result(name, count, median(walls[name]), median(cpus[name])) for name in live}


def profile(runner: Runner, url: str, count: int, top: int) -> str:
    """cProfile every thread (the sync clients work in their listener and websockets' I/O threads)."""
    profilers: list[cProfile.Profile] = []

    def start_thread_profiler(*_: object) -> None:
        threading.setprofile(None)
        prof = cProfile.Profile()
        profilers.append(prof)
        prof.enable()
        threading.setprofile(start_thread_profiler)

    runner(url, min(count, 200))
    main = cProfile.Profile()
    threading.setprofile(start_thread_profiler)
    main.enable()
    try:
        runner(url, count)
    finally:
        main.disable()
        threading.setprofile(None)
    stats = pstats.Stats(main)
    for prof in profilers:
        with contextlib.suppress(TypeError):
            stats.add(prof)
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "sdk")
    p.add_argument("--messages", type=int, default=20_000, help="messages per run (half text, half audio)")
    p.add_argument("--repeats", type=int, default=5, help="runs per client; the median is reported")
    p.add_argument(
        "--clients", nargs="*", help="only these clients (names as printed, e.g. 'voicewire sync')"
    )
    p.add_argument(
        "--deflate",
        action="store_true",
        help="the peer accepts permessage-deflate (a default websockets server)",
    )
    p.add_argument(
        "--no-pin", action="store_true", help="let the scheduler move client and peer between cores"
    )
    p.add_argument("--profile", metavar="CLIENT", help="print a cProfile of this client instead")
    p.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    args = p.parse_args(argv)
    if args.quick:
        args.messages, args.repeats = 400, 1

    try:
        import picows  # noqa: F401

        have_picows = True
    except ImportError:
        have_picows = False
    available = runners(have_picows)

    own_cpu, peer_cpu = pin_apart() if not args.no_pin else (None, None)
    with FloodPeer(args.messages, args.deflate, peer_cpu) as peer:
        if args.profile:
            print(profile(available[args.profile], peer.url, args.messages, args.top))
            return 0
        chosen = {n: r for n, r in available.items() if not args.clients or n in args.clients}
        results = measure(chosen, peer.url, args.messages, args.repeats, warm=not args.quick)

    rows = []
    for name, r in results.items():
        base = results.get(BASELINE_OF.get(name, ""))
        floor = results.get(FLOOR_OF.get(name, ""))
        rows.append(
            [
                name,
                round(r.msgs_per_s),
                r.cpu_us_per_msg,
                base.cpu_us_per_msg / r.cpu_us_per_msg if base else float("nan"),
                r.cpu_us_per_msg / floor.cpu_us_per_msg if floor else float("nan"),
            ]
        )
    print_table(
        f"Client overhead: {args.messages:,} messages per run (half text of every type, half 3,200-byte "
        "audio), "
        f"{'permessage-deflate' if args.deflate else 'no compression'}, median of {args.repeats} runs, "
        + (f"client on CPU {own_cpu}, peer on CPU {peer_cpu}" if own_cpu is not None else "not pinned"),
        ["client", "msgs/s", "CPU µs/msg", "x less CPU than deepgram", "x floor"],
        rows,
        digits=2,
    )
    print(
        f"targets: voicewire ≥ {TARGET_VS_DEEPGRAM:g}x less CPU per message than deepgram-sdk 3.11, "
        f"≤ {TARGET_VS_FLOOR:g}x the bare client of its transport"
    )
    verdicts = {}
    for name, base_name in BASELINE_OF.items():
        mine, base, floor = results.get(name), results.get(base_name), results.get(FLOOR_OF[name])
        if mine and base and floor:
            vs_base = base.cpu_us_per_msg / mine.cpu_us_per_msg
            vs_floor = mine.cpu_us_per_msg / floor.cpu_us_per_msg
            ok = vs_base >= TARGET_VS_DEEPGRAM and vs_floor <= TARGET_VS_FLOOR
            verdicts[name] = {"vs_deepgram": vs_base, "vs_floor": vs_floor, "meets_target": ok}
            print(
                f"  {name}: {'meets' if ok else 'MISSES'} target ({vs_base:.2f}x less, {vs_floor:.2f}x floor)"
            )
    write_json(
        args.json,
        {
            "benchmark": "sdk",
            "messages": args.messages,
            "repeats": args.repeats,
            "deflate": args.deflate,
            "pinned": own_cpu is not None,
            "results": [
                {**asdict(r), "msgs_per_s": r.msgs_per_s, "cpu_us_per_msg": r.cpu_us_per_msg}
                for r in results.values()
            ],
            "verdicts": verdicts,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
