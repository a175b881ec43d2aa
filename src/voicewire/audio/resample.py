"""Sample-rate conversion between the client's rates and the engines' rates.

One-shot conversion uses soxr's "HQ" preset, a 20-bit-quality polyphase filter: transparent for speech
and cheap. Streams use "QQ" (cubic interpolation) instead: the polyphase filters hold output back and
release it in bursts about every 100 ms, which would delay speech onset and end-of-turn detection by as
much; cubic interpolation answers every 20 ms packet at once, and its small aliasing does not matter to
VAD or STT. Only mono int16 and float32 are carried, the two sample formats of the pipeline. int16 goes
through float32 because soxr dithers its own int16 output: digital silence would turn into noise and a
stream would not reproduce itself sample for sample.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, cast

import numpy as np
import numpy.typing as npt
import soxr

from voicewire.audio.codecs import FloatAudio, UnsupportedAudioFormat, float_to_pcm16, pcm16_to_float

SampleT = TypeVar("SampleT", np.int16, np.float32)

_QUALITY: Final = "HQ"
_STREAM_QUALITY: Final = "QQ"


def _check_rates(from_rate: int, to_rate: int) -> None:
    for rate in (from_rate, to_rate):
        if rate <= 0:
            raise UnsupportedAudioFormat(f"unsupported sample rate {rate} Hz (must be positive)")


def _to_float(audio: npt.NDArray[Any]) -> FloatAudio:
    return pcm16_to_float(audio) if audio.dtype == np.int16 else audio.astype(np.float32, copy=False)


def _from_float(audio: FloatAudio, dtype: np.dtype[SampleT]) -> npt.NDArray[SampleT]:
    return cast(npt.NDArray[SampleT], float_to_pcm16(audio) if dtype == np.int16 else audio)


def resample(audio: npt.NDArray[SampleT], from_rate: int, to_rate: int) -> npt.NDArray[SampleT]:
    """Resample a whole signal at once, e.g. a WAV file or an utterance already buffered."""
    _check_rates(from_rate, to_rate)
    if from_rate == to_rate or audio.size == 0:
        return audio
    return _from_float(soxr.resample(_to_float(audio), from_rate, to_rate, quality=_QUALITY), audio.dtype)


class StreamResampler(Generic[SampleT]):
    """Resample a stream chunk by chunk without clicks at the chunk boundaries.

    The interpolator keeps a few samples of history, so each `process` may return slightly less than the
    ideal share of output and `flush` releases the tail; together they closely match a one-shot `resample`.
    """

    def __init__(self, from_rate: int, to_rate: int, dtype: type[SampleT]) -> None:
        _check_rates(from_rate, to_rate)
        self.from_rate = from_rate
        self.to_rate = to_rate
        self.dtype: np.dtype[SampleT] = np.dtype(dtype)
        self._stream = (
            None
            if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, quality=_STREAM_QUALITY)
        )

    def process(self, chunk: npt.NDArray[SampleT]) -> npt.NDArray[SampleT]:
        if chunk.dtype != self.dtype:
            raise TypeError(f"expected {self.dtype.name} samples, got {chunk.dtype.name}")
        if self._stream is None:
            return chunk
        return _from_float(self._stream.resample_chunk(_to_float(chunk)), self.dtype)

    def flush(self) -> npt.NDArray[SampleT]:
        """Release the filter's tail at the end of a stream and reset, so the next stream starts clean."""
        if self._stream is None:
            return np.empty(0, dtype=self.dtype)
        tail = self._stream.resample_chunk(np.empty(0, dtype=np.float32), last=True)
        self._stream.clear()
        return _from_float(tail, self.dtype)
