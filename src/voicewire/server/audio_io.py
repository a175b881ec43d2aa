"""The session's audio edges: client bytes → 16 kHz float samples, engine samples → paced client frames.

Formats are checked once, when settings arrive, so a client learns about an unsupported format from a
`USER_AUDIO_FORMAT` error instead of from silence later.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from voicewire.audio import (
    StreamResampler,
    UnsupportedAudioFormat,
    bytes_per_sample,
    check_encoding,
    decode,
    encode,
    pcm16_to_float,
    wav_header,
)
from voicewire.engines.base import ENGINE_SAMPLE_RATE, FloatAudio, PcmAudio
from voicewire.protocol.agent import AudioFormat
from voicewire.quoting import excerpt
from voicewire.server.clock import Clock

MIN_INPUT_RATE = 8000
MAX_INPUT_RATE = 48000
OUTPUT_RATES = (8000, 16000, 24000, 32000, 48000)
CONTAINERS = ("none", "wav")
#: The shortest agent audio frame, except a whole sentence shorter than this.
MIN_FRAME_MS = 10
_NO_SAMPLES: FloatAudio = np.empty(0, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class InputFormat:
    encoding: str
    sample_rate: int

    @classmethod
    def from_settings(cls, settings: AudioFormat) -> InputFormat:
        encoding = check_encoding(settings.encoding or "linear16")
        rate = 16000 if settings.sample_rate is None else settings.sample_rate
        if not MIN_INPUT_RATE <= rate <= MAX_INPUT_RATE:
            raise UnsupportedAudioFormat(
                f"unsupported input sample rate {rate} Hz (supported: {MIN_INPUT_RATE}-{MAX_INPUT_RATE} Hz)"
            )
        return cls(encoding, rate)


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    encoding: str
    sample_rate: int
    #: "wav": each reply (AgentStartedSpeaking ... AgentAudioDone) starts with a WAV header of unknown length.
    container: str

    @classmethod
    def from_settings(cls, settings: AudioFormat) -> OutputFormat:
        encoding = check_encoding(settings.encoding or "linear16")
        rate = 16000 if settings.sample_rate is None else settings.sample_rate
        if rate not in OUTPUT_RATES:
            supported = ", ".join(str(r) for r in OUTPUT_RATES)
            raise UnsupportedAudioFormat(f"unsupported output sample rate {rate} Hz (supported: {supported})")
        container = (settings.container or "none").lower()
        if container not in CONTAINERS:
            raise UnsupportedAudioFormat(
                f"unsupported output container {excerpt(container)} (supported: none, wav)"
            )
        return cls(encoding, rate, container)

    def header(self) -> bytes | None:
        return wav_header(self.sample_rate, self.encoding) if self.container == "wav" else None

    def duration(self, payload: bytes) -> float:
        return len(payload) / (bytes_per_sample(self.encoding) * self.sample_rate)


class InputDecoder:
    """Client frames of any size → 16 kHz float samples in whole blocks of `block` samples (the VAD window).

    Decoded samples wait as 16-bit bytes until their block is whole (`held` of them), and a split input sample
    waits for the next frame. Only 3 in 5 frames of 20 ms complete a 32 ms window: the others cost no numpy
    call (nor a turn detector's push), and each window is converted once instead of in two pieces.
    """

    def __init__(self, fmt: InputFormat, block: int = 1) -> None:
        self._width = bytes_per_sample(fmt.encoding)
        self._encoding = fmt.encoding
        self._remainder = b""
        self._resampler = StreamResampler(fmt.sample_rate, ENGINE_SAMPLE_RATE, np.int16)
        #: 16-bit samples at 16 kHz, the usual input, are held as the client's bytes (a split sample too) and
        #: scaled straight from them: no decoding and no resampler call.
        self._as_is = fmt.encoding == "linear16" and fmt.sample_rate == ENGINE_SAMPLE_RATE
        self._block_bytes = 2 * block
        #: Little-endian 16-bit samples at 16 kHz waiting for their block to be whole.
        self._held = bytearray()

    @property
    def held(self) -> int:
        """Samples received but not returned yet (their block is not whole)."""
        return len(self._held) // 2

    def feed(self, data: bytes) -> FloatAudio:
        held = self._held
        if self._as_is:
            held += data
        else:
            if self._remainder:
                data = self._remainder + data
            whole = len(data) - len(data) % self._width
            self._remainder = data[whole:]
            pcm = self._resampler.process(decode(data[:whole], self._encoding))
            held += pcm.astype("<i2", copy=False).tobytes()
        ready = len(held) - len(held) % self._block_bytes
        if not ready:
            return _NO_SAMPLES
        samples = pcm16_to_float(np.frombuffer(held, dtype="<i2", count=ready // 2))
        del held[:ready]  # the view above is gone, so the buffer may shrink
        return samples


class SentenceEncoder:
    """One sentence of engine audio → client frames of `min_ms` to `chunk_ms`, in the output format.

    Whatever audio is ready goes out at once (a frame is never held back to fill it up), because the first
    frame of a reply decides when the agent is heard; only the last `min_ms` are kept back until more audio
    or the end of the sentence arrives. The resampler's output comes in uneven pieces and its tail at the end
    of a sentence can be a sample or two: sent on their own they made frames of 2 bytes, which some clients
    (and players) handle badly. Kept back, they join the frame before them.
    """

    def __init__(self, fmt: OutputFormat, from_rate: int, chunk_ms: int, min_ms: int = MIN_FRAME_MS) -> None:
        self._fmt = fmt
        self._resampler = StreamResampler(from_rate, fmt.sample_rate, np.int16)
        self._chunk_samples = max(1, fmt.sample_rate * chunk_ms // 1000)
        self._min_samples = min(self._chunk_samples, max(2, fmt.sample_rate * min_ms // 1000))
        self._pending: PcmAudio = np.empty(0, dtype=np.int16)

    def feed(self, pcm: PcmAudio) -> list[bytes]:
        self._pending = np.concatenate(
            (self._pending, self._resampler.process(pcm.astype(np.int16, copy=False)))
        )
        if len(self._pending) < 2 * self._min_samples:
            return []
        ready, self._pending = self._pending[: -self._min_samples], self._pending[-self._min_samples :]
        return self._frames(ready)

    def flush(self) -> list[bytes]:
        ready, self._pending = np.concatenate((self._pending, self._resampler.flush())), self._pending[:0]
        return self._frames(ready)

    def _frames(self, pcm: PcmAudio) -> list[bytes]:
        """Near-equal frames of at most `chunk_samples`, so the last one is not a sliver either."""
        if len(pcm) == 0:
            return []
        count = -(-len(pcm) // self._chunk_samples)
        return [encode(part, self._fmt.encoding) for part in np.array_split(pcm, count)]


class Pacer:
    """Keeps agent audio at most `speed` times faster than real time, without bursts after a stall.

    Each frame may go out no sooner than `duration / speed` after the previous one, so a client's buffer
    never runs more than a fraction of a second ahead and a barge-in leaves little audio queued there.
    """

    def __init__(self, clock: Clock, speed: float) -> None:
        self._clock = clock
        self._speed = speed
        self._next_at: float | None = None

    async def wait(self) -> None:
        if self._next_at is not None:
            delay = self._next_at - self._clock.now()
            if delay > 0:
                await self._clock.sleep(delay)

    def sent(self, duration: float) -> None:
        self._next_at = self._clock.now() + duration / self._speed
