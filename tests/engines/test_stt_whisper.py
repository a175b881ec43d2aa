from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tests.wer import PREAMBLE, wer
from voicewire.engines.base import FloatAudio, SpeechToText
from voicewire.engines.stt_whisper import SHORT_AUDIO_S, WhisperStt, _timed_segments

pytestmark = pytest.mark.models

# tiny.en's only errors on this recording are "to ordain" (said so) and "in our posterity": 2 of 52 words.
MAX_WER = 0.08


@pytest.mark.parametrize("recording", ["preamble-22k-linear16.wav", "preamble-8k-mulaw.wav"])
async def test_tiny_en_transcribes_the_preamble(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio], recording: str
) -> None:
    assert isinstance(whisper_tiny, SpeechToText)
    transcript = await whisper_tiny.transcribe(preamble_16k[recording])
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text
    assert transcript.language == "en"


async def test_base_transcribes_the_phone_recording(
    whisper_base: WhisperStt, preamble_16k: dict[str, FloatAudio]
) -> None:
    transcript = await whisper_base.transcribe(preamble_16k["preamble-8k-mulaw.wav"])
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text


async def test_keyterms_are_accepted_and_silence_gives_no_words(whisper_tiny: WhisperStt) -> None:
    transcript = await whisper_tiny.transcribe(
        np.zeros(16000, dtype=np.float32), keyterms=["Acme", "voicewire"]
    )
    assert transcript.text == "", transcript.text


async def test_cancelling_abandons_the_transcription(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio]
) -> None:
    task = asyncio.create_task(whisper_tiny.transcribe(preamble_16k["preamble-22k-linear16.wav"]))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The model finishes at most the segment it is decoding; then it is free for the next caller.
    assert time.perf_counter() - started < 2.0


async def test_audio_up_to_the_short_limit_skips_the_padded_30_s_window(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio], monkeypatch: pytest.MonkeyPatch
) -> None:
    def padded(*args: object, **kwargs: object) -> None:
        raise AssertionError("the 30 s path was taken")

    recording = preamble_16k["preamble-8k-mulaw.wav"]  # 19.1 s
    assert len(recording) <= SHORT_AUDIO_S * 16000
    monkeypatch.setattr(whisper_tiny._model, "transcribe", padded)
    transcript = await whisper_tiny.transcribe(recording)
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text


async def test_longer_audio_takes_the_30_s_path(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio], monkeypatch: pytest.MonkeyPatch
) -> None:
    def short(*args: object) -> None:
        raise AssertionError("the short window was taken")

    recording = preamble_16k["preamble-22k-linear16.wav"]
    long = np.concatenate((recording, np.zeros(16000 * 6, dtype=np.float32)))
    monkeypatch.setattr(whisper_tiny, "_short_window", short)
    transcript = await whisper_tiny.transcribe(long)
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text


def test_decoded_tokens_split_into_segments_at_their_timestamps() -> None:
    class Tokens:
        eot = 100
        timestamp_begin = 200

    # <0.00> 1 2 <1.00> <1.00> 3 <7.00> <7.00> 4 eot
    tokens = [200, 1, 2, 250, 250, 3, 550, 550, 4, 100]
    assert list(_timed_segments(tokens, Tokens())) == [(0.0, [1, 2]), (1.0, [3]), (7.0, [4])]
