"""Golden JSON and data-bug fixes for the client → server classes."""

import json
from pathlib import Path
from typing import Any

import pytest

from voicewire.protocol import (
    Agent,
    AgentKeepAlive,
    Audio,
    Context,
    Function,
    FunctionCallResponse,
    Header,
    InjectAgentMessageOptions,
    Input,
    Item,
    KeytermsNotSupportedError,
    Listen,
    MissingFieldError,
    Output,
    Parameters,
    Properties,
    Provider,
    SettingsConfigurationOptions,
    Speak,
    Think,
    UpdateInstructionsOptions,
    UpdateSpeakOptions,
    keyterms_supported,
)
from voicewire.protocol.base import InvalidFieldError

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def test_default_settings_text_is_the_seed_sdk_text() -> None:
    assert str(SettingsConfigurationOptions()) == (GOLDEN / "settings_default.json").read_text().rstrip("\n")


def test_default_settings_parse_back_to_the_same_object() -> None:
    text = str(SettingsConfigurationOptions())
    assert SettingsConfigurationOptions.from_json(text) == SettingsConfigurationOptions()
    assert SettingsConfigurationOptions.from_dict(golden("settings_default.json")) == (
        SettingsConfigurationOptions()
    )


def test_official_example_settings_match_golden_json() -> None:
    options = SettingsConfigurationOptions()
    options.agent = Agent(
        listen=Listen(model="nova-3", keyterms=["hello", "goodbye"]),
        think=Think(
            provider=Provider(type="open_ai"),
            model="gpt-4o-mini",
            instructions="You are a helpful AI assistant.",
        ),
    )
    options.context = Context(messages=[("user", "hi"), ("assistant", "hello")], replay=True)
    assert options.to_json() == (GOLDEN / "settings_example.json").read_text().rstrip("\n")


def test_server_side_function_matches_golden_json() -> None:
    think = Think(
        functions=[
            Function(
                name="get_weather",
                description="Get weather",
                url="https://example.com/w",
                method="post",
                headers=[Header(key="authorization", value="Bearer x")],
                parameters=Parameters(
                    type="object",
                    properties=Properties(location=Item(type="string", description="city")),
                    required=["location"],
                ),
            )
        ]
    )
    assert think.to_dict() == golden("think_server_function.json")
    assert Think.from_dict(golden("think_server_function.json")).to_dict() == think.to_dict()


def test_third_party_speak_matches_golden_json() -> None:
    assert Speak(model=None, provider="cartesia", voice_id="abc").to_dict() == golden(
        "speak_third_party.json"
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            UpdateInstructionsOptions(instructions="Be brief."),
            {"type": "UpdateInstructions", "instructions": "Be brief."},
        ),
        (UpdateSpeakOptions(model="aura-luna-en"), {"type": "UpdateSpeak", "model": "aura-luna-en"}),
        (InjectAgentMessageOptions(message="Hello!"), {"type": "InjectAgentMessage", "message": "Hello!"}),
        (
            FunctionCallResponse(function_call_id="call_1", output='{"t": 21}'),
            {"type": "FunctionCallResponse", "function_call_id": "call_1", "output": '{"t": 21}'},
        ),
        (AgentKeepAlive(), {"type": "KeepAlive"}),
        (UpdateInstructionsOptions(), {"type": "UpdateInstructions", "instructions": ""}),
        (
            Output(encoding=None, bitrate=48000),
            {"encoding": None, "sample_rate": 16000, "bitrate": 48000, "container": "none"},
        ),
        (
            Audio(input=Input(encoding="mulaw", sample_rate=8000)),
            {
                "input": {"encoding": "mulaw", "sample_rate": 8000},
                "output": {"encoding": "linear16", "sample_rate": 16000, "container": "none"},
            },
        ),
    ],
)
def test_option_classes_serialise_like_the_seed(obj: Any, expected: dict[str, Any]) -> None:
    assert obj.to_dict() == expected
    assert json.loads(str(obj)) == expected
    assert type(obj).from_dict(expected) == obj


def test_keepalive_is_compact_single_line_json() -> None:
    assert AgentKeepAlive().to_json() == '{"type": "KeepAlive"}'


def test_seed_style_properties_with_item_still_work() -> None:
    params = Parameters("object", Properties(item=Item("string", "city")), ["item"])
    assert params.to_dict()["properties"] == {"item": {"type": "string", "description": "city"}}


