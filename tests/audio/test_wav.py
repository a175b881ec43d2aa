import struct
from pathlib import Path

import numpy as np
import pytest

from voicewire.audio import (
    SUPPORTED_ENCODINGS,
    UnsupportedAudioFormat,
    decode,
    encode,
    read_wav,
    wav_header,
    write_wav,
)


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def chunk(chunk_id: bytes, body: bytes, size: int | None = None) -> bytes:
    padding = b"\x00" * (len(body) % 2)
    return chunk_id + struct.pack("<I", len(body) if size is None else size) + body + padding


def fmt(tag: int, bits: int, rate: int = 8000, channels: int = 1, extra: bytes = b"") -> bytes:
    align = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits) + extra)


def extensible(subformat_tag: int, bits: int) -> bytes:
    guid = struct.pack("<I", subformat_tag) + b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return fmt(0xFFFE, bits, extra=struct.pack("<HHI", 22, bits, 0x4) + guid)


@pytest.mark.parametrize(
    ("name", "encoding", "rate"),
    [
        ("preamble-22k-linear16.wav", "linear16", 22050),
        ("preamble-8k-mulaw.wav", "mulaw", 8000),
        ("testing-8k-mulaw.wav", "mulaw", 8000),
    ],
)
def test_reads_real_recordings(test_audio: Path, name: str, encoding: str, rate: int) -> None:
    wav = read_wav(test_audio / name)
    assert (wav.encoding, wav.sample_rate, wav.channels) == (encoding, rate, 1)
    pcm = wav.pcm16()
    assert pcm.dtype == np.int16
    assert len(pcm) == wav.frames
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300  # speech, not silence or noise


def test_real_recording_durations(test_audio: Path) -> None:
    linear = read_wav(test_audio / "preamble-22k-linear16.wav")
    mulaw = read_wav((test_audio / "preamble-8k-mulaw.wav").read_bytes())
    testing = read_wav(str(test_audio / "testing-8k-mulaw.wav"))  # LIST chunk before data
    assert linear.duration == pytest.approx(19.1, abs=0.05)
    assert mulaw.duration == pytest.approx(linear.duration, abs=0.01)
    assert testing.duration == pytest.approx(4.68, abs=0.01)


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_write_read_round_trip(tmp_path: Path, encoding: str) -> None:
    pcm = (np.sin(np.arange(1601) / 7) * 20000).astype(np.int16)  # odd length: odd G.711 chunk
    path = tmp_path / f"{encoding}.wav"
    write_wav(path, pcm, 16000, encoding)
    blob = path.read_bytes()
    assert len(blob) % 2 == 0
    assert struct.unpack_from("<I", blob, 4)[0] == len(blob) - 8
    wav = read_wav(path)
    assert (wav.encoding, wav.sample_rate, wav.channels) == (encoding, 16000, 1)
    assert wav.data == encode(pcm, encoding)
    assert np.array_equal(wav.pcm16(), decode(encode(pcm, encoding), encoding))


def test_write_accepts_encoded_bytes(tmp_path: Path) -> None:
    payload = bytes(range(256))
    write_wav(tmp_path / "a.wav", payload, 8000, "alaw")
    assert read_wav(tmp_path / "a.wav").data == payload


def test_pcm_header_is_canonical() -> None:
    header = wav_header(24000, data_size=4800)
    assert len(header) == 44
    assert struct.unpack("<4sI4s4sIHHIIHH4sI", header) == (
        b"RIFF",
        36 + 4800,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        24000,
        48000,
        2,
        16,
        b"data",
        4800,
    )


@pytest.mark.parametrize(("encoding", "tag"), [("mulaw", 7), ("alaw", 6)])
def test_g711_header_has_fact_chunk(encoding: str, tag: int) -> None:
    header = wav_header(8000, encoding, data_size=800)
    assert len(header) == 58
    assert struct.unpack_from("<HHIIHHH", header, 20) == (tag, 1, 8000, 8000, 1, 8, 0)
    assert struct.unpack_from("<4sII4sI", header, 38) == (b"fact", 4, 800, b"data", 800)


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_streaming_header_parses_to_end_of_file(encoding: str) -> None:
    header = wav_header(16000, encoding)
    assert header[4:8] == b"\xff\xff\xff\xff"
    assert header[-4:] == b"\xff\xff\xff\xff"
    payload = bytes(range(200))
    wav = read_wav(header + payload)
    assert (wav.encoding, wav.data) == (encoding, payload)


def test_zero_data_size_means_to_end_of_file() -> None:
    blob = riff(fmt(1, 16), chunk(b"data", b"", size=0)) + b"\x01\x00\x02\x00"
    assert read_wav(blob).pcm16().tolist() == [1, 2]


def test_skips_unknown_and_odd_sized_chunks() -> None:
    blob = riff(
        chunk(b"LIST", b"INFOabc"),
        fmt(7, 8),
        chunk(b"fact", b"\x03\x00\x00\x00"),
        chunk(b"data", b"\xff\x00\x80"),
    )
    wav = read_wav(blob)
    assert wav.pcm16().tolist() == [0, -32124, 32124]


def test_data_before_fmt_and_trailing_chunk() -> None:
    blob = riff(chunk(b"data", b"\x05\x00"), fmt(1, 16, rate=48000), chunk(b"LIST", b"INFO"))
    wav = read_wav(blob)
    assert (wav.sample_rate, wav.pcm16().tolist()) == (48000, [5])


def test_extensible_pcm() -> None:
    wav = read_wav(riff(extensible(1, 16), chunk(b"data", b"\x07\x00")))
    assert (wav.encoding, wav.pcm16().tolist()) == ("linear16", [7])


def test_stereo_is_downmixed() -> None:
    frames = np.array([[100, 300], [-5, -6], [32767, 32767]], dtype=np.int16)
    wav = read_wav(wav_header(8000, channels=2) + encode(frames.ravel(), "linear16") + b"\x01")
    assert wav.channels == 2
    assert wav.frames == 3
    assert wav.duration == pytest.approx(3 / 8000)
    assert wav.pcm16().tolist() == [200, -6, 32767]


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (riff(fmt(1, 8), chunk(b"data", b"\x80")), r"0x0001 \(PCM\) with 8 bits"),
        (riff(fmt(1, 24), chunk(b"data", b"\x00" * 3)), r"0x0001 \(PCM\) with 24 bits"),
        (riff(fmt(3, 32), chunk(b"data", b"\x00" * 4)), r"0x0003 \(IEEE float\)"),
        (riff(fmt(0x55, 0), chunk(b"data", b"\x00")), r"0x0055 \(MP3\)"),
        (riff(extensible(3, 32), chunk(b"data", b"\x00" * 4)), r"0x0003 \(IEEE float\)"),
        (riff(fmt(0xFFFE, 16, extra=struct.pack("<HHI", 22, 16, 4) + b"\x01" * 16)), "unknown subformat"),
        (b"ID3\x04\x00" + b"\x00" * 40, "not a RIFF/WAVE"),
    ],
)
def test_rejects_unsupported_formats(blob: bytes, message: str) -> None:
    with pytest.raises(UnsupportedAudioFormat, match=message):
        read_wav(blob)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (riff(fmt(1, 16)), "missing data"),
        (riff(chunk(b"data", b"\x00\x00")), "missing fmt"),
        (riff(fmt(1, 16, channels=0), chunk(b"data", b"")), "0 channels"),
        (riff(chunk(b"fmt ", b"\x01\x00")), "shorter than 16"),
    ],
)
def test_rejects_malformed_files(blob: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_wav(blob)
