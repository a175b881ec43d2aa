from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tests.wer import PREAMBLE, wer
from voicewire.engines.base import FloatAudio, SpeechToText
from voicewire.engines.stt_whisper import WhisperStt

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
    assert len(transcript.text.split()) <= 2, transcript.text


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
