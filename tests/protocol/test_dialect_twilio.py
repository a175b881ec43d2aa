"""The Twilio Media Streams wire format as pure translation: Twilio's messages in, commands and frames out."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.protocol.twilio_messages import FRAME_BYTES, STREAM_SID, TwilioPeer, media_payload
from voicewire.protocol import agent as a
from voicewire.protocol.dialects.twilio import TwilioMediaStreams

TOKEN = "s3cret-token"
DEFAULT = a.AgentSettings(
    think=a.ThinkSettings(prompt="You answer the phone."),
    speak=(a.SpeakProvider(model="aura-2-thalia-en"),),
    greeting="Hello!",
)
SALES = a.AgentSettings(think=a.ThinkSettings(prompt="You sell."), greeting="Sales, hello!")


def started(
    parameters: dict[str, str] | None = None,
) -> tuple[TwilioMediaStreams, TwilioPeer, a.Command | None]:
    wire, peer = TwilioMediaStreams(TOKEN, DEFAULT, {"sales": SALES}), TwilioPeer()
    assert wire.decode(peer.connected()) is None
    command = wire.decode(peer.start({"token": TOKEN, **(parameters or {})}))
    return wire, peer, command


def frames(encoded: str | bytes | tuple[str | bytes, ...] | None) -> list[dict[str, Any]]:
    if encoded is None:
        return []
    items = (encoded,) if isinstance(encoded, str | bytes) else encoded
    return [json.loads(item) for item in items]


def test_start_configures_the_server_agent_with_twilio_audio() -> None:
    wire, _, command = started()
    assert command == a.Configure(
        a.AgentSettings(
            input=a.AudioFormat("mulaw", 8000),
            output=a.AudioFormat("mulaw", 8000, "none"),
            think=DEFAULT.think,
            speak=DEFAULT.speak,
            greeting="Hello!",
        )
    )
    assert wire.stream_sid == STREAM_SID


def test_the_profile_parameter_picks_an_agent() -> None:
    _, _, command = started({"profile": "sales"})
    assert isinstance(command, a.Configure)
    assert (command.settings.think.prompt, command.settings.greeting) == ("You sell.", "Sales, hello!")


def test_media_is_user_audio_and_marks_dtmf_are_nothing(caplog: pytest.LogCaptureFixture) -> None:
    wire, peer, _ = started()
    audio = bytes(range(FRAME_BYTES))
    assert wire.decode(peer.media(audio)) == a.UserAudio(audio)
    assert wire.decode(peer.mark("reply-1")) is None
    with caplog.at_level(logging.DEBUG):
        assert wire.decode(peer.dtmf("7")) is None
    assert "pressed a key" in caplog.text and "7" not in caplog.text.replace(STREAM_SID, "")


@pytest.mark.parametrize(
    "parameters", [{}, {"token": "wrong"}, {"token": TOKEN[:-1]}, {"token": ""}, {"Token": TOKEN}]
)
def test_a_missing_or_wrong_token_closes_with_policy_violation(
    parameters: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    wire, peer = TwilioMediaStreams(TOKEN, DEFAULT, {}), TwilioPeer()
    wire.decode(peer.connected())
    with caplog.at_level(logging.DEBUG), pytest.raises(a.CloseConnection) as closed:
        wire.decode(peer.start(parameters))
    assert (closed.value.code, closed.value.reason) == (1008, "missing or wrong token")
    assert "wrong token" in caplog.text and TOKEN not in caplog.text
    # Nothing is encoded for a stream that never started.
    assert wire.encode(a.AgentAudio(b"\xff" * 800)) is None


def test_an_unknown_profile_closes_after_the_token_check() -> None:
    wire, peer = TwilioMediaStreams(TOKEN, DEFAULT, {"sales": SALES}), TwilioPeer()
    with pytest.raises(a.CloseConnection) as closed:
        wire.decode(peer.start({"token": TOKEN, "profile": "support"}))
    assert (closed.value.code, closed.value.reason) == (1008, "unknown profile 'support'")


def test_a_media_format_other_than_mulaw_8k_mono_closes() -> None:
    wire, peer = TwilioMediaStreams(TOKEN, DEFAULT, {}), TwilioPeer()
    with pytest.raises(a.CloseConnection) as closed:
        wire.decode(peer.start({"token": TOKEN}, sampleRate=16000))
    assert closed.value.code == 1008 and "mediaFormat" in closed.value.reason


@pytest.mark.parametrize(
    ("frame", "what"),
    [
        (TwilioPeer().media(b"\xff" * FRAME_BYTES), "'media' before start"),
        (TwilioPeer().mark("x"), "'mark' before start"),
        (TwilioPeer().stop(), "'stop' before start"),
        ('{"event": "hello"}', "'hello' before start"),
        ("not json", "not JSON before start"),
        ('["event"]', "without an event before start"),
        (b"\xff" * FRAME_BYTES, "binary frame"),
    ],
)
def test_before_start_anything_but_connected_closes(frame: str | bytes, what: str) -> None:
    wire = TwilioMediaStreams(TOKEN, DEFAULT, {})
    with pytest.raises(a.CloseConnection) as closed:
        wire.decode(frame)
    assert closed.value.code == 1008 and what in closed.value.reason


@pytest.mark.parametrize(
    ("frame", "what"),
    [
        (TwilioPeer().media(b"", payload="not base64!"), "not base64"),
        ('{"event": "media", "media": {}}', "without a payload"),
        (json.dumps({"event": "wave", "streamSid": STREAM_SID}), "unknown event 'wave'"),
        (TwilioPeer(stream_sid="MZother").media(b"\xff"), "for another stream"),
        ("{", "not JSON"),
        (b"\x00\x01", "binary frame"),
        (TwilioPeer().start({"token": TOKEN}), "second start"),
    ],
)
def test_after_start_a_bad_message_is_an_error_and_the_stream_goes_on(frame: str | bytes, what: str) -> None:
    wire, peer, _ = started()
    with pytest.raises(a.CommandError) as problem:
        wire.decode(frame)
    assert problem.value.code is a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE and what in problem.value.description
    assert wire.decode(peer.media(b"\x7f" * 4)) == a.UserAudio(b"\x7f" * 4)


def test_stop_closes_normally() -> None:
    wire, peer, _ = started()
    with pytest.raises(a.CloseConnection) as closed:
        wire.decode(peer.stop())
    assert closed.value.code == 1000


def test_agent_audio_goes_out_in_whole_20_ms_frames_then_a_mark_per_reply() -> None:
    wire, _, _ = started()
    assert wire.encode(a.AgentAudio(b"\x01" * 100)) is None  # less than a frame: held back
    first = frames(wire.encode(a.AgentAudio(b"\x02" * 700)))
    assert [m["event"] for m in first] == ["media"] * 5
    assert all(m["streamSid"] == STREAM_SID for m in first)
    audio = b"".join(media_payload(m) for m in first)
    assert audio == b"\x01" * 100 + b"\x02" * 700
    done = frames(wire.encode(a.AgentAudio(b"\x03" * 10)))
    assert done == []
    tail = frames(wire.encode(a.AgentAudioDone()))
    assert [m["event"] for m in tail] == ["media", "mark"]
    assert media_payload(tail[0]) == b"\x03" * 10 + b"\xff" * (FRAME_BYTES - 10)
    assert tail[1] == {"event": "mark", "streamSid": STREAM_SID, "mark": {"name": "reply-1"}}
    second = frames(wire.encode(a.AgentAudioDone()))
    assert second == [{"event": "mark", "streamSid": STREAM_SID, "mark": {"name": "reply-2"}}]


def test_barge_in_is_a_clear_and_forgets_the_partial_frame() -> None:
    wire, _, _ = started()
    wire.encode(a.AgentAudio(b"\x01" * 100))
    assert frames(wire.encode(a.UserStartedSpeaking())) == [{"event": "clear", "streamSid": STREAM_SID}]
    after = frames(wire.encode(a.AgentAudio(b"\x02" * FRAME_BYTES)))
    assert [media_payload(m) for m in after] == [b"\x02" * FRAME_BYTES]


def test_other_events_send_nothing_and_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    wire, _, _ = started()
    quiet: list[a.Event] = [
        a.Welcome("id"),
        a.SettingsApplied(),
        a.ConversationText("user", "hi"),
        a.AgentStartedSpeaking(0.5, 0.1, 0.4),
        a.FunctionCallStarted("1", "f", "{}", client_side=False),
        a.Warning(a.WarningCode.LANGUAGE_NOT_SUPPORTED, "x"),
    ]
    assert [wire.encode(event) for event in quiet] == [None] * len(quiet)
    with caplog.at_level(logging.INFO):
        assert wire.encode(a.Error(a.ErrorCode.INVALID_SETTINGS, "no such voice")) is None
    assert f"twilio stream {STREAM_SID}: INVALID_SETTINGS: no such voice" in caplog.text


def test_what_a_stranger_sends_is_cut_and_escaped_in_the_close_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wire = TwilioMediaStreams(TOKEN, DEFAULT, {})
    with pytest.raises(a.CloseConnection) as closed:
        wire.decode(json.dumps({"event": "é\n" * 200}))
    reason = closed.value.reason
    assert len(reason.encode()) <= 123 and "\n" not in reason and reason.startswith("'\\xe9\\n")
    with caplog.at_level(logging.INFO), pytest.raises(a.CloseConnection):
        TwilioMediaStreams(TOKEN, DEFAULT, {}).decode(
            json.dumps({"event": "start", "start": {"callSid": "CA\nforged line", "customParameters": {}}})
        )
    assert "forged line" in caplog.text and "\nforged line" not in caplog.text


def test_binary_frames_are_not_audio() -> None:
    wire = TwilioMediaStreams(TOKEN, DEFAULT, {})
    assert not wire.binary_is_audio  # so the connection decodes them: Twilio sends JSON, never binary
    with pytest.raises(a.CloseConnection):
        wire.decode(b"\x01\x02")
