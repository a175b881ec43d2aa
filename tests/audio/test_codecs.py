from collections.abc import Callable

import numpy as np
import pytest

from voicewire.audio import (
    SUPPORTED_ENCODINGS,
    UnsupportedAudioFormat,
    bytes_per_sample,
    check_encoding,
    decode,
    encode,
    float_to_pcm16,
    pcm16_to_float,
)

ALL_CODES = bytes(range(256))
ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def reference_mulaw(sample: int) -> int:
    """ulaw_compress of the ITU-T G.191 software tools library, one sample at a time."""
    absno = ((~sample if sample < 0 else sample) >> 2) + 33
    absno = min(absno, 0x1FFF)
    segno = 1
    i = absno >> 6
    while i:
        segno += 1
        i >>= 1
    code = ((8 - segno) << 4) | (0x0F - ((absno >> segno) & 0x0F))
    return code | 0x80 if sample >= 0 else code


def reference_alaw(sample: int) -> int:
    """alaw_compress of the ITU-T G.191 software tools library, one sample at a time."""
    ix = (~sample if sample < 0 else sample) >> 4
    if ix > 15:
        iexp = 1
        while ix > 16 + 15:
            ix >>= 1
            iexp += 1
        ix = ix - 16 + (iexp << 4)
    if sample >= 0:
        ix |= 0x80
    return ix ^ 0x55


@pytest.mark.parametrize(
    ("encoding", "code", "value"),
    [
        ("mulaw", 0xFF, 0),
        ("mulaw", 0x00, -32124),
        ("mulaw", 0x80, 32124),
        ("mulaw", 0xFE, 8),
        ("alaw", 0xD5, 8),
        ("alaw", 0x55, -8),
        ("alaw", 0xAA, 32256),
        ("alaw", 0x2A, -32256),
    ],
)
def test_known_code_points(encoding: str, code: int, value: int) -> None:
    assert decode(bytes([code]), encoding).tolist() == [value]


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_decoded_levels_are_distinct_and_symmetric(encoding: str) -> None:
    levels = decode(ALL_CODES, encoding).astype(np.int32)
    positive = np.sort(levels[levels > 0])
    assert len(positive) == 127 if encoding == "mulaw" else 128
    assert np.array_equal(np.sort(-levels[levels < 0]), positive)


def test_alaw_round_trips_every_code() -> None:
    assert encode(decode(ALL_CODES, "alaw"), "alaw") == ALL_CODES


def test_mulaw_round_trips_every_code_but_negative_zero() -> None:
    expected = bytearray(ALL_CODES)
    expected[0x7F] = 0xFF  # 0x7F is "-0": it decodes to 0, which encodes as the canonical +0
    assert encode(decode(ALL_CODES, "mulaw"), "mulaw") == bytes(expected)


@pytest.mark.parametrize(("encoding", "reference"), [("mulaw", reference_mulaw), ("alaw", reference_alaw)])
def test_encoder_matches_itu_reference_on_every_sample(
    encoding: str, reference: Callable[[int], int]
) -> None:
    expected = bytes(reference(int(sample)) for sample in ALL_SAMPLES)
    assert encode(ALL_SAMPLES, encoding) == expected


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_quantisation_error_stays_within_the_segment_step(encoding: str) -> None:
    error = np.abs(decode(encode(ALL_SAMPLES, encoding), encoding).astype(np.int32) - ALL_SAMPLES)
    small = np.abs(ALL_SAMPLES.astype(np.int32)) < 256
    assert error[small].max() <= 16
    assert error.max() <= 1024


def test_linear16_is_little_endian() -> None:
    assert decode(b"\x01\x00\xff\xff\x00\x80", "linear16").tolist() == [1, -1, -32768]
    assert encode(np.array([1, -1, 32767], dtype=np.int16), "linear16") == b"\x01\x00\xff\xff\xff\x7f"


def test_linear16_ignores_incomplete_trailing_sample() -> None:
    assert decode(b"\x02\x00\x03", "linear16").tolist() == [2]
    assert decode(b"\x03", "linear16").size == 0


def test_linear16_round_trips_every_sample() -> None:
    decoded = decode(encode(ALL_SAMPLES, "linear16"), "linear16")
    assert decoded.dtype == np.int16
    assert np.array_equal(decoded, ALL_SAMPLES)


def test_bytes_per_sample() -> None:
    assert [bytes_per_sample(encoding) for encoding in SUPPORTED_ENCODINGS] == [2, 1, 1]


@pytest.mark.parametrize("call", [lambda: decode(b"\x00", "opus"), lambda: encode(ALL_SAMPLES, "flac")])
def test_unsupported_encoding_is_named(call: Callable[[], object]) -> None:
    with pytest.raises(UnsupportedAudioFormat, match=r"'(opus|flac)'.*linear16, mulaw, alaw"):
        call()


def test_check_encoding_accepts_supported() -> None:
    assert [check_encoding(encoding) for encoding in ("linear16", "mulaw", "alaw")] == list(
        SUPPORTED_ENCODINGS
    )
    assert issubclass(UnsupportedAudioFormat, ValueError)


def test_float_conversion_is_exact_and_reversible() -> None:
    audio = pcm16_to_float(ALL_SAMPLES)
    assert audio.dtype == np.float32
    assert audio.min() == -1.0
    assert audio.max() < 1.0
    assert np.array_equal(float_to_pcm16(audio), ALL_SAMPLES)


def test_float_to_pcm16_rounds_and_clips() -> None:
    audio = np.array([1.5, 1.0, -1.0, -2.0, 0.4 / 32768, 0.6 / 32768], dtype=np.float32)
    assert float_to_pcm16(audio).tolist() == [32767, 32767, -32768, -32768, 0, 1]
    assert float_to_pcm16(np.array([0.5])).dtype == np.int16
