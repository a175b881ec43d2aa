"""The scripted engines behave like the real ones where the session can tell."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.server.timeline import VirtualClock
from voicewire.engines.base import (
    ChatMessage,
    LanguageModel,
    SpeechToText,
    TextDelta,
    TextToSpeech,
    ToolCall,
    VoiceActivityDetector,
)
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import (
    ScriptedLlm,
    ScriptedStt,
    ScriptedTts,
    ScriptedVad,
    scripted_registry,
    tone,
)


def test_they_satisfy_the_engine_protocols() -> None:
    assert isinstance(ScriptedVad(), VoiceActivityDetector)
    assert isinstance(ScriptedStt(), SpeechToText)
    assert isinstance(ScriptedLlm(), LanguageModel)
    assert isinstance(ScriptedTts(), TextToSpeech)


def test_vad_follows_signal_energy() -> None:
    vad = ScriptedVad()
    assert vad.window_samples == 512
    assert vad.speech_probability(np.zeros(512, dtype=np.float32)) == 0.0
    loud = tone(512, 16000, 0.3).astype(np.float32) / 32768
    assert vad.speech_probability(loud) == 1.0
    assert vad.speech_probability(loud * 0.01) == 0.0


async def test_stt_returns_transcripts_in_order_and_repeats_the_last() -> None:
    stt = ScriptedStt(["one", "two"], delay=0.5, sleep=lambda s: asyncio.sleep(0))
    audio = np.zeros(16000, dtype=np.float32)
    texts = [(await stt.transcribe(audio, keyterms=["x"])).text for _ in range(3)]
    assert texts == ["one", "two", "two"]
    assert len(stt.utterances) == 3 and stt.keyterms[0] == ("x",)
    computed = ScriptedStt(transcribe_with=lambda a: f"{len(a)} samples")
    assert (await computed.transcribe(audio)).text == "16000 samples"


async def test_stt_delay_uses_the_given_clock() -> None:
    clock = VirtualClock()
    stt = ScriptedStt(["hi"], delay=0.3, sleep=clock.sleep)
    task = asyncio.create_task(stt.transcribe(np.zeros(10, dtype=np.float32)))
    await clock.advance(0.29)
    assert not task.done()
    await clock.advance(0.02)
    assert (await task).text == "hi"


async def test_llm_streams_words_and_tool_calls_then_echoes() -> None:
    call = ToolCall("c1", "f", "{}")
    llm = ScriptedLlm([["Hello there.", call]])
    events = [e async for e in llm.stream([ChatMessage("user", "hi")])]
    assert events == [TextDelta("Hello"), TextDelta(" there."), call]
    echoed = [e async for e in llm.stream([ChatMessage("system", "s"), ChatMessage("user", "how are you")])]
    assert "".join(e.text for e in echoed if isinstance(e, TextDelta)) == "You said: how are you."
    assert llm.completed == 2 and llm.closed == 0
    assert [m.content for m in llm.requests[1][0]] == ["s", "how are you"]


async def test_llm_notices_when_it_is_closed_early() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([["one two three four five"]], token_delay=0.1, sleep=clock.sleep)
    stream = llm.stream([ChatMessage("user", "hi")])

    async def first_two() -> list[object]:
        return [await anext(stream), await anext(stream)]

    task = asyncio.create_task(first_two())
    await clock.advance(0.25)
    assert len(await task) == 2
    await stream.aclose()  # type: ignore[attr-defined]
    assert llm.closed == 1 and llm.completed == 0


async def test_tts_yields_audio_proportional_to_the_text_in_chunks() -> None:
    tts = ScriptedTts(sample_rate=22050, seconds_per_char=0.02, chunk_seconds=0.05, voices=("a", "b"))
    chunks = [c async for c in tts.synthesize("ten chars!", voice="b")]
    assert sum(len(c) for c in chunks) == round(0.2 * 22050)
    assert all(len(c) <= round(0.05 * 22050) for c in chunks)
    assert all(c.dtype == np.int16 for c in chunks)
    assert tts.requests == [("ten chars!", "b")]
    assert tts.has_voice("a") and not tts.has_voice("c")
    assert ScriptedTts(voices=None).has_voice("anything")
    joined = np.concatenate(chunks)
    np.testing.assert_array_equal(joined, tone(len(joined), 22050, 0.3))  # continuous across chunks


async def test_tts_notices_when_it_is_closed_early() -> None:
    tts = ScriptedTts(seconds_per_char=0.1)
    stream = tts.synthesize("a long sentence")
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert tts.closed == 1


async def test_scripted_registry_maps_every_model_name_onto_the_scripted_engines() -> None:
    stt, llm, tts = ScriptedStt(), ScriptedLlm(), ScriptedTts()
    registry = scripted_registry(stt=stt, llm=llm, tts=tts)
    assert isinstance(registry, EngineRegistry)
    assert registry.stt_for("nova-3") is stt
    assert registry.choose_llm("open_ai", "gpt-4o-mini").engine is llm
    assert registry.voice_for("aura-asteria-en").engine is tts
    assert registry.voice_for("scripted").voice == "scripted"
    assert isinstance(registry.new_vad(), ScriptedVad)
    assert registry.new_vad() is not registry.new_vad()
    await registry.warm_up()


@pytest.mark.parametrize("amplitude", [0.1, 0.5])
def test_tone_amplitude(amplitude: float) -> None:
    samples = tone(16000, 16000, amplitude)
    assert np.abs(samples).max() == pytest.approx(amplitude * 32767, rel=0.01)
