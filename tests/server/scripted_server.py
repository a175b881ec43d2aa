"""`python -m tests.server.scripted_server --port P [--workers N] [--drain S]`: the real serving code
(signals, drain, SO_REUSEPORT workers) with scripted engines, for tests that need whole server processes.

Every transcript is "worker <pid>", so a client learns from its first turn which process serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import numpy as np

from tests.server.net import fast_config
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import ScriptedStt, scripted_registry
from voicewire.server.config import ServerConfig
from voicewire.server.serving import run_workers, serve_until_signalled


def name_the_worker(audio: np.ndarray) -> str:
    return f"worker {os.getpid()}"


async def load_engines() -> EngineRegistry:
    return scripted_registry(stt=ScriptedStt(transcribe_with=name_the_worker))


def worker(config: ServerConfig) -> None:
    asyncio.run(serve_until_signalled(config, load_engines))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--drain", type=float, default=10.0)
    args = parser.parse_args()
    # Sessions of these tests sit idle between turns for as long as a loaded machine needs for the others.
    config = fast_config(
        port=args.port, workers=args.workers, drain_timeout_s=args.drain, max_sessions=64, idle_timeout_s=300
    )
    if args.workers > 1:
        return run_workers(config, worker)
    worker(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
