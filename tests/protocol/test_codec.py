import json

import pytest

from voicewire.protocol import (
    AgentKeepAlive,
    AgentWebSocketEvents,
    FunctionCallResponse,
    MissingFieldError,
    ProtocolError,
    SettingsConfigurationOptions,
    UnhandledResponse,
    UnknownMessageTypeError,
    WelcomeResponse,
    decode_client_message,
    decode_server_message,
    encode,
)


def test_server_message_dispatches_to_event_class_and_kwarg() -> None:
    kind, message = decode_server_message('{"type": "Welcome", "session_id": "abc"}')
    assert kind.event is AgentWebSocketEvents.Welcome
    assert kind.kwarg == "welcome"
    assert message == WelcomeResponse(session_id="abc")


def test_unknown_server_type_is_unhandled_with_raw_text() -> None:
    text = '{"type": "History", "role": "user"}'
    kind, message = decode_server_message(text)
    assert kind.event is AgentWebSocketEvents.Unhandled
    assert message == UnhandledResponse(type="Unhandled", raw=text)


def test_documented_replies_the_seed_could_not_parse_are_events() -> None:
    for wire in ("InstructionsUpdated", "SpeakUpdated", "Warning"):
        kind, _ = decode_server_message(json.dumps({"type": wire}))
        assert kind.event.value == wire


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "", b"\xff\xfe"])
def test_malformed_frames_raise_protocol_error(text: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_server_message(text)
    with pytest.raises(ProtocolError):
        decode_client_message(text)


def test_missing_field_from_server_is_typed() -> None:
    with pytest.raises(MissingFieldError, match="session_id"):
        decode_server_message('{"type": "Welcome"}')


def test_client_messages_decode_pretty_or_compact() -> None:
    pretty = str(SettingsConfigurationOptions())
    assert decode_client_message(pretty) == SettingsConfigurationOptions()
    assert decode_client_message(encode(SettingsConfigurationOptions())) == SettingsConfigurationOptions()
    assert decode_client_message('{"type":"KeepAlive"}') == AgentKeepAlive()
    response = decode_client_message(b'{"type":"FunctionCallResponse","function_call_id":"c","output":"ok"}')
    assert response == FunctionCallResponse(function_call_id="c", output="ok")


def test_unknown_or_missing_client_type_is_rejected() -> None:
    with pytest.raises(UnknownMessageTypeError) as info:
        decode_client_message('{"type": "Dance"}')
    assert info.value.type_name == "Dance"
    with pytest.raises(ProtocolError, match="type"):
        decode_client_message('{"instructions": "x"}')


def test_encode_is_compact() -> None:
    assert encode(AgentKeepAlive()) == '{"type":"KeepAlive"}'


def test_open_and_close_on_the_wire_are_unhandled() -> None:
    for wire in ("Open", "Close"):
        kind, _ = decode_server_message(json.dumps({"type": wire}))
        assert kind.event is AgentWebSocketEvents.Unhandled


def test_deeply_nested_json_is_a_protocol_error() -> None:
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ProtocolError, match="nested"):
        decode_client_message(text)


def test_errors_in_a_known_message_carry_its_type() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_message('{"type": "SettingsConfiguration", "agent": "nope"}')
    assert info.value.message_type == "SettingsConfiguration"
