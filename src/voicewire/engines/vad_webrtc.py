"""WebRTC's GMM voice detector (`webrtcvad-wheels`), the light fallback to Silero.

It costs about 4 µs per frame and needs no model file, but it only says yes or no, and in its laxer modes it
calls plain noise speech; mode 3 (the most aggressive) keeps white noise at 0%.

Window choice: WebRTC accepts only 10, 20 or 30 ms frames, so this detector declares a 480-sample (30 ms)
window rather than Silero's 512. The turn detector reads `window_samples` from the detector, so each frame
is scored whole instead of being split and padded to fit 32 ms.
"""

from __future__ import annotations

from voicewire.audio.codecs import float_to_pcm16
from voicewire.engines.base import ENGINE_SAMPLE_RATE, FloatAudio, WindowVad

_FRAME_MS = 30
#: The least forgiving mode: the others mark most of plain white noise as speech.
_DEFAULT_MODE = 3


class WebRtcVad(WindowVad):
    """Scores 30 ms windows of 16 kHz float audio as 0.0 or 1.0."""

    def __init__(self, mode: int = _DEFAULT_MODE) -> None:
        import webrtcvad

        self._mode = mode
        self._vad = webrtcvad.Vad(mode)

    @property
    def window_samples(self) -> int:
        return ENGINE_SAMPLE_RATE * _FRAME_MS // 1000

    def speech_probability(self, window: FloatAudio) -> float:
        if len(window) != self.window_samples:
            raise ValueError(f"WebRTC VAD needs windows of {self.window_samples} samples, got {len(window)}")
        pcm = float_to_pcm16(window).astype("<i2").tobytes()
        return 1.0 if self._vad.is_speech(pcm, ENGINE_SAMPLE_RATE) else 0.0

    def reset(self) -> None:
        # The detector adapts its noise model over time; a fresh one is the only way to forget it.
        import webrtcvad

        self._vad = webrtcvad.Vad(self._mode)
