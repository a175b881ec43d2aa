"""Format checks, input decoding, output framing and pacing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.server.timeline import VirtualClock
from voicewire.audio import UnsupportedAudioFormat, decode, encode, resample
from voicewire.engines.scripted import tone
from voicewire.protocol import Input, Output
from voicewire.server.audio_io import InputDecoder, InputFormat, OutputFormat, Pacer, SentenceEncoder


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("encoding", ["linear16", "mulaw", "alaw"])
def test_supported_input_formats(encoding: str, rate: int) -> None:
    assert InputFormat.from_settings(Input(encoding, rate)) == InputFormat(encoding, rate)


@pytest.mark.parametrize(
    ("encoding", "rate"), [("mp3", 16000), ("opus", 48000), ("linear16", 7999), ("mulaw", 96000)]
)
def test_unsupported_input_formats(encoding: str, rate: int) -> None:
    with pytest.raises(UnsupportedAudioFormat):
        InputFormat.from_settings(Input(encoding, rate))


@pytest.mark.parametrize(
    ("encoding", "rate", "container"),
    [("mp3", 16000, "none"), ("linear16", 44100, "none"), ("linear16", 16000, "ogg")],
)
def test_unsupported_output_formats(encoding: str, rate: int, container: str) -> None:
    with pytest.raises(UnsupportedAudioFormat):
        OutputFormat.from_settings(Output(encoding, rate, container=container))


def test_output_defaults_and_the_wav_header() -> None:
    assert OutputFormat.from_settings(Output(None, None, container=None)) == OutputFormat(
        "linear16", 16000, "none"
    )
    assert OutputFormat("linear16", 16000, "none").header() is None
    header = OutputFormat("mulaw", 8000, "wav").header()
    assert header is not None and header.startswith(b"RIFF") and b"WAVE" in header


def test_input_decoder_keeps_a_split_sample_for_the_next_frame() -> None:
    pcm = tone(1600, 16000)
    data = encode(pcm, "linear16")
    decoder = InputDecoder(InputFormat("linear16", 16000))
    parts = [decoder.feed(data[i : i + 333]) for i in range(0, len(data), 333)]
    joined = np.concatenate(parts)
    np.testing.assert_array_equal(joined, pcm.astype(np.float32) / 32768)


def test_input_decoder_returns_whole_blocks_and_holds_the_rest() -> None:
    pcm = tone(1600, 16000)
    data = encode(pcm, "linear16")
    decoder = InputDecoder(InputFormat("linear16", 16000), block=512)
    parts = []
    for i in range(0, len(data), 640):  # 20 ms frames, 320 samples: 3 in 5 complete a block
        parts.append(decoder.feed(data[i : i + 640]))
        assert len(parts[-1]) % 512 == 0
        assert sum(map(len, parts)) + decoder.held == i // 2 + 320
    assert [len(part) for part in parts[:5]] == [0, 512, 0, 512, 512]
    np.testing.assert_array_equal(np.concatenate(parts), pcm[: 3 * 512].astype(np.float32) / 32768)
    assert decoder.held == 1600 - 3 * 512


def test_input_decoder_holds_resampled_samples_until_a_block_is_whole() -> None:
    pcm = tone(8000, 8000)
    decoder = InputDecoder(InputFormat("mulaw", 8000), block=512)
    parts = [decoder.feed(encode(pcm[i : i + 160], "mulaw")) for i in range(0, 8000, 160)]
    assert all(len(part) % 512 == 0 for part in parts)
    whole = InputDecoder(InputFormat("mulaw", 8000))
    expected = np.concatenate([whole.feed(encode(pcm[i : i + 160], "mulaw")) for i in range(0, 8000, 160)])
    joined = np.concatenate(parts)
    np.testing.assert_array_equal(joined, expected[: len(joined)])
    assert len(joined) + decoder.held == len(expected)


def test_input_decoder_resamples_to_16k() -> None:
    pcm = tone(8000, 8000)
    decoder = InputDecoder(InputFormat("mulaw", 8000))
    out = np.concatenate([decoder.feed(encode(pcm[i : i + 160], "mulaw")) for i in range(0, 8000, 160)])
    assert 16000 - 1600 < len(out) <= 16000  # the resampler holds back under 100 ms until more arrives
    assert np.abs(out).max() > 0.2


def test_sentence_encoder_frames_are_at_most_the_chunk_and_cover_the_audio() -> None:
    fmt = OutputFormat("mulaw", 8000, "none")
    encoder = SentenceEncoder(fmt, 16000, chunk_ms=100)
    pcm = tone(16000 * 2, 16000)
    frames = [*encoder.feed(pcm[:5000]), *encoder.feed(pcm[5000:]), *encoder.flush()]
    assert all(len(f) <= 800 for f in frames)
    audio = decode(b"".join(frames), "mulaw")
    assert len(audio) == 16000
    expected = resample(pcm, 16000, 8000)
    assert np.abs(audio.astype(int) - expected.astype(int)).mean() < 200  # mu-law quantisation only


def test_sentence_encoder_sends_what_is_ready_without_waiting_for_a_full_frame() -> None:
    encoder = SentenceEncoder(OutputFormat("linear16", 16000, "none"), 16000, chunk_ms=100)
    assert [len(f) for f in encoder.feed(tone(400, 16000))] == [2 * (400 - 160)]  # all but the last 10 ms
    assert [len(f) for f in encoder.flush()] == [2 * 160]


@pytest.mark.parametrize("encoding", ["linear16", "mulaw"])
@pytest.mark.parametrize("from_rate", [22050, 16000])
def test_sentence_encoder_never_sends_a_sliver(encoding: str, from_rate: int) -> None:
    """Uneven TTS chunks and the resampler's tail make no frame shorter than 10 ms (whole samples)."""
    fmt = OutputFormat(encoding, 16000, "none")
    width = 2 if encoding == "linear16" else 1
    encoder = SentenceEncoder(fmt, from_rate, chunk_ms=100)
    pcm = tone(from_rate, from_rate)
    frames: list[bytes] = []
    start = 0
    for size in [1, 3, 7, 100, 1, 1601, 2, 5000, 3]:
        frames += encoder.feed(pcm[start : start + size])
        start += size
    frames += encoder.feed(pcm[start:])
    frames += encoder.flush()
    assert min(len(f) for f in frames) >= 160 * width
    assert max(len(f) for f in frames) <= 1600 * width
    assert abs(sum(len(f) for f in frames) / width - 16000) <= 2


async def test_pacer_allows_at_most_speed_times_real_time_and_no_burst_after_a_stall() -> None:
    clock = VirtualClock()
    pacer = Pacer(clock, speed=2.0)
    sent_at: list[float] = []

    async def send(frames: int) -> None:
        for _ in range(frames):
            await pacer.wait()
            sent_at.append(clock.now())
            pacer.sent(0.1)

    task = asyncio.create_task(send(3))
    await clock.advance(1.0)
    await task
    assert sent_at == pytest.approx([0.0, 0.05, 0.1])
    # After a stall (the TTS was slow), sending resumes at once but still no faster than 2x.
    task = asyncio.create_task(send(2))
    await clock.advance(1.0)
    await task
    assert sent_at[3:] == pytest.approx([1.0, 1.05])
