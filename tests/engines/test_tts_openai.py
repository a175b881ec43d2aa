from __future__ import annotations

import contextlib

import numpy as np
import pytest

from tests.engines.speech_api import KEY, SYNTHESISED, speech_api
from voicewire.engines.base import EngineError
from voicewire.engines.tts_openai import OpenAiTts


async def synthesize(tts: OpenAiTts, voice: str | None = None) -> list[np.ndarray]:
    try:
        return [pcm async for pcm in tts.synthesize("Hello there.", voice=voice)]
    finally:
        await tts.aclose()


@pytest.mark.parametrize("response_format", ["pcm", "wav"])
async def test_streams_every_sample_in_several_chunks(response_format: str) -> None:
    with speech_api() as api:
        tts = OpenAiTts(
            api.base_url,
            model="tts-1",
            voices=("alloy", "nova"),
            api_key=KEY,
            response_format=response_format,
        )
        chunks = await synthesize(tts, voice="nova")
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate(chunks), SYNTHESISED)
    (request,) = api.requests
    assert request.path == "/v1/audio/speech"
    assert request.fields == {
        "model": "tts-1",
        "input": "Hello there.",
        "voice": "nova",
        "response_format": response_format,
    }


async def test_a_voice_it_does_not_have_gets_its_default() -> None:
    with speech_api() as api:
        tts = OpenAiTts(api.base_url, model="tts-1", voices=("alloy",), api_key=KEY)
        await synthesize(tts, voice="aura-2-thalia-en")
    assert api.requests[0].fields["voice"] == "alloy"
    assert tts.has_voice("alloy") and not tts.has_voice("aura-2-thalia-en")


async def test_a_wav_at_another_rate_than_configured_is_an_engine_error() -> None:
    with speech_api() as api:
        tts = OpenAiTts(api.base_url, model="tts-1", api_key=KEY, response_format="wav", sample_rate=22050)
        with pytest.raises(EngineError, match="24000 Hz"):
            await synthesize(tts)


async def test_errors_and_cut_streams_are_engine_errors() -> None:
    with speech_api() as api:
        api.status = 500
        with pytest.raises(EngineError, match="HTTP 500"):
            await synthesize(OpenAiTts(api.base_url, model="tts-1", api_key=KEY))
        api.status = 200
        api.break_after_chunks = 1
        with pytest.raises(EngineError, match="speech endpoint"):
            await synthesize(OpenAiTts(api.base_url, model="tts-1", api_key=KEY))
        api.break_after_chunks = None
        api.delay_s = 0.5
        with pytest.raises(EngineError, match="Timeout"):
            await synthesize(OpenAiTts(api.base_url, model="tts-1", api_key=KEY, timeout=0.1))


async def test_closing_the_stream_after_the_first_chunk_stops_reading() -> None:
    with speech_api() as api:
        tts = OpenAiTts(api.base_url, model="tts-1", api_key=KEY)
        stream = tts.synthesize("Hello there.")
        async with contextlib.aclosing(stream):
            first = await anext(stream)
        await tts.aclose()
    assert 0 < first.size < SYNTHESISED.size
