"""The server under test, in a child process: `python -m benchmarks.server scripted|full`.

A separate process keeps the benchmark's own clients and clocks off the server's CPU and GIL. It prints its
port on stdout and runs until its stdin is closed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]


async def serve(mode: str) -> None:
    """`full`: the default engines, warmed up. `scripted`: Silero VAD with instant STT, LLM and TTS.
    `piper`: the Piper voice with scripted VAD, STT and LLM (what text-to-speech attacks cost)."""
    from voicewire.engines.registry import EngineRegistry
    from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
    from voicewire.engines.vad_silero import SileroModel
    from voicewire.server import AgentServer, load_config

    if mode == "full":
        registry = EngineRegistry.load_default()
        await registry.warm_up()
    elif mode == "piper":
        from voicewire.engines.scripted import ScriptedVad
        from voicewire.engines.tts_piper import JOE_VOICE, PiperTts

        registry = EngineRegistry(
            vad_factory=ScriptedVad,
            stt=ScriptedStt(),
            llm=ScriptedLlm(),
            tts=PiperTts.joe(),
            default_voice=JOE_VOICE,
        )
    else:
        registry = EngineRegistry(
            vad_factory=SileroModel().stream,
            stt=ScriptedStt(),
            llm=ScriptedLlm(),
            tts=ScriptedTts(voices=None),
        )
    _forget_requests(registry)
    # VOICEWIRE_* variables apply, so a configuration can be benchmarked without a config file.
    config = dataclasses.replace(load_config(), port=0, max_sessions=100_000, idle_timeout_s=3600.0)
    async with AgentServer(config, registry) as server:
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _forget_requests(registry: Any) -> None:
    """The scripted engines record every request for tests; a long run must not keep them all (a soak
    of 50 sessions grew by 380 MB a minute from the recorded utterances alone)."""
    from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts

    for engine in (registry.stt_for(None), registry.llm_for(None, None), registry.voice_for(None).engine):
        if isinstance(engine, ScriptedStt):
            engine.utterances, engine.keyterms = collections.deque(maxlen=1), collections.deque(maxlen=1)
        elif isinstance(engine, ScriptedLlm):
            engine.requests, engine.models = collections.deque(maxlen=1), collections.deque(maxlen=1)
        elif isinstance(engine, ScriptedTts):
            engine.requests = collections.deque(maxlen=1)


class ServerProcess:
    """Start the server (optionally pinned to one CPU) and wait until it listens."""

    def __init__(self, mode: str, cpu: int | None = None) -> None:
        command = [sys.executable, "-m", "benchmarks.server", mode]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
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
