"""Test signals and measurements shared by the VAD tests."""

from __future__ import annotations

import numpy as np

from voicewire.engines.base import FloatAudio, VoiceActivityDetector


async def speech_fraction(vad: VoiceActivityDetector, audio: FloatAudio) -> float:
    """Share of whole windows of `audio` scored above 0.5."""
    size = vad.window_samples
    count = len(audio) // size
    scores = await vad.speech_probabilities(audio[: count * size].reshape(count, size))
    return float(np.mean(np.array(scores) > 0.5))


def white_noise(seconds: float) -> FloatAudio:
    """Low white noise (sigma 150 of 32768, about -47 dBFS), the false-positive check of engines.md."""
    rng = np.random.default_rng(0)
    return (rng.normal(0.0, 150.0, int(16000 * seconds)) / 32768.0).astype(np.float32)
