"""The server under test, in a child process: `python -m benchmarks.server scripted|full`.

A separate process keeps the benchmark's own clients and clocks off the server's CPU and GIL. It prints its
port on stdout and runs until its stdin is closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Final

from voicewire.engines.registry import EngineConfig, LocalLlmConfig

ROOT: Final = Path(__file__).resolve().parents[1]


async def serve(mode: str) -> None:
    """`full`: the default engines, warmed up. `scripted`: Silero VAD with instant STT, LLM and TTS."""
    from voicewire.engines.registry import EngineRegistry
    from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
    from voicewire.engines.vad_silero import SileroModel
    from voicewire.server import AgentServer, load_config

    if mode == "full":
        registry = EngineRegistry.load_default(_engine_config())
        await registry.warm_up()
    else:
        registry = EngineRegistry(
            vad_factory=SileroModel().stream,
            stt=ScriptedStt(),
            llm=ScriptedLlm(),
            tts=ScriptedTts(voices=None),
        )
    # VOICEWIRE_* variables apply, so a configuration can be benchmarked without a config file.
    config = dataclasses.replace(load_config(), port=0, max_sessions=100_000, idle_timeout_s=3600.0)
    async with AgentServer(config, registry) as server:
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _engine_config() -> EngineConfig:
    """The default engines; `VOICEWIRE_BENCH_LLM_THREADS` changes only the LLM's thread count.

    On a box shared with other busy processes llama.cpp's threads spin at every barrier while the other
    thread waits for a core: at a load average of 13 on 2 cores, 77 prompt + 40 generated tokens took 38 s
    with 2 threads and 4.1 s with 1 (idle: 0.5 s). Benchmarks of reply content can run with 1 thread there.
    """
    threads = os.environ.get("VOICEWIRE_BENCH_LLM_THREADS")
    if not threads:
        return EngineConfig()
    return EngineConfig(llm=LocalLlmConfig(n_threads=int(threads)))


class ServerProcess:
    """Start the server (optionally pinned to one CPU) and wait until it listens."""

    def __init__(self, mode: str, cpu: int | None = None, env: dict[str, str] | None = None) -> None:
        """`env`: variables added to this process's environment for the server (e.g. `VOICEWIRE_*`)."""
        command = [sys.executable, "-m", "benchmarks.server", mode]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env} if env else None,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise RuntimeError(f"the {mode} server exited before listening")
        self.port = int(line)
        self.url = f"ws://127.0.0.1:{self.port}/agent"

    @property
    def pid(self) -> int:
        return self.process.pid

    def turn_metrics(self) -> list[dict[str, Any]]:
        """The server's own timestamps of recent turns (GET /metrics)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
            turns: list[dict[str, Any]] = json.load(response)["turns"]
        return turns

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
