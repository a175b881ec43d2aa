"""The server under test, in a child process: `python -m benchmarks.server scripted|full [OPTIONS]`.

Options: `--loop auto|uvloop|asyncio` its event loop (`auto`, as `voicewire serve`: uvloop when
installed); `--gate-dbfs X` sets Silero's energy gate (`off`: none); `--silero-graph original|gemm` how
Silero runs (SileroModel's `graph`); `--workers N` (scripted) runs N worker processes on one port, as
`voicewire serve --workers N` does.

A separate process keeps the benchmark's own clients and clocks off the server's CPU and GIL. It prints its
port on stdout and runs until its stdin is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, get_args

ROOT: Final = Path(__file__).resolve().parents[1]


async def serve(mode: str, silero: Mapping[str, Any], llm_url: str | None = None) -> None:
    """`full`: the default engines, warmed up. `scripted`: Silero VAD (`silero`: SileroModel's keyword
    arguments) with instant STT, LLM and TTS. `piper`: the Piper voice with scripted VAD, STT and LLM (what
    text-to-speech attacks cost)."""
    from voicewire.engines.registry import EngineConfig, EngineRegistry, LocalLlmConfig
    from voicewire.server import AgentServer
    from voicewire.server.serving import freeze_loaded_objects

    if mode == "full":
        # With `llm_url`, think.provider.type "open_ai" is SmolLM2 on a llama_cpp.server, asked for replies
        # like the local model's (the same token cap, temperature and seed).
        local = LocalLlmConfig()
        reply = {"max_tokens": local.max_tokens, "temperature": local.temperature, "seed": local.seed}
        provider = {"base_url": llm_url, "model": "smollm2", "extra_body": reply}
        engines: dict[str, Any] = {"providers": {"open_ai": provider}} if llm_url else {}
        threads = os.environ.get("VOICEWIRE_BENCH_LLM_THREADS")
        if threads:
            # On a box shared with other busy processes llama.cpp's threads spin at every barrier while the
            # other thread waits for a core: at a load average of 13 on 2 cores, 77 prompt + 40 generated
            # tokens took 38 s with 2 threads and 4.1 s with 1 (idle: 0.5 s).
            engines["llm"] = {"n_threads": int(threads)}
        registry = EngineRegistry.load_default(EngineConfig.from_mapping(engines))
        await registry.warm_up()
    elif mode == "piper":
        from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedVad
        from voicewire.engines.tts_piper import JOE_VOICE, PiperTts

        registry = EngineRegistry(
            vad_factory=ScriptedVad,
            stt=ScriptedStt(),
            llm=ScriptedLlm(),
            tts=PiperTts.joe(),
            default_voice=JOE_VOICE,
        )
    else:
        registry = _scripted_registry(silero)
    _forget_requests(registry)
    freeze_loaded_objects()  # as `voicewire serve` does once its engines are loaded
    async with AgentServer(_config(port=0), registry) as server:
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _forget_requests(registry: Any) -> None:
    """The scripted engines record every request for tests; a long run must not keep them all (a soak
    of 50 sessions grew by 380 MB a minute from the recorded utterances alone)."""
    from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts

    engines = (
        registry.stt_for(None),
        registry.choose_llm(None, None).engine,
        registry.voice_for(None).engine,
    )
    for engine in engines:
        if isinstance(engine, ScriptedStt):
            engine.utterances, engine.keyterms = collections.deque(maxlen=1), collections.deque(maxlen=1)
        elif isinstance(engine, ScriptedLlm):
            engine.requests, engine.models = collections.deque(maxlen=1), collections.deque(maxlen=1)
        elif isinstance(engine, ScriptedTts):
            engine.requests = collections.deque(maxlen=1)


def _config(port: int, workers: int = 1) -> Any:
    """VOICEWIRE_* variables apply, so a configuration can be benchmarked without a config file."""
    from voicewire.server import load_config

    return dataclasses.replace(
        load_config(),
        port=port,
        workers=workers,
        max_sessions=100_000,
        idle_timeout_s=3600.0,
        drain_timeout_s=0,
    )


def _scripted_registry(silero: Mapping[str, Any]) -> Any:
    from voicewire.engines.registry import EngineRegistry
    from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
    from voicewire.engines.vad_silero import SileroModel

    return EngineRegistry(
        vad_factory=SileroModel(**silero).stream,
        stt=ScriptedStt(),
        llm=ScriptedLlm(),
        tts=ScriptedTts(voices=None),
    )


def _scripted_worker(config: Any, silero: Mapping[str, Any], loop: Any) -> None:
    from voicewire.server.serving import run_event_loop, serve_until_signalled

    async def load() -> Any:
        return _scripted_registry(silero)

    run_event_loop(serve_until_signalled(config, load), loop)


def serve_workers(workers: int, silero: Mapping[str, Any], loop: Any) -> None:
    """The real multi-process server; its port is printed once it answers (and a second later, so every
    worker has bound it), and closing stdin stops every worker."""
    from voicewire.server.serving import run_workers

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def announce() -> None:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        print(port, flush=True)

    def stop_at_end_of_input() -> None:
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=announce, daemon=True).start()
    threading.Thread(target=stop_at_end_of_input, daemon=True).start()
    worker = functools.partial(_scripted_worker, silero=silero, loop=loop)
    run_workers(_config(port, workers), worker)


class ServerProcess:
    """Start the server (optionally pinned to one CPU) and wait until it listens."""

    def __init__(
        self,
        mode: str,
        cpu: int | None = None,
        options: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        """`options` go to `python -m benchmarks.server`; `env` adds variables to the server's environment
        (e.g. `VOICEWIRE_*`)."""
        command = [sys.executable, "-m", "benchmarks.server", mode, *options]
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

    def pids(self) -> list[int]:
        """This process and its children (the workers of `--workers`)."""
        children: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            children += [int(pid) for pid in (task / "children").read_text().split()]
        return [self.pid, *children]

    def turn_metrics(self) -> list[dict[str, Any]]:
        """The server's own timestamps of recent turns (GET /metrics.json)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics.json", timeout=10) as response:
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


