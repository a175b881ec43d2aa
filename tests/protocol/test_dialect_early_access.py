"""The early-access dialect: the exact bytes 3.11 clients were written against, and nothing they lack."""

from __future__ import annotations

import pytest

from voicewire.protocol import SettingsConfigurationOptions
from voicewire.protocol import agent as a
from voicewire.protocol.dialects import EarlyAccess


@pytest.mark.parametrize(
    ("event", "golden"),
    [
        (a.Welcome("s-1"), '{"type":"Welcome","session_id":"s-1"}'),
        (a.SettingsApplied(), '{"type":"SettingsApplied"}'),
        (a.ConversationText("user", "Hi"), '{"type":"ConversationText","role":"user","content":"Hi"}'),
        (a.UserStartedSpeaking(), '{"type":"UserStartedSpeaking"}'),
        (
            a.FunctionCallStarted("c1", "get_weather", "{}", client_side=True),
            '{"type":"FunctionCallRequest","function_name":"get_weather","function_call_id":"c1","input":"{}"}',
        ),
        (
            a.FunctionCallStarted("c1", "get_weather", "{}", client_side=False),
            '{"type":"FunctionCalling","function_name":"get_weather","function_call_id":"c1"}',
        ),
        (
            a.AgentStartedSpeaking(0.5, 0.25, 0.125),
            '{"type":"AgentStartedSpeaking","total_latency":0.5,"tts_latency":0.25,"ttt_latency":0.125}',
        ),
        (a.AgentAudioDone(), '{"type":"AgentAudioDone"}'),
        (a.PromptUpdated(), '{"type":"InstructionsUpdated"}'),
        (a.SpeakUpdated(), '{"type":"SpeakUpdated"}'),
        (a.InjectionRefused("the user is speaking"), '{"type":"InjectionRefused"}'),
        (
            a.Error(a.ErrorCode.INVALID_SETTINGS, "bad"),
            '{"description":"bad","message":"bad","type":"Error","code":"INVALID_SETTINGS"}',
        ),
        (a.AgentAudio(b"\x00\x01"), b"\x00\x01"),
    ],
)
def test_events_encode_as_before(event: a.Event, golden: str | bytes) -> None:
    assert EarlyAccess().encode(event) == golden


@pytest.mark.parametrize(
    "event",
    [
        a.Warning(a.WarningCode.AUDIO_BUFFER_OVERFLOW, "x"),
        a.HistoryAdded(a.HistoryItem("user", "Hi")),
        a.FunctionCallFinished("c1", "f", "r"),
        a.ThinkUpdated(),
        a.ListenUpdated(),
    ],
)
def test_events_without_an_early_access_message_are_not_sent(event: a.Event) -> None:
    assert EarlyAccess().encode(event) is None


def test_settings_map_onto_the_neutral_model() -> None:
    options = SettingsConfigurationOptions.from_dict(
        {
            "type": "SettingsConfiguration",
            "audio": {"input": {"encoding": "mulaw", "sample_rate": 8000}},
            "agent": {
                "listen": {"model": "nova-3", "keyterms": ["Paris"]},
                "think": {
                    "provider": {"type": "open_ai"},
                    "model": "gpt-4o-mini",
                    "instructions": "Be brief.",
                    "functions": [
                        {"name": "ask", "description": "client side"},
                        {
                            "name": "lookup",
                            "url": "http://127.0.0.1:9/x",
                            "method": "get",
                            "headers": [{"key": "authorization", "value": "Bearer k"}],
                        },
                    ],
                },
                "speak": {"model": "aura-asteria-en"},
            },
            "context": {
                "messages": [{"role": "user", "content": "Hi"}, ["assistant", "Hello"]],
                "replay": True,
            },
        }
    )
    command = EarlyAccess().decode(str(options))
    assert isinstance(command, a.Configure)
    settings = command.settings
    assert settings.input == a.AudioFormat("mulaw", 8000)
    assert settings.listen == a.ListenSettings(model="nova-3", keyterms=("Paris",))
    assert settings.think.providers == (a.ThinkProvider("open_ai", "gpt-4o-mini"),)
    assert settings.think.prompt == "Be brief."
    ask, lookup = settings.think.functions
    assert ask.client_side and not lookup.client_side
    assert lookup.endpoint == a.Endpoint("http://127.0.0.1:9/x", "get", {"authorization": "Bearer k"})
    assert settings.speak == (a.SpeakProvider(model="aura-asteria-en"),)
    assert settings.context == (a.HistoryItem("user", "Hi"), a.HistoryItem("assistant", "Hello"))
    assert settings.replay and not settings.history


@pytest.mark.parametrize(
    ("text", "code", "mentions"),
    [
        ('{"type": "Settings"}', "UNPARSABLE_CLIENT_MESSAGE", "/v1/agent/converse"),
        ('{"type": "SettingsConfiguration", "agent": 3}', "INVALID_SETTINGS", "Agent"),
        ('{"type": "UpdateSpeak", "model": null}', "UNPARSABLE_CLIENT_MESSAGE", "model"),
        ("not json", "UNPARSABLE_CLIENT_MESSAGE", "JSON"),
    ],
)
def test_client_mistakes_are_command_errors(text: str, code: str, mentions: str) -> None:
    with pytest.raises(a.CommandError) as caught:
        EarlyAccess().decode(text)
    assert caught.value.code == code
    assert mentions in caught.value.description
