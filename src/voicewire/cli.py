"""`voicewire <command>`: one function per subcommand, each returning the process exit code."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from voicewire.client.compat import API_KEY_ENVS
from voicewire.engines.registry import EngineConfig, EngineRegistry
from voicewire.logs import LOG_FORMATS, configure_logging
from voicewire.server import serving
from voicewire.server.config import load_config

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
        "--log-format", choices=LOG_FORMATS, default="text", help="text (default) or json, one object a line"
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="processes sharing the port, each with its own engines (default 1, or `workers` in the config)",
    )
    serve.add_argument(
        "--loop",
        choices=serving.EVENT_LOOPS,
        default="auto",
        help="event loop: uvloop when installed (auto, the default), or asyncio's own",
    )
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
    converse.add_argument(
        "--settings", type=Path, help="SettingsConfiguration JSON to start from (translated for --dialect v1)"
    )
    converse.add_argument(
        "--dialect",
        choices=("early-access", "v1"),
        default="early-access",
        help="the client's protocol: early access at /agent (deepgram-sdk 3.x) or v1 at /v1/agent/converse",
    )
    converse.add_argument("--config", type=Path, help="server configuration for the in-process server")
    converse.add_argument(
        "--functions",
        type=Path,
        help="JSON object of canned results for client-side function calls: {name: result}",
    )
    converse.add_argument(
        "--api-key",
        default=next((os.environ[name] for name in API_KEY_ENVS if os.environ.get(name)), ""),
        help="key sent to the agent (default: $VOICEWIRE_API_KEY, then $DEEPGRAM_API_KEY; "
        "for the in-process server, the first of its api_keys)",
    )
    converse.set_defaults(run=cmd_converse)

    twiml = commands.add_parser(
        "twiml",
        help="print the TwiML that connects a Twilio number's calls to this server",
        description="Print TwiML for a Twilio number: <Connect><Stream> to the server's /twilio path, with "
        "the shared token (and an agent profile) as stream parameters.",
    )
    twiml.add_argument(
        "--url", required=True, help="the public wss:// URL of /twilio, e.g. wss://host/twilio"
    )
    twiml.add_argument(
        "--token",
        default=os.environ.get("VOICEWIRE_TWILIO_TOKEN", ""),
        help="the [twilio] token (default: $VOICEWIRE_TWILIO_TOKEN)",
    )
    twiml.add_argument("--profile", help="a profile of [twilio.profiles] to use for these calls")
    twiml.set_defaults(run=cmd_twiml)

    bench = commands.add_parser(
        "bench",
        help="run a benchmark (sdk, capacity, latency, turns, replies, vad_gate, vad_cost) from the checkout",
        description="Run one of the benchmarks in the checkout's benchmarks/ folder; options go to it.",
    )
    bench.add_argument("name", help="sdk, capacity, latency, turns, replies, vad_gate or vad_cost")
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
            workers=config.workers if args.workers is None else args.workers,
        )
        config.check()
        engine_config = EngineConfig.from_mapping(config.engines, environ=os.environ)
    except (ValueError, OSError) as exc:  # ConfigError is a ValueError, as are engine config errors
        print(f"voicewire serve: {exc}", file=sys.stderr)
        return 2
    if config.workers > 1:
        worker = functools.partial(
            serving.serve_with_default_engines,
            engine_config=engine_config,
            log_level=args.log_level,
            log_format=args.log_format,
            event_loop=args.loop,
        )
        return serving.run_workers(config, worker)
    try:
        serving.run_event_loop(
            serving.serve_until_signalled(config, lambda: EngineRegistry.load_warm(engine_config)), args.loop
        )
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
                functions_path=args.functions,
                dialect=args.dialect,
            )
        )
    except (OSError, ValueError, ImportError) as exc:
        print(f"voicewire converse: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(conversation.to_json()))
    else:
        print(converse.format_conversation(conversation, args.out))
    if conversation.fatal is not None:
        print(f"voicewire converse: {conversation.fatal}", file=sys.stderr)
        return 1
    return 0 if conversation.agent_transcripts else 1


def cmd_twiml(args: argparse.Namespace) -> int:
    from voicewire.twiml import TwimlError, connect_stream

    try:
        print(connect_stream(args.url, token=args.token, profile=args.profile))
    except TwimlError as exc:
        print(f"voicewire twiml: {exc}", file=sys.stderr)
        return 2
    return 0


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, getattr(args, "log_format", "text"))
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
