"""Test signals and measurements shared by the VAD tests."""

from __future__ import annotations

import numpy as np

from voicewire.engines.base import FloatAudio, VoiceActivityDetector


def speech_fraction(vad: VoiceActivityDetector, audio: FloatAudio) -> float:
    """Share of whole windows of `audio` scored above 0.5."""
    size = vad.window_samples
    scores = [
        vad.speech_probability(audio[start : start + size]) for start in range(0, len(audio) - size + 1, size)
    ]
    return float(np.mean(np.array(scores) > 0.5))


def white_noise(seconds: float) -> FloatAudio:
    """Low white noise (sigma 150 of 32768, about -47 dBFS), the false-positive check of engines.md."""
    rng = np.random.default_rng(0)
    return (rng.normal(0.0, 150.0, int(16000 * seconds)) / 32768.0).astype(np.float32)
