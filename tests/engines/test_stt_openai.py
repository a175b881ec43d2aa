from __future__ import annotations

import numpy as np
import pytest

from tests.engines.speech_api import KEY, TRANSCRIPT, speech_api
from voicewire.engines.base import EngineError
from voicewire.engines.stt_openai import OpenAiStt

UTTERANCE = (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32)


async def test_posts_a_multipart_wav_and_reads_the_json_text() -> None:
    with speech_api() as api:
        stt = OpenAiStt(api.base_url, model="whisper-1", api_key=KEY, language="en")
        try:
            transcript = await stt.transcribe(UTTERANCE, keyterms=["Acme", "voicewire"])
        finally:
            await stt.aclose()
    assert transcript.text == TRANSCRIPT
    (request,) = api.requests
    assert request.path == "/v1/audio/transcriptions"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request.fields["model"] == "whisper-1"
    assert request.fields["response_format"] == "json"
    assert request.fields["language"] == "en"
    assert request.fields["prompt"] == "Acme, voicewire"
    assert request.fields["wav_rate"] == 16000


async def test_reads_the_text_response_format() -> None:
    with speech_api() as api:
        stt = OpenAiStt(api.base_url, model="whisper-1", api_key=KEY, response_format="text")
        try:
            assert (await stt.transcribe(UTTERANCE)).text == TRANSCRIPT
        finally:
            await stt.aclose()
    assert "prompt" not in api.requests[0].fields


@pytest.mark.parametrize(("key", "status"), [("wrong", 401), (KEY, 503)])
async def test_error_statuses_are_engine_errors_without_the_key(key: str, status: int) -> None:
    with speech_api() as api:
        if status != 401:
            api.status = status
        stt = OpenAiStt(api.base_url, model="whisper-1", api_key=key)
        try:
            with pytest.raises(EngineError, match=f"HTTP {status}") as raised:
                await stt.transcribe(UTTERANCE)
        finally:
            await stt.aclose()
    assert key not in str(raised.value)


async def test_a_slow_server_times_out_as_an_engine_error() -> None:
    with speech_api() as api:
        api.delay_s = 0.5
        stt = OpenAiStt(api.base_url, model="whisper-1", api_key=KEY, timeout=0.1)
        try:
            with pytest.raises(EngineError, match="Timeout"):
                await stt.transcribe(UTTERANCE)
        finally:
            await stt.aclose()


async def test_an_unreachable_server_is_an_engine_error() -> None:
    with speech_api() as api:
        url = api.base_url
    stt = OpenAiStt(url, model="whisper-1", api_key=KEY)
    try:
        with pytest.raises(EngineError, match="ConnectError"):
            await stt.transcribe(UTTERANCE)
    finally:
        await stt.aclose()
