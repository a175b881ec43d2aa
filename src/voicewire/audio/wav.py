"""RIFF/WAVE reading and writing for the three wire encodings.

Python's `wave` module only knows integer PCM, yet telephony recordings are G.711 (format tags 6 and 7), and
streaming writers (ours included) cannot know the data size up front. So the chunks are parsed here.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from voicewire.audio.codecs import (
    Encoding,
    FloatAudio,
    PcmAudio,
    UnsupportedAudioFormat,
    bytes_per_sample,
    check_encoding,
    decode,
    encode,
)

_FORMAT_TAGS: Final[dict[int, Encoding]] = {0x0001: "linear16", 0x0006: "alaw", 0x0007: "mulaw"}
_TAG_NAMES: Final[dict[int, str]] = {
    0x0001: "PCM",
    0x0003: "IEEE float",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0055: "MP3",
}
_TAG_OF: Final[dict[Encoding, int]] = {encoding: tag for tag, encoding in _FORMAT_TAGS.items()}
_EXTENSIBLE: Final = 0xFFFE
# KSDATAFORMAT_SUBTYPE_* GUIDs are the format tag (little-endian, 2 bytes) followed by these 14 bytes.
_SUBFORMAT_SUFFIX: Final = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_UNKNOWN_SIZE: Final = 0xFFFFFFFF


@dataclass(frozen=True)
class WavAudio:
    """The payload stays encoded so that it can be streamed to a client as is."""

    encoding: Encoding
    sample_rate: int
    channels: int
    data: bytes

    @property
    def frames(self) -> int:
        return len(self.data) // (bytes_per_sample(self.encoding) * self.channels)

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def pcm16(self) -> PcmAudio:
        """Mono int16, the input every engine takes; channels are averaged, a partial frame dropped."""
        pcm = decode(self.data, self.encoding)[: self.frames * self.channels]
        if self.channels == 1:
            return pcm
        mixed: FloatAudio = pcm.reshape(-1, self.channels).mean(axis=1, dtype=np.float32)
        return np.rint(mixed).astype(np.int16)


def _parse_fmt(body: bytes) -> tuple[Encoding, int, int]:
    if len(body) < 16:
        raise ValueError("malformed WAV: fmt chunk shorter than 16 bytes")
    tag, channels, sample_rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40 or body[26:40] != _SUBFORMAT_SUFFIX:
            raise UnsupportedAudioFormat("unsupported WAV: WAVE_FORMAT_EXTENSIBLE with an unknown subformat")
        (tag,) = struct.unpack_from("<H", body, 24)
    encoding = _FORMAT_TAGS.get(tag)
    if encoding is None or bits != 8 * bytes_per_sample(encoding):
        name = _TAG_NAMES.get(tag, "unknown")
        raise UnsupportedAudioFormat(
            f"unsupported WAV: format tag 0x{tag:04X} ({name}) with {bits} bits per sample; "
            "supported are 16-bit PCM and 8-bit G.711 mu-law/A-law"
        )
    if channels < 1 or sample_rate < 1:
        raise ValueError(f"malformed WAV: {channels} channels at {sample_rate} Hz")
    return encoding, sample_rate, channels


def read_wav(source: str | os.PathLike[str] | bytes) -> WavAudio:
    """Read a WAV file or its bytes; a data size of 0 or 0xFFFFFFFF means the data runs to the end."""
    blob = source if isinstance(source, bytes) else Path(source).read_bytes()
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise UnsupportedAudioFormat("unsupported audio container: not a RIFF/WAVE file")
    fmt: tuple[Encoding, int, int] | None = None
    data: bytes | None = None
    offset = 12
    while offset + 8 <= len(blob) and (fmt is None or data is None):
        chunk_id, size = struct.unpack_from("<4sI", blob, offset)
        start = offset + 8
        if chunk_id == b"data" and size in (0, _UNKNOWN_SIZE):
            size = len(blob) - start
        body = blob[start : start + size]
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(body)
        elif chunk_id == b"data":
            data = body
        offset = start + size + size % 2
    if fmt is None or data is None:
        raise ValueError(f"malformed WAV: missing {'fmt' if fmt is None else 'data'} chunk")
    encoding, sample_rate, channels = fmt
    return WavAudio(encoding=encoding, sample_rate=sample_rate, channels=channels, data=data)


def wav_header(
    sample_rate: int, encoding: str = "linear16", channels: int = 1, data_size: int | None = None
) -> bytes:
    """The bytes before the payload; ``data_size=None`` marks the sizes unknown, for streaming.

    PCM gets the canonical 44-byte header. G.711 gets the 18-byte fmt chunk and the fact chunk (frame
    count) that the RIFF rules require of non-PCM formats, 58 bytes in all.
    """
    checked = check_encoding(encoding)
    width = bytes_per_sample(checked)
    block_align = width * channels
    fmt = struct.pack(
        "<HHIIHH", _TAG_OF[checked], channels, sample_rate, sample_rate * block_align, block_align, 8 * width
    )
    extra = b""
    if checked != "linear16":
        fmt += struct.pack("<H", 0)
        frames = _UNKNOWN_SIZE if data_size is None else data_size // block_align
        extra = struct.pack("<4sII", b"fact", 4, frames)
    head = struct.pack("<4sI", b"fmt ", len(fmt)) + fmt + extra
    if data_size is None:
        riff_size = data_chunk_size = _UNKNOWN_SIZE
    else:
        data_chunk_size = data_size
        riff_size = 4 + len(head) + 8 + data_size + data_size % 2
        if riff_size >= _UNKNOWN_SIZE:
            raise ValueError(f"{data_size} bytes of audio do not fit in a WAV file")
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + head
        + struct.pack("<4sI", b"data", data_chunk_size)
    )


def write_wav(
    path: str | os.PathLike[str], audio: PcmAudio | bytes, sample_rate: int, encoding: str = "linear16"
) -> None:
    """Write mono audio: int16 samples are encoded, bytes are taken as an already encoded payload."""
    payload = audio if isinstance(audio, bytes) else encode(audio, encoding)
    pad = b"\x00" * (len(payload) % 2)
    Path(path).write_bytes(wav_header(sample_rate, encoding, data_size=len(payload)) + payload + pad)
