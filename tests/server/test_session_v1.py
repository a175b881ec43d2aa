"""A v1 client on the virtual timeline: greeting, text turns, updates, history, function calls, errors."""

from __future__ import annotations

import copy
from typing import Any

from tests.server.timeline import TEST_TURNS, V1_SETTINGS, WEATHER_CALL, Timeline, VirtualClock, speech
from voicewire.engines.scripted import ScriptedLlm
from voicewire.protocol.dialects import V1
from voicewire.server import ServerConfig, State

BRACKET = ["ConversationText", "AgentStartedSpeaking", "<audio>", "AgentAudioDone"]
WEATHER_FUNCTION = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def settings(**agent: Any) -> dict[str, Any]:
    data = copy.deepcopy(V1_SETTINGS)
    data["agent"].update(agent)
    return data


def v1_timeline(**kwargs: Any) -> Timeline:
    return Timeline(wire=V1(), **kwargs)


async def test_the_greeting_is_spoken_first_and_enters_the_history() -> None:
    async with v1_timeline() as t:
        await t.send(settings(greeting="Hello, how can I help?"))
        await t.clock.advance(1.0)
        assert t.summary == ["Welcome", "SettingsApplied", *BRACKET, "History"]
        assert t.messages[0] == {"type": "Welcome", "request_id": "test"}
        assert t.of_type("ConversationText") == [
            {"type": "ConversationText", "role": "assistant", "content": "Hello, how can I help?"}
        ]
        assert t.of_type("History") == [
            {"type": "History", "role": "assistant", "content": "Hello, how can I help?"}
        ]
        assert t.history() == [("assistant", "Hello, how can I help?")]
        assert t.session.state is State.LISTENING


async def test_a_spoken_turn_sends_history_for_both_sides() -> None:
    async with v1_timeline() as t:
        await t.send(settings())
        await t.say(0.5, pause=0.5)
        await t.quiet(1.0)
        assert t.summary == [
            "Welcome",
            "SettingsApplied",
            "UserStartedSpeaking",
            "ConversationText",
            "History",
            *BRACKET,
            "History",
        ]
        assert [(m["role"], m["content"]) for m in t.of_type("History")] == [
            ("user", "hello there"),
            ("assistant", "You said: hello there."),
        ]


async def test_flags_history_false_sends_no_history() -> None:
    async with v1_timeline() as t:
        await t.send({**settings(greeting="Hi."), "flags": {"history": False}})
        await t.say(0.5, pause=0.5)
        await t.quiet(1.0)
        assert t.of_type("History") == []
        assert t.history() == [
            ("assistant", "Hi."),
            ("user", "hello there"),
            ("assistant", "You said: hello there."),
        ]


async def test_inject_user_message_is_a_turn_without_stt() -> None:
    async with v1_timeline() as t:
        await t.send(settings())
        mark = t.mark()
        await t.send({"type": "InjectUserMessage", "content": "The capital of France?"})
        await t.clock.advance(1.0)
        assert t.since(mark) == ["ConversationText", "History", *BRACKET, "History"]
        assert t.stt.utterances == []
        assert [m["content"] for m in t.of_type("ConversationText")] == [
            "The capital of France?",
            "You said: The capital of France?.",  # the scripted LLM's echo, short enough for one piece
        ]
        assert t.session.metrics[-1].kind == "text"


async def test_inject_user_message_cuts_a_reply_short_but_not_the_user() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm(token_delay=0.2, sleep=clock.sleep)
    async with v1_timeline(clock=clock, llm=llm) as t:
        await t.send(settings())
        await t.send({"type": "InjectUserMessage", "content": "one two three four five six"})
        await t.clock.advance(0.5)
        assert t.session.state is State.THINKING
        await t.send({"type": "InjectUserMessage", "content": "never mind"})
        await t.clock.advance(3.0)
        assert [m["content"] for m in t.of_type("ConversationText") if m["role"] == "user"] == [
            "one two three four five six",
            "never mind",
        ]
        await t.feed(speech(0.3))
        await t.send({"type": "InjectUserMessage", "content": "too late"})
        (refused,) = t.of_type("InjectionRefused")
        assert refused["message"].startswith("The user is speaking")


async def test_client_side_function_round_trip_in_v1_shapes() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([["Let me check.", WEATHER_CALL], ["It is sunny in Paris."]], sleep=clock.sleep)
    async with v1_timeline(clock=clock, llm=llm) as t:
        await t.send(settings(think={"provider": {"type": "open_ai"}, "functions": [WEATHER_FUNCTION]}))
        await t.send({"type": "InjectUserMessage", "content": "Weather in Paris?"})
        await t.clock.advance(0.5)
        (request,) = t.of_type("FunctionCallRequest")
        assert request == {
            "type": "FunctionCallRequest",
            "functions": [
                {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}', "client_side": True}
            ],
        }
        await t.send(
            {"type": "FunctionCallResponse", "id": "call_1", "name": "get_weather", "content": "sunny"}
        )
        await t.clock.advance(1.0)
        assert t.of_type("Error") == []
        assert t.of_type("ConversationText")[-1]["content"] == "It is sunny in Paris."
        calls = [m for m in t.of_type("History") if "function_calls" in m]
        assert calls == [
            {
                "type": "History",
                "function_calls": [
                    {
                        "id": "call_1",
                        "name": "get_weather",
                        "client_side": True,
                        "arguments": '{"city": "Paris"}',
                        "response": "sunny",
                    }
                ],
            }
        ]


