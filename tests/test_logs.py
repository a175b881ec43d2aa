"""`voicewire serve --log-format json`: one JSON object per log line, for log collectors."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from tests.server.net import client, free_port, receive, wait_healthy
from voicewire import cli
from voicewire.logs import JsonFormatter


def test_serve_takes_a_log_format() -> None:
    assert cli.build_parser().parse_args(["serve", "--log-format", "json"]).log_format == "json"
    assert cli.build_parser().parse_args(["serve"]).log_format == "text"


def test_json_lines_carry_level_logger_message_and_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "voicewire.x", logging.ERROR, __file__, 1, "session %s ended", ("s1",), None
        )
        record.exc_info = sys.exc_info()
    document = json.loads(JsonFormatter().format(record))
    assert document["level"] == "ERROR" and document["logger"] == "voicewire.x"
    assert document["message"] == "session s1 ended"
    assert "ValueError: boom" in document["exception"]
    assert document["time"][4] == "-" and "T" in document["time"]


#: `voicewire serve` with scripted engines instead of the real models, in a process of its own.
SERVE = """
import sys
from voicewire import cli
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import scripted_registry
EngineRegistry.load_default = staticmethod(lambda config=None: scripted_registry())
sys.exit(cli.main(sys.argv[1:]))
"""


async def test_serve_logs_json_lines_for_a_session(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    argv = ["--log-level", "INFO", "serve", "--log-format", "json", "--port", str(port)]
    with log.open("w") as stderr:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SERVE, *argv, stderr=stderr, env=_environment()
        )
    try:
        async with asyncio.timeout(30):
            await wait_healthy(port)
        async with client(f"ws://127.0.0.1:{port}/agent") as ws:
            assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 20)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert any(message.startswith("session ") and " started " in message for message in messages), messages
    assert any(" ended with close code 1000 " in message for message in messages), messages
    assert {line["level"] for line in lines} <= {"INFO", "WARNING", "ERROR"}


def _environment() -> dict[str, str]:
    source = str(Path(cli.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
