"""Server capacity: how many real-time sessions one server process keeps up with.

The server runs in its own process with the real VAD (Silero) and turn detector; STT, LLM and TTS are the
instant scripted engines, so what is measured is the per-frame path every session pays all the time. A load
generator (another process, `capacity_load`) streams looped real speech at 16 kHz in 20 ms frames, paced in
real time, over bare sockets with frames serialised once: a websockets client per session cost 2-2.5 times
its CPU (59 % of a core at 200 sessions) and fell behind its own schedule from 200 sessions on.

Lag is measured with probes: every 200 ms a session sends `UpdateInstructions` (empty, so the instructions do
not change) right after an audio frame. The server handles a connection's messages in order and answers with
`InstructionsUpdated`, so the probe's round trip bounds from above the time from sending that frame to the
server having processed it (VAD included), queueing behind every other session's frames. The count grows
until the p99 round trip exceeds 50 ms.

By default the server is pinned to one CPU and the generators to the other, so "sessions per core" is the
count at the knee and the generators' CPU does not come out of the server's share; the generators' own
scheduling lateness is reported to show they kept up. `--full` instead runs whole conversations with the
default engines on both cores and reports how many run at once with p50 turn latency ≤ 1.5 s.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import time
from typing import Any, Final, get_args

from benchmarks import capacity_load
from benchmarks.capacity_load import LoadReport
from benchmarks.common import (
    Utterance,
    cpu_seconds,
    parser,
    percentile,
    print_table,
    rss_bytes,
    summary,
    test_utterances,
    write_json,
)
from benchmarks.server import LlamaServer, ServerProcess

LAG_LIMIT_S: Final = 0.050
FULL_P50_LIMIT_S: Final = 1.5
#: Sessions per load generator process: one costs about a quarter of a core at 300 sessions.
SESSIONS_PER_GENERATOR: Final = 1000


# --------------------------------------------------------------------------------------------------- load


def _generator_main(
    pipe: Any, url: str, sessions: int, seconds: float, warmup: float, seed: int, cpu: int | None
) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    pipe.send(capacity_load.run(url, sessions, seconds, warmup, seed))


def run_load(
    url: str, sessions: int, seconds: float, warmup: float, cpu: int | None
) -> tuple[LoadReport, int]:
    """Spread `sessions` over generator processes; returns the merged report and the process count."""
    ctx = multiprocessing.get_context("spawn")
    count = max(1, math.ceil(sessions / SESSIONS_PER_GENERATOR))
    shares = [sessions // count + (1 if i < sessions % count else 0) for i in range(count)]
    pipes, processes = [], []
    for i, share in enumerate(shares):
        receiver, sender = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_generator_main, args=(sender, url, share, seconds, warmup, i, cpu))
        process.start()
        pipes.append(receiver)
        processes.append(process)
    merged = LoadReport()
    for receiver, process in zip(pipes, processes, strict=True):
        part: LoadReport = receiver.recv()
        process.join()
        merged.add(part)
    return merged, count


# --------------------------------------------------------------------------------------------------- main


def _cpus(no_pin: bool) -> tuple[int | None, int | None]:
    allowed = sorted(os.sched_getaffinity(0))
    if no_pin or len(allowed) < 2:
        return None, None
    return allowed[0], allowed[-1]


def _server_cpu(server: ServerProcess) -> float:
    return sum(cpu_seconds(pid) for pid in server.pids())


def _server_rss(server: ServerProcess) -> int:
    return sum(rss_bytes(pid) for pid in server.pids())


def realtime(args: Any) -> int:
    # Several workers need several cores: then nothing is pinned and capacity is per core of server CPU.
    server_cpu, load_cpu = _cpus(args.no_pin or args.workers > 1)
    options = ["--loop", args.loop, "--gate-dbfs", args.gate_dbfs]
    options += ["--silero-graph", args.silero_graph]
    options += ["--workers", str(args.workers)]
    server = ServerProcess("scripted", server_cpu, options)
    try:
        time.sleep(0.5)
        idle_rss = _server_rss(server)
        rows, steps = [], []
        best: dict[str, Any] | None = None
        for n in args.sessions:
            cpu0, wall0 = _server_cpu(server), time.monotonic()
            report, generators = run_load(server.url, n, args.seconds, args.warmup, load_cpu)
            wall = time.monotonic() - wall0
            server_cpu_share = (_server_cpu(server) - cpu0) / wall
            rss = _server_rss(server)
            lag = summary(report.lags)
            step = {
                "sessions": n,
                "generators": generators,
                "lag_s": lag,
                "server_cpu_cores": server_cpu_share,
                "server_rss_bytes": rss,
                "rss_per_session_bytes": (rss - idle_rss) / n,
                "generator_cpu_cores": report.cpu_s / wall,
                "generator_lateness_p99_s": percentile(report.lateness, 99),
                "onsets_per_session_min": report.onsets / n / ((args.seconds + args.warmup) / 60),
                "replies": report.replies,
                "failed_sessions": report.failed,
            }
            steps.append(step)
            rows.append(
                [
                    n,
                    lag["p50"] * 1000,
                    lag["p99"] * 1000,
                    lag["max"] * 1000,
                    server_cpu_share * 100,
                    (rss - idle_rss) / n / 1024,
                    report.cpu_s / wall * 100,
                    percentile(report.lateness, 99) * 1000,
                    step["onsets_per_session_min"],
                    report.failed,
                ]
            )
            print(
                f"  {n} sessions: p99 lag {lag['p99'] * 1000:.1f} ms, server CPU {server_cpu_share:.0%}",
                flush=True,
            )
            if lag["p99"] > LAG_LIMIT_S or report.failed:
                break
            best = step
    finally:
        server.close()
    pinned = server_cpu is not None
    print_table(
        f"Real-time sessions into {args.workers} server process(es) (Silero VAD + turn detection, scripted "
        "STT/LLM/TTS), "
        f"{args.seconds:g} s per step after {args.warmup:g} s warm-up; "
        + (f"server on CPU {server_cpu}, generators on CPU {load_cpu}" if pinned else "not pinned"),
        [
            "sessions",
            "lag p50 ms",
            "lag p99 ms",
            "lag max ms",
            "server CPU %",
            "RSS/session KiB",
            "generator CPU %",
            "gen. late p99 ms",
            "onsets/session/min",
            "failed",
        ],
        rows,
    )
    result: dict[str, Any] = {
        "benchmark": "capacity",
        "pinned": pinned,
        "workers": args.workers,
        "steps": steps,
    }
    if best is not None:
        cores = 1.0 if pinned else max(best["server_cpu_cores"], 1e-9)
        per_core = best["sessions"] / cores
        result.update(sessions_at_limit=best["sessions"], sessions_per_core=per_core)
        print(
            f"capacity: {best['sessions']} sessions with p99 lag ≤ {LAG_LIMIT_S * 1000:g} ms → "
            f"{per_core:.0f} sessions per core "
            f"({'server pinned to one core' if pinned else 'by server CPU use'}); "
            f"{best['rss_per_session_bytes'] / 1024:.0f} KiB resident per session (target: ≥ 200 per core)"
        )
    else:
        print(f"capacity: even {args.sessions[0]} sessions exceed p99 lag {LAG_LIMIT_S * 1000:g} ms")
    write_json(args.json, result)
    return 0


async def _conversations(
    url: str, count: int, turns: int, utterances: list[Utterance], settings: Any = None
) -> list[dict[str, float]]:
    from benchmarks.common import Conversation

    async def one(k: int) -> list[dict[str, float]]:
        async with Conversation(url, settings) as conv:
            out = []
            for t in range(turns):
                out.append(await conv.turn(utterances[(k + t) % len(utterances)]))
            return out

    done = await asyncio.gather(*(one(k) for k in range(count)))
    return [turn for session in done for turn in session]


def _remote_llm_settings() -> Any:
    from voicewire.protocol import SettingsConfigurationOptions

    settings = SettingsConfigurationOptions()
    settings.agent.think.provider.type = "open_ai"
    settings.agent.think.model = "smollm2"
    return settings


def full(args: Any) -> int:
    llm = LlamaServer() if args.remote_llm else None
    settings = _remote_llm_settings() if llm else None
    server = ServerProcess("full", None, ["--llm-url", llm.base_url] if llm else [])
    utterances = test_utterances(espeak=False)
    rows, steps = [], []
    best = 0
    try:
        # One unmeasured conversation warms every engine along the real path.
        asyncio.run(_conversations(server.url, 1, 1, utterances, settings))
        for n in args.conversations:
            turns = asyncio.run(_conversations(server.url, n, args.turns, utterances, settings))
            latency = summary([t["latency"] for t in turns if t["latency"] == t["latency"]])
            steps.append(
                {"conversations": n, "latency_s": latency, "server_rss_bytes": rss_bytes(server.pid)}
            )
            rows.append([n, len(turns), latency["p50"] * 1000, latency["p95"] * 1000, latency["max"] * 1000])
            print(f"  {n} conversations: p50 {latency['p50'] * 1000:.0f} ms", flush=True)
            if latency["p50"] > FULL_P50_LIMIT_S:
                break
            best = n
    finally:
        server.close()
        if llm is not None:
            llm.close()
    where = "the LLM in a separate llama_cpp.server process" if llm else "the default engines"
    print_table(
        f"Whole conversations with {where} (both cores, server and callers): end of user speech → "
        "first agent audio byte",
        ["conversations", "turns", "p50 ms", "p95 ms", "max ms"],
        rows,
        digits=0,
    )
    print(f"{best} conversations at once keep p50 ≤ {FULL_P50_LIMIT_S:g} s on {os.cpu_count()} cores")
    result = {"benchmark": "capacity-full", "remote_llm": llm is not None, "steps": steps}
    write_json(args.json, {**result, "conversations_at_limit": best})
    return 0


def main(argv: list[str] | None = None) -> int:
    from voicewire.engines.vad_silero import SileroGraph
    from voicewire.server.serving import EVENT_LOOPS

    p = parser(__doc__.splitlines()[0] if __doc__ else "capacity")
    p.add_argument("--sessions", type=int, nargs="+", default=[25, 50, 100, 150, 200, 250, 300, 400])
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds per step")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds at the start of each step")
    p.add_argument("--no-pin", action="store_true", help="do not pin the server and the generators apart")
    p.add_argument(
        "--loop",
        choices=EVENT_LOOPS,
        default="auto",
        help="the server's event loop (auto, as `voicewire serve`: uvloop when installed)",
    )
    p.add_argument("--workers", type=int, default=1, help="server worker processes on one port (unpinned)")
    p.add_argument("--gate-dbfs", default="-50", help="Silero's energy gate in dBFS, or 'off'")
    p.add_argument(
        "--silero-graph",
        choices=get_args(SileroGraph),
        default="gemm",
        help="how Silero runs: its batched rebuild or the bundled file as shipped",
    )
    p.add_argument("--full", action="store_true", help="whole conversations with the default engines instead")
    p.add_argument(
        "--remote-llm",
        action="store_true",
        help="with --full: SmolLM2 in a llama_cpp.server process of its own",
    )
    p.add_argument("--conversations", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    p.add_argument("--turns", type=int, default=3, help="turns per conversation in --full")
    args = p.parse_args(argv)
    if args.quick:
        args.sessions, args.seconds, args.warmup = [2, 4], 2.0, 1.0
        args.conversations, args.turns = [1], 1
    return full(args) if args.full else realtime(args)


if __name__ == "__main__":
    raise SystemExit(main())