class LlamaServer:
    """SmolLM2 behind llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`), as a deployment
    would run the LLM next to, not inside, the session servers."""

    def __init__(self, threads: int = 2) -> None:
        from voicewire.engines.llm_llamacpp import smollm2_path

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path())]
        command += ["--host", "127.0.0.1", "--port", str(port), "--model_alias", "smollm2"]
        command += ["--n_ctx", "2048", "--n_threads", str(threads), "--seed", "1234"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("llama_cpp.server did not start") from None
                time.sleep(0.5)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main(argv: Sequence[str]) -> None:
    from voicewire.engines.vad_silero import SileroGraph
    from voicewire.server.serving import EVENT_LOOPS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("mode", choices=("scripted", "full"))
    parser.add_argument("--loop", choices=EVENT_LOOPS, default="auto")
    parser.add_argument("--gate-dbfs", default="-50")
    parser.add_argument("--silero-graph", choices=get_args(SileroGraph), default="gemm")
    parser.add_argument("--llm-url", help="full mode: an OpenAI-compatible chat endpoint for open_ai")
    parser.add_argument("--workers", type=int, default=1, help="scripted mode: worker processes on one port")
    args = parser.parse_args(argv)
    from voicewire.logs import configure_logging

    # The server's own log lines (e.g. the reply guard's rejections) on stderr, when a run needs explaining.
    configure_logging(os.environ.get("VOICEWIRE_BENCH_LOG_LEVEL", "WARNING").upper())
    gate = None if args.gate_dbfs == "off" else float(args.gate_dbfs)
    silero = {"gate_dbfs": gate, "graph": args.silero_graph}
    if args.workers > 1:
        serve_workers(args.workers, silero, args.loop)
        return
    from voicewire.server.serving import run_event_loop

    run_event_loop(serve(args.mode, silero, args.llm_url), args.loop)


if __name__ == "__main__":
    main(sys.argv[1:])
