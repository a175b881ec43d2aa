"""The v1 dialect: what the official clients send decodes to the right commands, and every event voicewire
sends has its golden JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicewire.protocol import agent as a
from voicewire.protocol.dialects import V1

GOLDEN = Path(__file__).parent / "golden" / "v1"
PARAMETERS = {
    "type": "object",
    "properties": {"location": {"type": "string", "description": "The city, for example Paris"}},
    "required": ["location"],
}
RECORDED = a.AgentSettings(
    input=a.AudioFormat("linear16", 16000),
    output=a.AudioFormat("linear16", 16000, "none"),
    listen=a.ListenSettings(provider="deepgram", model="nova-3"),
    think=a.ThinkSettings(
        providers=(a.ThinkProvider(type="open_ai", model="gpt-4o-mini"),),
        prompt="You are a helpful voice assistant. Answer in one short sentence.",
        functions=(a.FunctionSpec("get_weather", "Get the current weather for a city.", PARAMETERS),),
    ),
    speak=(a.SpeakProvider(type="deepgram", model="aura-2-thalia-en"),),
    greeting="Hello! How can I help?",
    history=True,
)


def decode(message: dict[str, object] | str) -> a.Command | None:
    return V1().decode(message if isinstance(message, str) else json.dumps(message))


@pytest.mark.parametrize("client", ["py4", "py7", "js"])
def test_the_recorded_settings_of_each_official_client_decode_alike(client: str) -> None:
    command = decode((GOLDEN / f"settings_{client}.json").read_text())
    assert isinstance(command, a.Configure)
    # 4.8.1 always sends agent.language "en"; the others send none.
    expected = RECORDED if client != "py4" else a.AgentSettings(**{**RECORDED.__dict__, "language": "en"})
    assert command.settings == expected
    (function,) = command.settings.think.functions
    assert function.client_side  # 4.8.1's "url": "" and "method": "" mean no endpoint


def test_a_function_endpoint_makes_it_server_side_with_its_headers() -> None:
    function = {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {}},
        "endpoint": {
            "url": "http://127.0.0.1:9/x",
            "method": "get",
            "headers": {"authorization": "Bearer k"},
        },
    }
    command = decode({"type": "Settings", "agent": {"think": {"functions": [function]}}})
    assert isinstance(command, a.Configure)
    (spec,) = command.settings.think.functions
    assert spec.endpoint == a.Endpoint("http://127.0.0.1:9/x", "get", {"authorization": "Bearer k"})


def test_think_and_speak_lists_are_fallbacks_in_order() -> None:
    command = decode(
        {
            "type": "Settings",
            "agent": {
                "think": [
                    {"provider": {"type": "anthropic", "model": "claude"}, "prompt": "Be brief."},
                    {"provider": {"type": "open_ai", "model": "gpt-4o-mini", "temperature": 1}},
                ],
                "speak": [
                    {"provider": {"type": "eleven_labs", "model_id": "eleven_turbo_v2_5"}},
                    {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
                ],
            },
        }
    )
    assert isinstance(command, a.Configure)
    think = command.settings.think
    assert [(p.type, p.model, p.temperature) for p in think.providers] == [
        ("anthropic", "claude", None),
        ("open_ai", "gpt-4o-mini", 1.0),
    ]
    assert think.prompt == "Be brief."
    assert [p.model for p in command.settings.speak] == ["eleven_turbo_v2_5", "aura-2-thalia-en"]


def test_context_messages_and_flags_decode() -> None:
    call = {
        "id": "c1",
        "name": "get_weather",
        "client_side": False,
        "arguments": '{"city":"Paris"}',
        "response": "sunny",
    }
    command = decode(
        {
            "type": "Settings",
            "flags": {"history": False},
            "agent": {
                "context": {
                    "messages": [
                        {"type": "History", "role": "user", "content": "Hi"},
                        {"type": "History", "function_calls": [call]},
                    ]
                }
            },
        }
    )
    assert isinstance(command, a.Configure)
    assert command.settings.history is False
    assert command.settings.context == (
        a.HistoryItem("user", "Hi"),
        a.HistoryItem(
            function_calls=(a.FunctionCallRecord("c1", "get_weather", '{"city":"Paris"}', "sunny", False),)
        ),
    )


@pytest.mark.parametrize(
    ("message", "command"),
    [
        ({"type": "UpdatePrompt", "prompt": "Be terse."}, a.UpdatePrompt("Be terse.")),
        (
            {
                "type": "UpdateSpeak",
                "speak": {"provider": {"type": "deepgram", "model": "aura-2-andromeda-en"}},
            },
            a.UpdateSpeak((a.SpeakProvider("deepgram", "aura-2-andromeda-en"),)),
        ),
        (  # a bare provider object
            {"type": "UpdateSpeak", "speak": {"type": "deepgram", "model": "aura-2-andromeda-en"}},
            a.UpdateSpeak((a.SpeakProvider("deepgram", "aura-2-andromeda-en"),)),
        ),
        (
            {
                "type": "UpdateSpeak",
                "speak": [{"provider": {"model": "joe"}}, {"provider": {"model": "en-us"}}],
            },
            a.UpdateSpeak((a.SpeakProvider(model="joe"), a.SpeakProvider(model="en-us"))),
        ),
        (
            {"type": "UpdateThink", "think": {"provider": {"type": "open_ai", "model": "m"}, "prompt": "p"}},
            a.UpdateThink(a.ThinkSettings((a.ThinkProvider("open_ai", "m"),), prompt="p")),
        ),
        (
            {
                "type": "UpdateListen",
                "listen": {"provider": {"type": "deepgram", "model": "nova-3", "keyterms": ["Paris"]}},
            },
            a.UpdateListen(a.ListenSettings("deepgram", "nova-3", ("Paris",))),
        ),
        ({"type": "InjectAgentMessage", "message": "One moment."}, a.InjectAgentText("One moment.")),
        ({"type": "InjectAgentMessage", "content": "One moment."}, a.InjectAgentText("One moment.")),
        ({"type": "InjectUserMessage", "content": "What time is it?"}, a.InjectUserText("What time is it?")),
        (
            {"type": "FunctionCallResponse", "id": "c1", "name": "get_weather", "content": '{"t": 21}'},
            a.FunctionResult("c1", '{"t": 21}', "get_weather"),
        ),
        (  # content given as an object becomes JSON text, not a repr
            {"type": "FunctionCallResponse", "id": "c1", "content": {"t": 21}},
            a.FunctionResult("c1", '{"t": 21}'),
        ),
        ({"type": "KeepAlive"}, a.KeepAlive()),
    ],
)
def test_client_messages_decode(message: dict[str, object], command: a.Command) -> None:
    assert decode(message) == command


def test_binary_frames_are_audio_and_an_empty_one_is_nothing() -> None:
    assert V1().decode(b"\x01\x02") == a.UserAudio(b"\x01\x02")
    assert V1().decode(b"") is None  # what @deepgram/sdk's keepAlive() without an argument sends


@pytest.mark.parametrize(
    ("message", "code", "mentions"),
    [
        ({"type": "SettingsConfiguration"}, "UNPARSABLE_CLIENT_MESSAGE", "/agent"),
        ({"type": "Nope"}, "UNPARSABLE_CLIENT_MESSAGE", "'Nope'"),
        ({"prompt": "x"}, "UNPARSABLE_CLIENT_MESSAGE", "type"),
        (
            {"type": "Settings", "audio": {"input": {"sample_rate": "fast"}}},
            "INVALID_SETTINGS",
            "sample_rate",
        ),
        ({"type": "Settings", "agent": {"think": []}}, "INVALID_SETTINGS", "agent.think"),
        (
            {"type": "Settings", "agent": {"context": {"messages": [{"role": "x"}]}}},
            "INVALID_SETTINGS",
            "messages[0]",
        ),
        ({"type": "UpdatePrompt"}, "UNPARSABLE_CLIENT_MESSAGE", "prompt"),
        ({"type": "UpdateSpeak"}, "UNPARSABLE_CLIENT_MESSAGE", "speak"),
        ({"type": "InjectUserMessage", "content": 3}, "UNPARSABLE_CLIENT_MESSAGE", "content"),
        ({"type": "FunctionCallResponse", "id": "c1"}, "UNPARSABLE_CLIENT_MESSAGE", "content"),
        ('{"type": "KeepAlive", "n": ' + "9" * 5000 + "}", "UNPARSABLE_CLIENT_MESSAGE", "JSON"),
        ("[1, 2]", "UNPARSABLE_CLIENT_MESSAGE", "object"),
    ],
)
def test_client_mistakes_are_command_errors(
    message: dict[str, object] | str, code: str, mentions: str
) -> None:
    with pytest.raises(a.CommandError) as caught:
        decode(message)
    assert caught.value.code == code
    assert mentions in caught.value.description


CALL = a.FunctionCallRecord("c1", "get_weather", '{"city":"Paris"}', "sunny", client_side=True)


@pytest.mark.parametrize(
    ("event", "golden"),
    [
        (a.Welcome("s-1"), '{"type":"Welcome","request_id":"s-1"}'),
        (a.SettingsApplied(), '{"type":"SettingsApplied"}'),
        (a.ConversationText("user", "Hi"), '{"type":"ConversationText","role":"user","content":"Hi"}'),
        (a.UserStartedSpeaking(), '{"type":"UserStartedSpeaking"}'),
        (
            a.FunctionCallStarted("c1", "get_weather", '{"city":"Paris"}', client_side=True),
            '{"type":"FunctionCallRequest","functions":[{"id":"c1","name":"get_weather",'
            '"arguments":"{\\"city\\":\\"Paris\\"}","client_side":true}]}',
        ),
        (
            a.FunctionCallFinished("c1", "get_weather", "sunny"),
            '{"type":"FunctionCallResponse","id":"c1","name":"get_weather","content":"sunny"}',
        ),
        (
            a.AgentStartedSpeaking(0.5, 0.25, 0.125),
            '{"type":"AgentStartedSpeaking","total_latency":0.5,"tts_latency":0.25,"ttt_latency":0.125}',
        ),
        (a.AgentAudioDone(), '{"type":"AgentAudioDone"}'),
        (a.PromptUpdated(), '{"type":"PromptUpdated"}'),
        (a.SpeakUpdated(), '{"type":"SpeakUpdated"}'),
        (a.ThinkUpdated(), '{"type":"ThinkUpdated"}'),
        (a.ListenUpdated(), '{"type":"ListenUpdated"}'),
        (a.InjectionRefused("busy"), '{"type":"InjectionRefused","message":"busy"}'),
        (
            a.HistoryAdded(a.HistoryItem("assistant", "Hi")),
            '{"type":"History","role":"assistant","content":"Hi"}',
        ),
        (
            a.HistoryAdded(a.HistoryItem(function_calls=(CALL,))),
            '{"type":"History","function_calls":[{"id":"c1","name":"get_weather","client_side":true,'
            '"arguments":"{\\"city\\":\\"Paris\\"}","response":"sunny"}]}',
        ),
        (
            a.Warning(a.WarningCode.LANGUAGE_NOT_SUPPORTED, "English only"),
            '{"type":"Warning","description":"English only","code":"LANGUAGE_NOT_SUPPORTED"}',
        ),
        (
            a.Error(a.ErrorCode.INVALID_SETTINGS, "bad"),
            '{"type":"Error","description":"bad","code":"INVALID_SETTINGS"}',
        ),
        (a.AgentAudio(b"\x00\x01"), b"\x00\x01"),
    ],
)
def test_events_encode_to_their_golden_json(event: a.Event, golden: str | bytes) -> None:
    assert V1().encode(event) == golden
