from __future__ import annotations

import numpy as np
import pytest

from tests.engines.speech_api import KEY, TRANSCRIPT, speech_api
from voicewire.engines.base import EngineError
from voicewire.engines.stt_deepgram import DeepgramStt

UTTERANCE = (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32)


async def test_posts_the_wav_body_with_query_options_and_a_token() -> None:
    with speech_api() as api:
        stt = DeepgramStt(api.base_url, model="nova-3", api_key=KEY, language="en")
        try:
            transcript = await stt.transcribe(UTTERANCE, keyterms=["Acme", "voicewire"])
        finally:
            await stt.aclose()
    assert transcript.text == TRANSCRIPT
    (request,) = api.requests
    assert request.path == "/v1/listen"
    assert request.headers["Authorization"] == f"Token {KEY}"
    assert request.headers["Content-Type"] == "audio/wav"
    assert request.query == {
        "model": ["nova-3"],
        "smart_format": ["true"],
        "language": ["en"],
        "keyterm": ["Acme", "voicewire"],
    }
    assert request.fields["wav_rate"] == 16000


async def test_a_wrong_key_is_an_engine_error_naming_the_status_not_the_key() -> None:
    with speech_api() as api:
        stt = DeepgramStt(api.base_url, api_key="dg-wrong")
        try:
            with pytest.raises(EngineError, match=r"HTTP 401.*INVALID_AUTH") as raised:
                await stt.transcribe(UTTERANCE)
        finally:
            await stt.aclose()
    assert "dg-wrong" not in str(raised.value)


async def test_a_slow_server_times_out_as_an_engine_error() -> None:
    with speech_api() as api:
        api.delay_s = 0.5
        stt = DeepgramStt(api.base_url, api_key=KEY, timeout=0.1)
        try:
            with pytest.raises(EngineError, match="Timeout"):
                await stt.transcribe(UTTERANCE)
        finally:
            await stt.aclose()
