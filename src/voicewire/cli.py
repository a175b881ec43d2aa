"""`voicewire <command>`: one function per subcommand, each returning the process exit code."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from voicewire.engines.registry import EngineConfig, EngineRegistry
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig, load_config

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicewire", description="Self-hosted Deepgram Voice Agent server and SDK"
    )
    parser.add_argument(
        "--log-level", default="WARNING", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    serve = commands.add_parser("serve", help="run the agent server", description="Run the agent server.")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or `host` from the config)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free port)")
    serve.add_argument("--config", help="TOML or JSON configuration file")
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address without API keys (anyone may connect)",
    )
    serve.set_defaults(run=cmd_serve)

    converse = commands.add_parser(
        "converse",
        help="hold one conversation from an audio file",
        description="Stream an audio file to the agent through voicewire's SDK client and print the reply.",
    )
    converse.add_argument("audio", type=Path, help="WAV file: linear16, mu-law or a-law, mono, any rate")
    converse.add_argument("--url", help="agent URL (default: start the server in-process with its engines)")
    converse.add_argument("--out", type=Path, help="write the agent's audio to this WAV file")
    converse.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    converse.add_argument("--speed", type=float, default=1.0, help="stream X times faster than real time")
    converse.add_argument("--settings", type=Path, help="SettingsConfiguration JSON to start from")
    converse.add_argument("--config", type=Path, help="server configuration for the in-process server")
    converse.add_argument(
        "--api-key", default=os.environ.get("VOICEWIRE_API_KEY", ""), help=argparse.SUPPRESS
    )
    converse.set_defaults(run=cmd_converse)

    bench = commands.add_parser(
        "bench",
        help="run a benchmark (sdk, capacity, latency, replies) from the source checkout",
        description="Run one of the benchmarks in the checkout's benchmarks/ folder; options go to it.",
    )
    bench.add_argument("name", help="sdk, capacity, latency or replies")
    bench.add_argument(
        "options", nargs=argparse.REMAINDER, help="the benchmark's own options (--json PATH, ...)"
    )
    bench.set_defaults(run=cmd_bench)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        config = dataclasses.replace(
            config,
            host=config.host if args.host is None else args.host,
            port=config.port if args.port is None else args.port,
            insecure=config.insecure or args.insecure,
        )
        config.check()
        engine_config = EngineConfig.from_mapping(config.engines, environ=os.environ)
    except (ValueError, OSError) as exc:  # ConfigError is a ValueError, as are engine config errors
        print(f"voicewire serve: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config, engine_config))
    except (OSError, ImportError) as exc:
        print(f"voicewire serve: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_converse(args: argparse.Namespace) -> int:
    from voicewire import converse

    if args.speed <= 0:
        print("voicewire converse: --speed must be positive", file=sys.stderr)
        return 2
    try:
        conversation = asyncio.run(
            converse.run(
                args.audio,
                url=args.url,
                out=args.out,
                speed=args.speed,
                settings_path=args.settings,
                config_path=args.config,
                api_key=args.api_key,
            )
        )
    except (OSError, ValueError, ImportError) as exc:
        print(f"voicewire converse: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(conversation.to_json()))
    else:
        print(converse.format_conversation(conversation, args.out))
    return 0 if conversation.agent_transcripts else 1


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks live beside `src/` in the checkout (they are not part of the installed package)."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "benchmarks" / "__main__.py").is_file():
        print(
            "voicewire bench: the benchmarks ship with the source checkout, not the package", file=sys.stderr
        )
        return 2
    sys.path.insert(0, str(checkout))
    from benchmarks.__main__ import run

    return run(args.name, list(args.options))


async def _serve(config: ServerConfig, engine_config: EngineConfig) -> None:
    """Listen at once (so /healthz reports loading), load the engines, serve until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AgentServer(config) as server:
        print(f"voicewire: loading engines for {server.url}", file=sys.stderr)
        loading = asyncio.create_task(EngineRegistry.load_warm(engine_config))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not loading.done():
            stopping.cancel()
            loading.cancel()
            print("voicewire: stopped while loading engines", file=sys.stderr)
            return
        registry = loading.result()
        server.engines = registry
        print(f"voicewire: ready at {server.url}", file=sys.stderr)
        try:
            await stopping
        finally:
            await registry.aclose()
    print("voicewire: stopped", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
