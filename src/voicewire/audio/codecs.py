"""Sample codecs for the encodings the Deepgram Voice Agent protocol negotiates.

G.711 is table driven: decoding is a 256-entry lookup and encoding a 65536-entry lookup, both built once at
import with vectorised numpy from the ITU-T G.191 reference algorithms, so each call is a single gather.
The encoders treat negative samples by one's complement, as the reference does, which keeps the quantiser
symmetric and makes ``encode(decode(code)) == code`` for every A-law code and every mu-law code except
0x7F, the mu-law "negative zero", which decodes to 0 like 0xFF and therefore comes back as 0xFF.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from voicewire.quoting import excerpt

Encoding: TypeAlias = Literal["linear16", "mulaw", "alaw"]
SUPPORTED_ENCODINGS: Final[tuple[Encoding, ...]] = ("linear16", "mulaw", "alaw")

PcmAudio: TypeAlias = npt.NDArray[np.int16]
FloatAudio: TypeAlias = npt.NDArray[np.float32]


class UnsupportedAudioFormat(ValueError):
    """Audio the pipeline cannot carry; a client error rather than a server fault."""


def check_encoding(encoding: str) -> Encoding:
    """Narrow a protocol string so that a typo fails at the edge with a message listing the options."""
    if encoding not in SUPPORTED_ENCODINGS:
        supported = ", ".join(SUPPORTED_ENCODINGS)
        raise UnsupportedAudioFormat(
            f"unsupported audio encoding {excerpt(encoding)} (supported: {supported})"
        )
    return encoding


def bytes_per_sample(encoding: str) -> int:
    """Lets stream readers hold back an incomplete trailing sample until the next packet completes it."""
    return 2 if check_encoding(encoding) == "linear16" else 1


def _segment(magnitude: npt.NDArray[np.int32], first_boundary: int) -> npt.NDArray[np.int32]:
    """The G.711 segment (0-7) of each magnitude, given the size of segment 0."""
    boundaries = first_boundary << np.arange(7)
    return np.searchsorted(boundaries, magnitude, side="right").astype(np.int32)


def _mulaw_expand(codes: npt.NDArray[np.int32]) -> PcmAudio:
    inverted = ~codes & 0xFF
    exponent = (inverted >> 4) & 0x07
    magnitude = ((((inverted & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where((inverted & 0x80) != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_expand(codes: npt.NDArray[np.int32]) -> PcmAudio:
    toggled = codes ^ 0x55
    exponent = (toggled >> 4) & 0x07
    mantissa = toggled & 0x0F
    shifted = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, shifted)
    return np.where((toggled & 0x80) != 0, magnitude, -magnitude).astype(np.int16)


def _mulaw_compress(pcm: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    magnitude = np.minimum((np.where(pcm < 0, ~pcm, pcm) >> 2) + 33, 0x1FFF)
    segment = _segment(magnitude, 64)
    low_nibble = 0x0F - ((magnitude >> (segment + 1)) & 0x0F)
    code = ((7 - segment) << 4) | low_nibble
    signed: npt.NDArray[np.int32] = np.where(pcm >= 0, code | 0x80, code)
    return signed.astype(np.uint8)


def _alaw_compress(pcm: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    magnitude = np.where(pcm < 0, ~pcm, pcm) >> 4
    segment = _segment(magnitude, 16)
    mantissa = (magnitude >> np.maximum(segment - 1, 0)) & 0x0F
    code = (segment << 4) | mantissa
    signed: npt.NDArray[np.int32] = np.where(pcm >= 0, code | 0x80, code)
    return (signed ^ 0x55).astype(np.uint8)


_ALL_CODES: Final = np.arange(256, dtype=np.int32)
# Indexed by the sample's bit pattern read as uint16, so encoding needs no offset arithmetic.
_ALL_SAMPLES: Final = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)

_EXPAND: Final[dict[str, PcmAudio]] = {"mulaw": _mulaw_expand(_ALL_CODES), "alaw": _alaw_expand(_ALL_CODES)}
_COMPRESS: Final[dict[str, npt.NDArray[np.uint8]]] = {
    "mulaw": _mulaw_compress(_ALL_SAMPLES),
    "alaw": _alaw_compress(_ALL_SAMPLES),
}


def decode(data: bytes, encoding: str) -> PcmAudio:
    """Decode raw samples; an incomplete trailing linear16 byte is ignored (see `bytes_per_sample`)."""
    if check_encoding(encoding) == "linear16":
        whole = len(data) - len(data) % 2
        return np.frombuffer(data, dtype="<i2", count=whole // 2).astype(np.int16)
    return _EXPAND[encoding][np.frombuffer(data, dtype=np.uint8)]


def encode(pcm: PcmAudio, encoding: str) -> bytes:
    """Encode int16 samples to the raw payload of `encoding` (linear16 is little-endian, as on the wire)."""
    samples = np.asarray(pcm, dtype=np.int16)
    if check_encoding(encoding) == "linear16":
        return samples.astype("<i2").tobytes()
    return _COMPRESS[encoding][samples.view(np.uint16)].tobytes()


#: 2**-15 is exact in float32, so is every product with it.
_PCM16_SCALE: Final = np.float32(1.0 / 32768.0)


def pcm16_to_float(pcm: PcmAudio) -> FloatAudio:
    """Scale by 2**15 so that the conversion is exact and reversible with `float_to_pcm16`."""
    # One ufunc instead of a conversion and a division, and a scalar made once (a per-frame cost: making it
    # took as long as the product of a 20 ms frame).
    return np.multiply(pcm, _PCM16_SCALE, dtype=np.float32)


def float_to_pcm16(audio: npt.NDArray[np.floating[Any]]) -> PcmAudio:
    """Round and clip, because synthesisers overshoot [-1, 1] and wrapping around would be a loud click."""
    scaled: FloatAudio = np.rint(np.asarray(audio, dtype=np.float32) * np.float32(32768.0))
    return np.clip(scaled, -32768, 32767).astype(np.int16)
