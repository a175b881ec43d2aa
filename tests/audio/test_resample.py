from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from voicewire.audio import (
    StreamResampler,
    UnsupportedAudioFormat,
    float_to_pcm16,
    pcm16_to_float,
    read_wav,
    resample,
)


def sine(frequency: float, rate: int, seconds: float = 1.0) -> npt.NDArray[np.float32]:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def peak_frequency(audio: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def stream(resampler: StreamResampler[Any], audio: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Feeds irregular chunks, as packets arrive, including an empty one."""
    chunks = np.split(audio, np.cumsum([160, 0, 1, 333, 80, 2000, 7]))
    return np.concatenate([*map(resampler.process, chunks), resampler.flush()])


def test_sine_keeps_its_frequency() -> None:
    upsampled = resample(sine(1000, 8000), 8000, 16000)
    assert upsampled.dtype == np.float32
    assert len(upsampled) == 16000
    assert peak_frequency(upsampled, 16000) == pytest.approx(1000, abs=2)


def test_int16_stays_int16_and_keeps_level() -> None:
    pcm = float_to_pcm16(sine(440, 22050))
    downsampled = resample(pcm, 22050, 16000)
    assert downsampled.dtype == np.int16
    assert len(downsampled) == 16000
    assert np.abs(downsampled).max() == pytest.approx(16384, rel=0.02)


def test_int16_silence_stays_silent() -> None:
    assert not resample(np.zeros(8000, dtype=np.int16), 8000, 16000).any()


def test_equal_rates_are_identity() -> None:
    pcm = float_to_pcm16(sine(300, 16000))
    assert resample(pcm, 16000, 16000) is pcm
    resampler = StreamResampler(16000, 16000, np.int16)
    assert np.array_equal(stream(resampler, pcm), pcm)


def test_empty_input() -> None:
    assert resample(np.zeros(0, dtype=np.float32), 8000, 16000).size == 0


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (22050, 16000), (16000, 24000)])
def test_stream_matches_one_shot(from_rate: int, to_rate: int) -> None:
    pcm = float_to_pcm16(sine(700, from_rate, seconds=0.5))
    one_shot = resample(pcm, from_rate, to_rate)
    streamed = stream(StreamResampler(from_rate, to_rate, np.int16), pcm)
    assert abs(len(streamed) - len(one_shot)) <= 4
    n = min(len(streamed), len(one_shot))
    # The stream interpolates (low latency), the one-shot path filters: equal to within 2% of full scale.
    assert np.abs(streamed[:n].astype(np.int32) - one_shot[:n]).max() <= 655


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (48000, 16000), (22050, 16000)])
def test_stream_answers_every_packet_without_holding_audio_back(from_rate: int, to_rate: int) -> None:
    resampler = StreamResampler(from_rate, to_rate, np.float32)
    packet = sine(300, from_rate, seconds=0.02)
    sizes = [len(resampler.process(packet)) for _ in range(10)]
    expected = 0.02 * to_rate
    assert all(size >= expected - 8 for size in sizes[1:]), sizes


def test_stream_is_reusable_after_flush() -> None:
    pcm = float_to_pcm16(sine(700, 8000, seconds=0.5))
    resampler = StreamResampler(8000, 16000, np.int16)
    first = stream(resampler, pcm)
    assert np.array_equal(stream(resampler, pcm), first)


def test_stream_float32() -> None:
    audio = sine(1000, 8000)
    out = stream(StreamResampler(8000, 16000, np.float32), audio)
    assert out.dtype == np.float32
    assert peak_frequency(out, 16000) == pytest.approx(1000, abs=2)


def test_stream_rejects_other_dtypes() -> None:
    resampler = StreamResampler(8000, 16000, np.int16)
    with pytest.raises(TypeError, match="int16"):
        resampler.process(np.zeros(10, dtype=np.float32))


@pytest.mark.parametrize("rate", [0, -8000])
def test_rejects_non_positive_rates(rate: int) -> None:
    with pytest.raises(UnsupportedAudioFormat, match=str(rate)):
        resample(np.zeros(10, dtype=np.int16), rate, 16000)
    with pytest.raises(UnsupportedAudioFormat, match=str(rate)):
        StreamResampler(16000, rate, np.float32)


def test_phone_and_wideband_recordings_agree_at_16k(test_audio: Path) -> None:
    phone = read_wav(test_audio / "preamble-8k-mulaw.wav")
    wideband = read_wav(test_audio / "preamble-22k-linear16.wav")
    a = pcm16_to_float(resample(phone.pcm16(), phone.sample_rate, 16000))
    b = pcm16_to_float(resample(wideband.pcm16(), wideband.sample_rate, 16000))
    assert abs(len(a) - len(b)) <= 2
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.95
