"""Fixtures of the end-to-end tests that run Deepgram's own SDKs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from voicewire.audio import read_wav, resample, write_wav

OFFICIAL = Path(__file__).resolve().parent / "official"
RECORDING = Path(__file__).resolve().parents[1] / "data" / "audio" / "testing-8k-mulaw.wav"


@pytest.fixture(scope="session")
def official_sdks() -> dict[str, str]:
    """Where install.sh put each SDK (`py4`, `py7`: a Python; `js`: an npm prefix, absent without npm)."""
    result = subprocess.run(
        ["bash", str(OFFICIAL / "install.sh")],
        env={**os.environ, "VOICEWIRE_INSTALL_NODE": "0"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"installing the official SDKs failed:\n{result.stderr[-4000:]}")
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def speech_16k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recording as the clients' Settings declare their input: linear16 at 16 kHz."""
    recording = read_wav(RECORDING)
    path = tmp_path_factory.mktemp("official") / "testing-16k-linear16.wav"
    write_wav(path, resample(recording.pcm16(), recording.sample_rate, 16000), 16000)
    return path
