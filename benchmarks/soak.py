"""Soak: many concurrent sessions of real speech turns for minutes; the server's memory must stay flat.

The server runs in its own process (Silero VAD and turn detection, scripted STT/LLM/TTS, as in `capacity`);
load generators stream looped real speech in real time, so every session keeps taking turns and getting
replies. The server's RSS is sampled every `--every` seconds; after the warm-up (the first fifth of the
run) its least-squares slope must stay under `SLOPE_LIMIT_MB_PER_MIN`. Afterwards /metrics must report no
active session (nothing left behind by the closed connections).

    voicewire bench soak [--sessions 50] [--minutes 10] [--json PATH]
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any, Final

from benchmarks.capacity import LoadReport, run_load
from benchmarks.common import parser, rss_bytes, write_json
from benchmarks.server import ServerProcess

SLOPE_LIMIT_MB_PER_MIN: Final = 1.0
WARMUP_SHARE: Final = 0.2


def slope_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, bytes) samples, in MB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    return (cov / var) * 60 / 1e6 if var else 0.0


def main(argv: list[str] | None = None) -> int:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--sessions", type=int, default=50)
    options.add_argument("--minutes", type=float, default=10.0)
    options.add_argument("--every", type=float, default=5.0, help="seconds between RSS samples")
    args = options.parse_args(argv)
    seconds = args.minutes * 60
    server = ServerProcess("scripted")
    samples: list[tuple[float, int]] = []
    try:
        time.sleep(0.5)
        idle = rss_bytes(server.pid)
        outcome: list[LoadReport] = []
        load = threading.Thread(
            target=lambda: outcome.append(run_load(server.url, args.sessions, seconds, 0.0, None)[0]),
            daemon=True,
        )
        started = time.monotonic()
        load.start()
        while load.is_alive():
            samples.append((time.monotonic() - started, rss_bytes(server.pid)))
            load.join(args.every)
        time.sleep(2.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as response:
            active = json.load(response)["sessions_active"]
        final = rss_bytes(server.pid)
    finally:
        server.close()
    report = outcome[0] if outcome else LoadReport()
    steady = [(t, r) for t, r in samples if t >= seconds * WARMUP_SHARE]
    slope = slope_per_minute(steady)
    peak = max((r for _, r in samples), default=idle)
    mib = 1024 * 1024
    print(
        f"soak: {args.sessions} sessions x {args.minutes:g} min, {report.replies} replies, "
        f"{report.onsets} turns, {report.failed} failed sessions; RSS idle {idle / mib:.0f} MiB, "
        f"peak {peak / mib:.0f} MiB, after {final / mib:.0f} MiB; slope after warm-up {slope:+.2f} MB/min "
        f"(limit {SLOPE_LIMIT_MB_PER_MIN:g}); sessions active afterwards: {active}"
    )
    result: dict[str, Any] = {
        "benchmark": "soak",
        "sessions": args.sessions,
        "minutes": args.minutes,
        "replies": report.replies,
        "turns": report.onsets,
        "failed_sessions": report.failed,
        "idle_rss_bytes": idle,
        "peak_rss_bytes": peak,
        "final_rss_bytes": final,
        "slope_mb_per_min": slope,
        "sessions_active_after": active,
        "samples": samples,
    }
    write_json(args.json, result)
    ok = slope < SLOPE_LIMIT_MB_PER_MIN and active == 0 and report.failed == 0
    return 0 if ok else 1