def test_parameters_properties_is_a_real_json_schema_map() -> None:
    schema = {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "city"},
            "unit": {"type": "string", "enum": ["c", "f"]},
        },
        "required": ["location"],
    }
    assert Parameters.from_dict(schema).to_dict() == schema


def test_client_side_function_needs_no_url_or_method() -> None:
    function = Function.from_dict({"name": "lookup", "description": "Look up an order"})
    assert function.client_side
    assert function.to_dict() == {"name": "lookup", "description": "Look up an order"}
    assert Function("lookup", "x", "", "").client_side
    assert not Function("lookup", "x", "https://api.example.com", "post").client_side


def test_function_without_name_names_the_missing_field() -> None:
    with pytest.raises(MissingFieldError) as info:
        Function.from_dict({"description": "nameless"})
    assert info.value.field_name == "name"
    assert "Function" in str(info.value) and "'name'" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_context_messages_keep_pairs_and_objects_intact() -> None:
    data = {
        "messages": [{"role": "user", "content": "hi"}, ["assistant", "hello"]],
        "replay": True,
    }
    context = Context.from_dict(data)
    assert context.turns() == [("user", "hi"), ("assistant", "hello")]
    assert context.to_dict() == data
    settings = SettingsConfigurationOptions.from_json(
        json.dumps({"type": "SettingsConfiguration", "context": data})
    )
    assert settings.context is not None and settings.context.turns()[0] == ("user", "hi")


def test_context_rejects_a_message_that_is_neither_pair_nor_object() -> None:
    with pytest.raises(InvalidFieldError, match=r"messages\[0\]"):
        Context.from_dict({"messages": ["just text"]})


def test_unknown_keys_survive_dict_and_json_round_trips() -> None:
    data = {
        "type": "SettingsConfiguration",
        "experimental": True,
        "agent": {
            "greeting": "Hello there!",
            "think": {"provider": {"type": "custom", "url": "http://llm.local/v1", "key": "k"}, "model": "m"},
        },
    }
    settings = SettingsConfigurationOptions.from_dict(data)
    out = json.loads(settings.to_json())
    assert out["experimental"] is True
    assert out["agent"]["greeting"] == "Hello there!"
    assert out["agent"]["think"]["provider"] == {"type": "custom", "url": "http://llm.local/v1", "key": "k"}
    assert SettingsConfigurationOptions.from_json(settings.to_json()) == settings


def test_wrongly_typed_field_gets_a_clear_error() -> None:
    with pytest.raises(InvalidFieldError, match="sample_rate"):
        SettingsConfigurationOptions.from_dict({"audio": {"input": {"sample_rate": "fast"}}})
    with pytest.raises(InvalidFieldError, match="Agent"):
        SettingsConfigurationOptions.from_dict({"agent": "nope"})


@pytest.mark.parametrize(
    "model",
    [
        "nova-2",
        "nova-2-phonecall",
        "nova",
        "nova-general",
        "enhanced",
        "enhanced-meeting",
        "base",
        "base-phonecall",
    ],
)
def test_keyterms_rejected_for_models_that_cannot_take_them(model: str) -> None:
    assert not keyterms_supported(model)
    options = SettingsConfigurationOptions(agent=Agent(listen=Listen(model=model, keyterms=["voicewire"])))
    with pytest.raises(KeytermsNotSupportedError, match=model):
        options.check()


@pytest.mark.parametrize("model", ["nova-3", "nova-3-medical", "whisper-tiny.en", "base.en", "my-model"])
def test_keyterms_allowed_for_any_other_model(model: str) -> None:
    assert keyterms_supported(model)
    options = SettingsConfigurationOptions(agent=Agent(listen=Listen(model=model, keyterms=["voicewire"])))
    assert options.check()


def test_item_access_and_eval_follow_the_seed() -> None:
    settings = SettingsConfigurationOptions.from_json((GOLDEN / "settings_example.json").read_text())
    assert settings["type"] == "SettingsConfiguration"
    assert settings.eval("agent.think.model") == "gpt-4o-mini"
    assert settings.eval("agent.listen.keyterms.1") == "goodbye"
    assert settings.eval("agent.missing") == ""
    settings["type"] = "Other"
    assert settings.type == "Other"