async def test_updates_are_acknowledged_in_v1_terms() -> None:
    async with v1_timeline() as t:
        await t.send(settings(think={"prompt": "Be brief."}))
        await t.send({"type": "UpdatePrompt", "prompt": "Speak French."})
        await t.send(
            {
                "type": "UpdateSpeak",
                "speak": {"provider": {"type": "deepgram", "model": "aura-2-andromeda-en"}},
            }
        )
        await t.send({"type": "UpdateThink", "think": {"prompt": "Be kind."}})
        await t.send(
            {"type": "UpdateListen", "listen": {"provider": {"type": "deepgram", "model": "nova-3"}}}
        )
        assert t.summary[2:] == ["PromptUpdated", "SpeakUpdated", "ThinkUpdated", "ListenUpdated"]
        assert t.session.instructions == "Be kind."


async def test_a_client_mistake_gets_description_and_code_and_the_session_goes_on() -> None:
    async with v1_timeline() as t:
        await t.send(settings())
        await t.send({"type": "UpdateSpeak", "speak": {"provider": {"model": "no-such-voice"}}})
        await t.send({"type": "Bogus"})
        await t.send("{not json")
        errors = t.of_type("Error")
        assert [e["code"] for e in errors] == [
            "INVALID_SETTINGS",
            "UNPARSABLE_CLIENT_MESSAGE",
            "UNPARSABLE_CLIENT_MESSAGE",
        ]
        assert all(set(e) == {"type", "description", "code"} for e in errors)
        await t.say(0.5, pause=0.5)
        await t.quiet(1.0)
        assert t.of_type("AgentAudioDone")


async def test_early_access_settings_on_the_v1_path_name_the_right_path() -> None:
    async with v1_timeline() as t:
        await t.send({"type": "SettingsConfiguration"})
        (error,) = t.of_type("Error")
        assert "/agent" in error["description"]
        assert t.session.state is State.AWAITING_SETTINGS
        await t.send(settings())
        assert t.summary[-1] == "SettingsApplied"


async def test_another_language_gets_a_warning_in_english() -> None:
    async with v1_timeline() as t:
        await t.send(settings(language="es"))
        assert t.summary == ["Welcome", "SettingsApplied", "Warning"]
        assert t.of_type("Warning")[0]["code"] == "LANGUAGE_NOT_SUPPORTED"


async def test_an_unconfigured_provider_falls_back_with_a_warning() -> None:
    async with v1_timeline() as t:
        await t.send(settings(think={"provider": {"type": "open_ai", "model": "gpt-4o-mini"}}))
        assert t.summary == ["Welcome", "SettingsApplied", "Warning"]
        (warning,) = t.of_type("Warning")
        assert warning["code"] == "PROVIDER_FALLBACK" and "open_ai" in warning["description"]
        await t.send({"type": "UpdateThink", "think": {"provider": {"type": "anthropic"}}})
        assert t.summary[-2:] == ["ThinkUpdated", "Warning"]


async def test_a_think_endpoint_off_the_allowlist_is_refused() -> None:
    async with v1_timeline() as t:
        think = {
            "provider": {"type": "open_ai"},
            "endpoint": {"url": "http://169.254.169.254/v1/chat/completions"},
        }
        await t.send(settings(think=think))
        (error,) = t.of_type("Error")
        assert error["code"] == "INVALID_SETTINGS" and "allowlist" in error["description"]
        assert t.session.state is State.AWAITING_SETTINGS


async def test_context_messages_seed_the_history_with_function_calls() -> None:
    call = {"id": "c0", "name": "get_weather", "client_side": True, "arguments": "{}", "response": "rain"}
    context = {
        "messages": [
            {"type": "History", "role": "user", "content": "Hi"},
            {"type": "History", "function_calls": [call]},
        ]
    }
    async with v1_timeline() as t:
        await t.send(settings(context=context))
        history = t.session.history
        assert [(m.role, m.content) for m in history] == [("user", "Hi"), ("assistant", ""), ("tool", "rain")]
        assert history[1].tool_calls[0].name == "get_weather"
        assert history[2].tool_call_id == "c0"


async def test_the_history_keeps_only_the_newest_messages() -> None:
    async with v1_timeline(config=ServerConfig(turns=TEST_TURNS, max_history_messages=5)) as t:
        await t.send(settings())
        for n in range(6):
            await t.send({"type": "InjectUserMessage", "content": f"question {n}"})
            await t.clock.advance(1.0)
        assert len(t.session.history) <= 5
        assert t.history()[0] == ("user", "question 4")  # it starts at a user message
        assert t.history()[-1][0] == "assistant"


async def test_the_agent_says_and_shows_replies_without_markup() -> None:
    llm = ScriptedLlm([["**Sure!** #StayCalm"]])
    async with v1_timeline(llm=llm) as t:
        await t.send(settings())
        await t.send({"type": "InjectUserMessage", "content": "Tell me."})
        await t.clock.advance(1.0)
        assert t.of_type("ConversationText")[-1]["content"] == "Sure! Stay Calm"
        assert t.tts.requests[-1][0] == "Sure! Stay Calm"
