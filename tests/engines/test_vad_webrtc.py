from __future__ import annotations

import numpy as np
import pytest

from tests.engines.signals import speech_fraction, white_noise
from voicewire.engines.base import FloatAudio, VoiceActivityDetector
from voicewire.engines.vad_webrtc import WebRtcVad


@pytest.fixture
def vad() -> WebRtcVad:
    pytest.importorskip("webrtcvad")
    return WebRtcVad()


def test_window_is_30_ms(vad: WebRtcVad) -> None:
    assert vad.window_samples == 480
    assert isinstance(vad, VoiceActivityDetector)
    with pytest.raises(ValueError, match="480"):
        vad.speech_probability(np.zeros(512, dtype=np.float32))


@pytest.mark.models
async def test_preamble_is_mostly_speech(vad: WebRtcVad, preamble_16k: dict[str, FloatAudio]) -> None:
    # Mode 3 is strict: about 77% of the windows on the clean recording (Silero: 86%).
    assert await speech_fraction(vad, preamble_16k["preamble-22k-linear16.wav"]) > 0.7
    vad.reset()
    assert await speech_fraction(vad, preamble_16k["preamble-8k-mulaw.wav"]) > 0.6


async def test_noise_and_silence_are_not_speech(vad: WebRtcVad) -> None:
    assert await speech_fraction(vad, white_noise(5.0)) < 0.05
    vad.reset()
    assert await speech_fraction(vad, np.zeros(16000 * 2, dtype=np.float32)) == 0.0
