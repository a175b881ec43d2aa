"""Settings and client input on the virtual timeline: every error code, and the session surviving each."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.server.timeline import (
    TEST_TURNS,
    V1_SETTINGS,
    Timeline,
    VirtualClock,
    assert_error,
    pcm_frame,
    settle,
    silence,
    speech,
)
from voicewire.audio import encode
from voicewire.engines.base import EngineError, FloatAudio, Transcript
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.protocol.dialects import V1, EarlyAccess, WireFormat
from voicewire.server import ServerConfig, State


def settings_dict(**changes: Any) -> dict[str, Any]:
    """Default settings as a dict, with dotted-path changes (e.g. `audio.output.sample_rate`)."""
    data = SettingsConfigurationOptions().to_dict()
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


async def test_settings_may_arrive_compact_or_pretty() -> None:
    async with Timeline() as t:
        await t.send(SettingsConfigurationOptions().to_json(separators=(",", ":")))
        assert t.summary == ["Welcome", "SettingsApplied"]
    async with Timeline() as t:
        await t.send(str(SettingsConfigurationOptions()))
        assert t.summary == ["Welcome", "SettingsApplied"]


async def test_a_message_before_settings_is_an_error_and_settings_still_work() -> None:
    async with Timeline() as t:
        await t.send({"type": "UpdateInstructions", "instructions": "x"})
        assert_error(t.messages[-1], "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS")
        await t.send({"type": "InjectAgentMessage", "message": "hi"})
        assert_error(t.messages[-1], "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS")
        await t.configure()
        assert t.summary[-1] == "SettingsApplied"


async def test_a_second_settings_message_is_refused() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.configure()
        assert_error(t.messages[-1], "SETTINGS_ALREADY_APPLIED")
        assert t.session.state is State.LISTENING
        await t.say(0.4)
        await t.quiet(0.5)
        assert t.of_type("AgentAudioDone")


@pytest.mark.parametrize(
    ("changes", "code", "mentions"),
    [
        ({"audio__output__sample_rate": 44100}, "USER_AUDIO_FORMAT", "44100"),
        ({"audio__output__encoding": "mp3"}, "USER_AUDIO_FORMAT", "mp3"),
        ({"audio__output__container": "ogg"}, "USER_AUDIO_FORMAT", "ogg"),
        ({"audio__input__sample_rate": 96000}, "USER_AUDIO_FORMAT", "96000"),
        ({"audio__input__sample_rate": 4000}, "USER_AUDIO_FORMAT", "4000"),
        ({"audio__input__encoding": "opus"}, "USER_AUDIO_FORMAT", "opus"),
        ({"agent__speak__model": "no-such-voice"}, "INVALID_SETTINGS", "no-such-voice"),
        ({"agent__listen__model": "nova-2", "agent__listen__keyterms": ["x"]}, "INVALID_SETTINGS", "nova-2"),
        ({"audio": 5}, "INVALID_SETTINGS", "Audio"),
        ({"audio__input__sample_rate": "fast"}, "INVALID_SETTINGS", "sample_rate"),
        ({"context": {"messages": [["system", "x"]]}}, "INVALID_SETTINGS", "system"),
        ({"agent__think__functions": [{"description": "no name"}]}, "INVALID_SETTINGS", "name"),
    ],
)
async def test_invalid_settings_get_a_clear_error_and_the_session_waits_for_valid_ones(
    changes: dict[str, Any], code: str, mentions: str
) -> None:
    async with Timeline() as t:
        await t.send(settings_dict(**changes))
        assert_error(t.messages[-1], code)
        assert mentions in t.messages[-1]["description"]
        assert t.session.state is State.AWAITING_SETTINGS
        await t.configure()
        assert t.summary[-1] == "SettingsApplied"


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("{not json", "JSON"),
        ("[1, 2]", "object"),
        ('{"no_type": 1}', "type"),
        ('{"type": "Settings"}', "Settings"),
        ('{"type": "DoSomething"}', "DoSomething"),
        ("[" * 100_000, "nested"),
    ],
)
async def test_unparsable_messages_are_errors_and_the_session_goes_on(text: str, mentions: str) -> None:
    async with Timeline() as t:
        await t.configure()
        await t.send(text)
        assert_error(t.messages[-1], "UNPARSABLE_CLIENT_MESSAGE")
        assert mentions in t.messages[-1]["description"]
        await t.send({"type": "InjectAgentMessage", "message": "Still here."})
        await t.clock.advance(1.0)
        assert t.of_type("AgentAudioDone")


async def test_an_oversized_text_frame_is_dropped_with_an_error() -> None:
    config = ServerConfig(turns=TEST_TURNS, max_text_frame_bytes=1000)
    async with Timeline(config=config) as t:
        await t.configure()
        await t.send({"type": "InjectAgentMessage", "message": "x" * 2000})
        assert_error(t.messages[-1], "UNPARSABLE_CLIENT_MESSAGE")
        assert "1000" in t.messages[-1]["description"]
        assert t.tts.requests == []
        assert t.session.state is State.LISTENING


async def test_an_empty_injection_is_an_error() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.send({"type": "InjectAgentMessage", "message": "  "})
        assert_error(t.messages[-1], "UNPARSABLE_CLIENT_MESSAGE")


async def test_audio_before_settings_is_buffered_and_used() -> None:
    async with Timeline() as t:
        await t.feed(speech(0.4))
        await t.feed(silence(0.4))
        assert t.summary == ["Welcome"]
        await t.configure()
        await t.clock.advance(1.0)
        assert t.summary[:4] == ["Welcome", "SettingsApplied", "UserStartedSpeaking", "ConversationText"]
        assert len(t.stt.utterances) == 1


@pytest.mark.parametrize("wire", [V1(), EarlyAccess()], ids=["v1", "early-access"])
async def test_audio_before_settings_beyond_the_bound_drops_the_oldest_with_one_warning(
    wire: WireFormat,
) -> None:
    config = ServerConfig(turns=TEST_TURNS, pre_settings_audio_bytes=16000)  # 0.5 s of 16 kHz linear16
    async with Timeline(config=config, wire=wire) as t:
        await t.feed(speech(1.0))
        await t.feed(silence(1.0))
        if isinstance(wire, V1):
            (warning,) = t.of_type("Warning")
            assert warning == {
                "type": "Warning",
                "description": warning["description"],
                "code": "AUDIO_BUFFER_OVERFLOW",
            }
            assert "16000" in warning["description"]
        else:
            assert t.of_type("Warning") == []  # early-access clients have no Warning message (protocol.md §6)
        assert t.session._early_audio.size <= 16000
        await t.configure() if isinstance(wire, EarlyAccess) else await t.send(V1_SETTINGS)
        await t.clock.advance(0.5)
        assert t.of_type("UserStartedSpeaking") == []  # the speech was the oldest audio: dropped


async def test_mulaw_8k_input_is_decoded_and_resampled() -> None:
    async with Timeline() as t:
        await t.configure(encoding="mulaw", rate=8000)
        await t.say(0.5, pause=0.5)
        await t.quiet(0.5)
        assert len(t.stt.utterances) == 1
        assert t.of_type("AgentAudioDone")


async def test_linear16_frames_split_inside_a_sample_decode_like_whole_ones() -> None:
    clock = VirtualClock()
    seen: list[FloatAudio] = []
    stt = ScriptedStt(transcribe_with=lambda audio: seen.append(audio) or "ok", sleep=clock.sleep)
    async with Timeline(clock=clock, stt=stt) as t:
        await t.configure(rate=24000)
        payload = pcm_frame(np.concatenate((speech(0.5, 24000), silence(0.5, 24000))))
        for start in range(0, len(payload), 961):  # odd sizes: every other frame splits a sample
            await t.clock.advance(961 / 48000)
            await t.connection.receive(payload[start : start + 961])
        await t.quiet(0.3)
    async with Timeline() as reference:
        await reference.configure(rate=24000)
        await reference.say(0.5, pause=0.8)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], reference.stt.utterances[0], atol=1e-4)


async def test_binary_garbage_as_mulaw_does_not_break_the_session() -> None:
    async with Timeline() as t:
        await t.configure(encoding="mulaw", rate=8000)
        rng = np.random.default_rng(1)
        for _ in range(50):
            await t.connection.receive(rng.integers(0, 256, 160, dtype=np.uint8).tobytes())
            await t.clock.advance(0.02)
        await t.connection.receive(b"")
        await t.quiet(1.0)
        assert all(m["code"] != "INTERNAL_SERVER_ERROR" for m in t.of_type("Error"))
        await t.send({"type": "KeepAlive"})
        assert t.session.state in (State.LISTENING, State.SPEAKING)


async def test_an_unexpected_exception_becomes_internal_server_error() -> None:
    async with Timeline() as t:
        await t.configure()

        async def explode(samples: FloatAudio) -> list[object]:
            raise RuntimeError("boom")

        assert t.session._pipeline is not None
        detector = t.session._pipeline.detector
        original = detector.push
        detector.push = explode  # type: ignore[method-assign]
        await t.connection.receive(encode(speech(0.04), "linear16"))  # a whole VAD window: a push
        await settle()
        assert_error(t.messages[-1], "INTERNAL_SERVER_ERROR")
        detector.push = original  # type: ignore[method-assign]
        await t.say(0.4)
        await t.quiet(0.5)
        assert t.of_type("AgentAudioDone")


class FailingStt:
    async def transcribe(self, audio: FloatAudio, *, keyterms: object = ()) -> Transcript:
        raise EngineError("model crashed")


async def test_stt_failure_is_reported_and_the_session_listens_again() -> None:
    t = Timeline()
    t.registry._stt = FailingStt()  # type: ignore[assignment]
    async with t:
        await t.configure()
        await t.say(0.4)
        await t.quiet(0.3)
        assert_error(t.messages[-1], "INTERNAL_SERVER_ERROR")
        assert "model crashed" in t.messages[-1]["description"]
        assert t.session.state is State.LISTENING


class FailingLlm(ScriptedLlm):
    async def _generate(self, script: object) -> Any:  # type: ignore[override]
        raise EngineError("endpoint down")
        yield  # pragma: no cover


async def test_llm_failure_is_think_request_failed() -> None:
    async with Timeline(llm=FailingLlm()) as t:
        await t.configure()
        await t.say(0.4)
        await t.quiet(0.3)
        assert_error(t.messages[-1], "THINK_REQUEST_FAILED")
        assert t.session.state is State.LISTENING
        assert t.history() == [("user", "hello there")]


class FailingTts(ScriptedTts):
    async def _generate(self, text: str) -> Any:  # type: ignore[override]
        raise EngineError("voice missing")
        yield  # pragma: no cover


async def test_tts_failure_is_speak_request_failed() -> None:
    async with Timeline(tts=FailingTts()) as t:
        await t.configure()
        await t.say(0.4)
        await t.quiet(0.3)
        assert_error(t.messages[-1], "SPEAK_REQUEST_FAILED")
        assert t.session.state is State.LISTENING
        assert t.history() == [("user", "hello there")]  # nothing was heard


@pytest.mark.parametrize("wire", [V1(), EarlyAccess()], ids=["v1", "early-access"])
@pytest.mark.parametrize(
    "frame",
    [
        json.dumps({"type": "x" * 100_000}),
        json.dumps({"type": "SettingsConfiguration", "audio": {"input": {"sample_rate": "9" * 100_000}}}),
        json.dumps({"type": "Settings", "audio": {"input": {"sample_rate": "9" * 100_000}}}),
    ],
    ids=["type", "early-access-field", "v1-field"],
)
async def test_an_error_quotes_at_most_a_short_excerpt_of_the_clients_input(
    wire: WireFormat, frame: str
) -> None:
    async with Timeline(wire=wire) as t:
        await t.send(frame)
        (error,) = t.of_type("Error")
        assert len(json.dumps(error)) < 500
