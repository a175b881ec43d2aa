"""Whisper's 80-bin log-mel spectrogram in numpy, as the Smart Turn end-of-turn model reads it.

Whisper-family models are trained on features from one exact recipe (Hugging Face's
`WhisperFeatureExtractor`): a 400-sample periodic Hann window every 160 samples over reflect-padded 16 kHz
audio, the power spectrum projected on 80 Slaney-normalised mel filters from 0 to 8 kHz, log10 with a
1e-10 floor, a dynamic range clipped to 8 decades below the loudest bin, then `(x + 4) / 4`. Anything that
deviates (a different window, the HTK mel scale, natural log) shifts every input the model sees, so this
follows the recipe exactly; a test compares it with pipecat's copy on real speech.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
_FLOOR = 1e-10
_DYNAMIC_RANGE = 8.0

Float64 = npt.NDArray[np.float64]
Float32 = npt.NDArray[np.float32]


def _hz_to_mel(hz: Float64) -> Float64:
    """Slaney's scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    linear = 3.0 * hz / 200.0
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-12) / 1000.0) * (27.0 / np.log(6.4))
    result: Float64 = np.where(hz >= 1000.0, logarithmic, linear)
    return result


def _mel_to_hz(mel: Float64) -> Float64:
    linear = 200.0 * mel / 3.0
    logarithmic = 1000.0 * np.exp((mel - 15.0) * (np.log(6.4) / 27.0))
    result: Float64 = np.where(mel >= 15.0, logarithmic, linear)
    return result


@functools.cache
def mel_filters() -> Float64:
    """Shape (N_MELS, N_FFT // 2 + 1): triangles between adjacent mel points, each scaled to unit area."""
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(np.array(SAMPLE_RATE / 2.0))), N_MELS + 2))
    bins = np.linspace(0.0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    result: Float64 = triangles * (2.0 / (upper - lower))
    return result


@functools.cache
def _hann() -> Float64:
    """Periodic (not symmetric) Hann window, as `torch.hann_window` makes it."""
    n = np.arange(N_FFT)
    result: Float64 = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)
    return result


def log_mel(audio: npt.NDArray[np.floating[npt.NBitBase]]) -> Float32:
    """Shape (N_MELS, len(audio) // HOP): Whisper's normalised log-mel features of 16 kHz mono audio."""
    signal = np.asarray(audio, dtype=np.float64)
    half = N_FFT // 2
    padded = np.pad(signal, (half, half), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    mel = np.log10(np.maximum(power @ mel_filters().T, _FLOOR)).T[:, :-1]
    mel = np.maximum(mel, mel.max() - _DYNAMIC_RANGE)
    result: Float32 = ((mel + 4.0) / 4.0).astype(np.float32)
    return result
