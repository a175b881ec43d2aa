"""`voicewire serve`: argument handling, refusal to start insecurely, and a real start/stop cycle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voicewire import cli


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
    assert args.loop == "auto"
    assert cli.build_parser().parse_args(["serve", "--loop", "asyncio"]).loop == "asyncio"


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


def test_bench_rejects_an_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    from voicewire.cli import main

    assert main(["bench", "no-such-benchmark"]) == 2
    assert "choose one of" in capsys.readouterr().err


def test_serve_refuses_workers_without_a_fixed_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--port", "0", "--workers", "2"]) == 2
    assert "workers" in capsys.readouterr().err
