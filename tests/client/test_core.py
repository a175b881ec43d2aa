"""The sans-I/O core both clients share: settings, routing of frames, messages, option flags, devices."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voicewire.client import (
    AgentWebSocketClient,
    AgentWebSocketEvents,
    ClientOptions,
    KeytermsError,
    Microphone,
    SettingsError,
    Speaker,
    VoicewireError,
)
from voicewire.client._core import (
    KEEPALIVE_INTERVAL,
    Behaviour,
    ClientCore,
    devices_from,
    settings_from,
)
from voicewire.protocol import (
    FunctionCallResponse,
    KeytermsNotSupportedError,
    ProtocolError,
    SettingsConfigurationOptions,
)

Events = AgentWebSocketEvents


def test_settings_from_every_form_keeps_unknown_keys() -> None:
    data = {"greeting": "hi", "agent": {"speak": {"model": "aura-x", "voice_speed": 1.2}}}
    for form in (
        data,
        json.dumps(data),
        json.dumps(data).encode(),
        SettingsConfigurationOptions.from_dict(data),
    ):
        settings = settings_from(form)
        assert settings.to_dict()["greeting"] == "hi"
        assert settings.to_dict()["agent"]["speak"] == {"model": "aura-x", "voice_speed": 1.2}


def test_settings_errors_are_voicewire_errors() -> None:
    with pytest.raises(VoicewireError, match="Invalid options type"):
        settings_from(None)
    with pytest.raises(KeytermsError) as caught:
        settings_from({"agent": {"listen": {"model": "nova-2", "keyterms": ["a"]}}})
    assert isinstance(caught.value, KeytermsNotSupportedError) and isinstance(caught.value, VoicewireError)
    assert settings_from({"agent": {"listen": {"model": "nova-3", "keyterms": ["a"]}}}).check()
    with pytest.raises(SettingsError):
        settings_from("{not json")
    with pytest.raises(SettingsError):
        settings_from({"audio": {"input": {"sample_rate": "fast"}}})


def test_messages_are_compact_json_of_the_protocol_classes() -> None:
    core = _core()
    assert core._keep_alive_text() == '{"type":"KeepAlive"}'
    assert json.loads(core._instructions_text("Be brief")) == {
        "type": "UpdateInstructions",
        "instructions": "Be brief",
    }
    assert json.loads(core._speak_text("aura-x")) == {"type": "UpdateSpeak", "model": "aura-x"}
    assert json.loads(core._inject_text("Hi")) == {"type": "InjectAgentMessage", "message": "Hi"}


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (("call-1", "plain text"), "plain text"),
        (("call-1", {"temp": 21}), '{"temp": 21}'),
        (("call-1", [1, 2]), "[1, 2]"),
        ((FunctionCallResponse(function_call_id="call-1", output="obj"),), "obj"),
    ],
)
def test_function_call_response_message(args: tuple[Any, ...], output: str) -> None:
    message = json.loads(_core()._function_call_response_text(*args))
    assert message == {"type": "FunctionCallResponse", "function_call_id": "call-1", "output": output}


def _core(**options: Any) -> ClientCore:
    return ClientCore(ClientOptions(url="ws://h/agent", options=options))


def test_decode_routes_frames_to_events_and_keywords() -> None:
    core = _core()
    core._kwargs = {"tag": 7}
    ((event, payload),) = core._decode('{"type": "Welcome", "session_id": "s"}')
    assert event is Events.Welcome
    assert payload["welcome"].session_id == "s" and payload["tag"] == 7
    assert core._decode('{"type": "InstructionsUpdated"}')[0][0] is Events.InstructionsUpdated
    assert core._decode('{"type": "SpeakUpdated"}')[0][0] is Events.SpeakUpdated
    ((event, payload),) = core._decode('{"type": "Warning", "code": "C", "description": "d"}')
    assert event is Events.Warning and payload["warning"].code == "C"


@pytest.mark.parametrize("wire", ['{"type": "Open"}', '{"type": "Close"}', '{"type": "Brand new"}', "{}"])
def test_client_side_and_unknown_types_are_unhandled(wire: str) -> None:
    ((event, payload),) = _core()._decode(wire)
    assert event is Events.Unhandled
    assert payload["unhandled"].raw == wire
    assert payload["unhandled"].type == "Unhandled"


@pytest.mark.parametrize("wire", ["", "{nope", "[]", '{"type": "ConversationText", "role": "user"}'])
def test_malformed_frames_raise_protocol_errors(wire: str) -> None:
    with pytest.raises(ProtocolError):
        _core()._decode(wire)


def test_error_payload_is_shaped_like_the_seeds() -> None:
    core = _core()
    payload = core._error_payload(core._where("_process_text"), KeyError("session_id"), "Exception")
    error = payload["error"]
    assert error.description == "Exception in ClientCore._process_text"
    assert error.message == "'session_id'"
    assert error.type == "Exception"


def test_behaviour_parses_flags_once() -> None:
    assert Behaviour.from_options({}) == Behaviour()
    assert Behaviour().keepalive_interval == KEEPALIVE_INTERVAL == 5.0
    parsed = Behaviour.from_options(
        {"keep_alive": "yes", "keepalive_interval": "0.25", "termination_exception": "false",
         "termination_exception_connect": True, "termination_exception_send": 1}
    )  # fmt: skip
    assert parsed == Behaviour(True, 0.25, False, True, True)


def test_on_rejects_unknown_events_and_non_callables() -> None:
    core = _core()
    core.on("Welcome", lambda c, **_: None)
    assert len(core._handlers[Events.Welcome]) == 1
    with pytest.raises(VoicewireError, match="Unknown event"):
        core.on("Wellcome", lambda c, **_: None)
    with pytest.raises(VoicewireError, match="not callable"):
        core.on(Events.Welcome, "handler")  # type: ignore[arg-type]


def test_device_options_build_devices_and_mute_only_when_asked() -> None:
    assert devices_from({}, None, None) == (None, None)
    mic, speaker = devices_from({"microphone_record": "true", "microphone_record_rate": "24000"}, None, None)
    assert isinstance(mic, Microphone) and speaker is None and mic.rate == 24000
    mic, speaker = devices_from({"microphone_record": "true", "speaker_playback": "true"}, None, None)
    assert isinstance(speaker, Speaker) and speaker._microphone is None
    mic, speaker = devices_from(
        {"microphone_record": True, "speaker_playback": True, "speaker_playback_mute_microphone": "true"},
        None,
        None,
    )
    assert speaker is not None and speaker._microphone is mic
    explicit = Microphone()
    assert devices_from({"microphone_record": "false"}, explicit, None)[0] is explicit


def test_speaker_gets_audio_and_barge_in_through_ordinary_handlers() -> None:
    client = AgentWebSocketClient(ClientOptions(url="ws://h/agent", options={"speaker_playback": "true"}))
    assert len(client._handlers[Events.AudioData]) == 1
    assert len(client._handlers[Events.UserStartedSpeaking]) == 1
