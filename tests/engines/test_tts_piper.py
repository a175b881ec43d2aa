from __future__ import annotations

import time

import numpy as np
import pytest

from tests.wer import wer
from voicewire.audio.codecs import pcm16_to_float
from voicewire.audio.resample import resample
from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError, TextToSpeech
from voicewire.engines.stt_whisper import WhisperStt
from voicewire.engines.tts_piper import PiperTts

pytestmark = pytest.mark.models

SENTENCES = (
    "Thank you for calling customer support. How can I help you today? "
    "Your package was shipped this morning and should arrive by Friday afternoon."
)


def test_voice_names(piper_joe: PiperTts) -> None:
    assert isinstance(piper_joe, TextToSpeech)
    assert piper_joe.sample_rate == 22050
    assert piper_joe.has_voice("en_US-joe-medium") and piper_joe.has_voice("joe")
    assert not piper_joe.has_voice("en-us")
    with pytest.raises(EngineError, match="no voice"):
        piper_joe.synthesize("Hello.", voice="en-us")


async def test_round_trip_through_whisper(piper_joe: PiperTts, whisper_tiny: WhisperStt) -> None:
    chunks = [chunk async for chunk in piper_joe.synthesize(SENTENCES, voice="joe")]
    assert len(chunks) == 3  # one per sentence
    assert all(chunk.dtype == np.int16 and chunk.ndim == 1 for chunk in chunks)
    audio = np.concatenate(chunks)
    assert 5.0 < len(audio) / piper_joe.sample_rate < 10.0
    heard = await whisper_tiny.transcribe(
        pcm16_to_float(resample(audio, piper_joe.sample_rate, ENGINE_SAMPLE_RATE))
    )
    assert wer(SENTENCES, heard.text) <= 0.15, heard.text


async def test_closing_stops_before_the_next_sentence(piper_joe: PiperTts) -> None:
    stream = piper_joe.synthesize(SENTENCES * 4)
    await anext(stream)
    started = time.perf_counter()
    await stream.aclose()
    # At most the sentence in progress is finished (about 0.1-0.3 s each on 2 cores).
    assert time.perf_counter() - started < 1.0
