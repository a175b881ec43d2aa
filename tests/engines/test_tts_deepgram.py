from __future__ import annotations

import numpy as np
import pytest

from tests.engines.speech_api import KEY, SYNTHESISED, speech_api
from voicewire.engines.base import EngineError
from voicewire.engines.tts_deepgram import DeepgramTts


async def synthesize(tts: DeepgramTts, voice: str | None = None) -> list[np.ndarray]:
    try:
        return [pcm async for pcm in tts.synthesize("Hello there.", voice=voice)]
    finally:
        await tts.aclose()


async def test_streams_linear16_for_the_aura_voice_asked_for() -> None:
    with speech_api() as api:
        tts = DeepgramTts(api.base_url, api_key=KEY, sample_rate=16000)
        chunks = await synthesize(tts, voice="aura-2-orion-en")
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate(chunks), SYNTHESISED)
    (request,) = api.requests
    assert request.path == "/v1/speak"
    assert request.headers["Authorization"] == f"Token {KEY}"
    assert request.query == {
        "model": ["aura-2-orion-en"],
        "encoding": ["linear16"],
        "container": ["none"],
        "sample_rate": ["16000"],
    }
    assert request.fields == {"text": "Hello there."}
    assert tts.sample_rate == 16000


async def test_a_voice_that_is_not_aura_gets_the_default_model() -> None:
    with speech_api() as api:
        await synthesize(DeepgramTts(api.base_url, model="aura-2-thalia-en", api_key=KEY), voice="joe")
    assert api.requests[0].query["model"] == ["aura-2-thalia-en"]


async def test_errors_and_cut_streams_are_engine_errors() -> None:
    with speech_api() as api:
        with pytest.raises(EngineError, match="HTTP 401"):
            await synthesize(DeepgramTts(api.base_url, api_key="dg-wrong"))
        api.break_after_chunks = 2
        with pytest.raises(EngineError, match="Deepgram speak endpoint"):
            await synthesize(DeepgramTts(api.base_url, api_key=KEY))
