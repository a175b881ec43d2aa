"""Smart Turn: features identical to pipecat's on real speech; the model's verdicts on a real recording."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicewire.audio import pcm16_to_float, read_wav, resample
from voicewire.engines.base import ENGINE_SAMPLE_RATE, FloatAudio
from voicewire.engines.turn_smart import WINDOW_SAMPLES, SmartTurnModel, bundled_model_path, model_input

AUDIO = Path(__file__).resolve().parents[1] / "data" / "audio"


def load(name: str) -> FloatAudio:
    wav = read_wav(AUDIO / name)
    return pcm16_to_float(resample(wav.pcm16(), wav.sample_rate, ENGINE_SAMPLE_RATE))


def at(seconds: float) -> int:
    return round(seconds * ENGINE_SAMPLE_RATE)


@pytest.fixture(scope="module")
def pipecat_features() -> Callable[..., Any]:
    """pipecat's own feature function, loaded from its file: importing pipecat needs packages we lack."""
    path = bundled_model_path()
    if path is None:
        pytest.skip("pipecat-ai is not installed")
    source = path.parents[1] / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("pipecat_whisper_features", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: Callable[..., Any] = module.compute_whisper_log_mel_features
    return function


@pytest.mark.parametrize(
    ("name", "end"),
    [("preamble-22k-linear16.wav", 4.4), ("preamble-22k-linear16.wav", 19.0), ("testing-8k-mulaw.wav", 2.0)],
)
def test_features_match_pipecats_on_real_speech(
    pipecat_features: Callable[..., Any], name: str, end: float
) -> None:
    audio = load(name)[: at(end)]
    # pipecat keeps the last 8 s and pads shorter audio with zeros in front, then normalises.
    window = np.pad(audio[-WINDOW_SAMPLES:], (max(0, WINDOW_SAMPLES - len(audio)), 0))
    expected = pipecat_features(window, do_normalize=True)
    ours = model_input(audio)
    assert ours.shape == expected.shape == (80, 800)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_the_model_file_is_found_without_importing_pipecat() -> None:
    import sys

    if bundled_model_path() is None:
        pytest.skip("pipecat-ai is not installed")
    assert bundled_model_path().name == "smart-turn-v3.2-cpu.onnx"  # type: ignore[union-attr]
    assert "pipecat" not in sys.modules


@pytest.mark.models
def test_the_model_hears_a_finished_sentence_and_cut_phrases(smart_turn: SmartTurnModel) -> None:
    preamble = load("preamble-22k-linear16.wav")
    # "...of the United States of America." with 0.3 s of silence after it, against two cuts at short gaps
    # inside phrases (3.5 s and 16.4 s into the recording), each with 0.2 s of the recording's quiet.
    finished, *cut = smart_turn.predict([preamble[: at(18.9)], preamble[: at(3.72)], preamble[: at(16.6)]])
    assert finished > 0.9
    assert all(p < 0.2 for p in cut)


@pytest.mark.models
def test_concurrent_requests_are_scored_in_one_batch_off_the_loop(smart_turn: SmartTurnModel) -> None:
    preamble = load("preamble-22k-linear16.wav")
    clips = [preamble[: at(18.9)], preamble[: at(3.72)], preamble[: at(16.6)]]
    alone = smart_turn.predict(clips)
    calls = smart_turn.calls

    async def together() -> list[float]:
        return list(await asyncio.gather(*(smart_turn.completion_probability(clip) for clip in clips)))

    probabilities = asyncio.run(together())
    assert smart_turn.calls == calls + 1
    np.testing.assert_allclose(probabilities, alone, atol=1e-4)


@pytest.mark.models
def test_the_model_is_busy_while_a_batch_is_scored(smart_turn: SmartTurnModel) -> None:
    """The local LLM reads `busy` to give up a core meanwhile (`LlamaCppLlm.contended`)."""
    clip = load("preamble-22k-linear16.wav")[: at(3.72)]

    async def score() -> tuple[bool, bool, bool]:
        before = smart_turn.busy
        pending = asyncio.ensure_future(smart_turn.completion_probability(clip))
        await asyncio.sleep(0)  # the batch is handed to the model's thread
        during = smart_turn.busy
        await pending
        return before, during, smart_turn.busy

    assert asyncio.run(score()) == (False, True, False)
