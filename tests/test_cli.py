"""`voicewire serve`: argument handling, refusal to start insecurely, and a real start/stop cycle."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.server.net import client, receive
from voicewire import cli
from voicewire.engines.registry import EngineConfig, EngineRegistry
from voicewire.engines.scripted import scripted_registry
from voicewire.server import ServerConfig


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VOICEWIRE_"):
            monkeypatch.delenv(name)


def test_serve_options() -> None:
    args = cli.build_parser().parse_args(["serve", "--port", "0", "--config", "x.toml", "--insecure"])
    assert (args.command, args.port, args.config, args.insecure, args.host) == (
        "serve",
        0,
        "x.toml",
        True,
        None,
    )
    assert args.run is cli.cmd_serve


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2


def test_serve_refuses_a_public_address_without_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--insecure" in capsys.readouterr().err


def test_serve_reports_a_bad_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("max_sesions = 3\n")
    assert cli.main(["serve", "--config", str(path)]) == 2
    assert "max_sesions" in capsys.readouterr().err
    assert cli.main(["serve", "--config", str(tmp_path / "missing.toml")]) == 2


def test_serve_reports_a_bad_engines_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "engines.toml"
    path.write_text('[engines]\ntts = "nonexistent"\n')
    assert cli.main(["serve", "--config", str(path)]) == 2
    assert "engines.tts" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_loads_engines_then_stops_on_sigterm_closing_sessions_with_1001(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def load_default(config: EngineConfig | None = None) -> EngineRegistry:
        return scripted_registry()

    monkeypatch.setattr(EngineRegistry, "load_default", staticmethod(load_default))
    port = free_port()
    serving = asyncio.create_task(cli._serve(ServerConfig(port=port), EngineConfig()))
    async with httpx.AsyncClient(trust_env=False) as http, asyncio.timeout(10):
        while True:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    break
            except httpx.ConnectError:
                pass
            await asyncio.sleep(0.02)
    async with client(f"ws://127.0.0.1:{port}/agent") as ws:
        assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    await asyncio.wait_for(serving, 5)
    assert f"talk to it at http://127.0.0.1:{port}/\n" in capsys.readouterr().err


def test_bench_rejects_an_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    from voicewire.cli import main

    assert main(["bench", "no-such-benchmark"]) == 2
    assert "choose one of" in capsys.readouterr().err
