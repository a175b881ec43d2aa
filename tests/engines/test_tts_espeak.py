from __future__ import annotations

import numpy as np
import pytest

from voicewire.engines.base import EngineError, TextToSpeech
from voicewire.engines.tts_espeak import EspeakTts

pytestmark = pytest.mark.models


def test_voice_names(espeak: EspeakTts) -> None:
    assert isinstance(espeak, TextToSpeech)
    assert espeak.sample_rate == 22050
    for voice in ("en-us", "en-gb", "en", "en-us+f3", "de"):
        assert espeak.has_voice(voice), voice
    assert not espeak.has_voice("en_US-joe-medium")
    with pytest.raises(EngineError, match="no voice"):
        espeak.synthesize("Hello.", voice="no-such-voice")


async def test_speaks_audible_audio(espeak: EspeakTts) -> None:
    chunks = [
        chunk async for chunk in espeak.synthesize("Hello there. How can I help you today?", voice="en-gb")
    ]
    assert len(chunks) == 2  # one per sentence
    audio = np.concatenate(chunks)
    assert audio.dtype == np.int16
    assert 1.0 < len(audio) / espeak.sample_rate < 5.0
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms > 1000, rms


async def test_closing_stops_synthesis(espeak: EspeakTts) -> None:
    stream = espeak.synthesize("One. Two. Three. Four. Five.")
    await anext(stream)
    await stream.aclose()
    # The library is free again for the next caller.
    assert [chunk async for chunk in espeak.synthesize("Six.")]
