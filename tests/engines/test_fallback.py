from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.engines.speech_api import KEY, SYNTHESISED, TRANSCRIPT, speech_api
from voicewire.engines.base import EngineError
from voicewire.engines.fallback import FallbackStt, FallbackTts, fallback_listener
from voicewire.engines.scripted import ScriptedStt, ScriptedTts
from voicewire.engines.stt_openai import OpenAiStt
from voicewire.engines.tts_openai import OpenAiTts

UTTERANCE = np.zeros(16000, dtype=np.float32)


async def test_stt_uses_the_remote_while_it_answers_and_the_local_engine_when_it_fails() -> None:
    told: list[str] = []
    fallback_listener.set(told.append)
    local = ScriptedStt(["local words"])
    with speech_api() as api:
        remote = OpenAiStt(api.base_url, model="whisper-1", api_key=KEY)
        stt = FallbackStt(remote, local)
        try:
            assert (await stt.transcribe(UTTERANCE)).text == TRANSCRIPT
            assert told == []
            api.status = 503
            assert (await stt.transcribe(UTTERANCE)).text == "local words"
        finally:
            await remote.aclose()
    assert len(api.requests) == 2
    assert told == ["Remote speech recognition failed; the local recogniser transcribed this turn"]


async def test_stt_raises_when_the_local_engine_fails_too() -> None:
    class Broken:
        async def transcribe(self, audio: object, *, keyterms: object = ()) -> object:
            raise EngineError("local model crashed")

    with speech_api() as api:
        api.status = 500
        remote = OpenAiStt(api.base_url, model="whisper-1", api_key=KEY)
        try:
            with pytest.raises(EngineError, match="local model crashed"):
                await FallbackStt(remote, Broken()).transcribe(UTTERANCE)  # type: ignore[arg-type]
        finally:
            await remote.aclose()


async def test_tts_speaks_locally_at_the_remote_rate_when_the_remote_fails_before_any_audio() -> None:
    local = ScriptedTts(sample_rate=16000, voices=None)
    with speech_api() as api:
        remote = OpenAiTts(api.base_url, model="tts-1", api_key=KEY)
        tts = FallbackTts(remote, local, "joe")
        try:
            spoken = np.concatenate([pcm async for pcm in tts.synthesize("Hello there.")])
            np.testing.assert_array_equal(spoken, SYNTHESISED)
            api.status = 503
            fallen_back = np.concatenate([pcm async for pcm in tts.synthesize("Hello there.")])
        finally:
            await remote.aclose()
    assert tts.sample_rate == 24000
    assert local.requests == [("Hello there.", "joe")]
    expected = round(local.duration("Hello there.") * 24000)
    assert abs(fallen_back.size - expected) < 100


async def test_tts_does_not_splice_voices_when_the_remote_fails_mid_sentence() -> None:
    local = ScriptedTts(sample_rate=24000, voices=None)
    with speech_api() as api:
        api.break_after_chunks = 1
        remote = OpenAiTts(api.base_url, model="tts-1", api_key=KEY)
        try:
            with pytest.raises(EngineError):
                async for _ in FallbackTts(remote, local).synthesize("Hello there."):
                    pass
        finally:
            await remote.aclose()
    assert local.requests == []


async def test_a_failed_remote_is_left_alone_for_retry_after_s() -> None:
    local = ScriptedStt(["local words"])
    with speech_api() as api:
        remote = OpenAiStt(api.base_url, model="whisper-1", api_key=KEY)
        stt = FallbackStt(remote, local, retry_after_s=0.3)
        try:
            api.status = 503
            assert (await stt.transcribe(UTTERANCE)).text == "local words"
            api.status = 200
            assert (await stt.transcribe(UTTERANCE)).text == "local words"
            assert len(api.requests) == 1  # the second utterance did not wait for the remote
            await asyncio.sleep(0.35)
            assert (await stt.transcribe(UTTERANCE)).text == TRANSCRIPT
        finally:
            await remote.aclose()
    assert len(api.requests) == 2
