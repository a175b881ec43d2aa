from __future__ import annotations

import asyncio
import json
import time

import pytest

from voicewire.engines.base import ChatMessage, LanguageModel, LlmEvent, TextDelta, ToolCall, ToolSpec
from voicewire.engines.llm_llamacpp import LlamaCppLlm, relevant_tools, render_messages
from voicewire.server.limits import instructions_problem, result_chars

SYSTEM = ChatMessage(
    "system",
    "You are a friendly phone customer-service agent for Acme Internet. "
    "Answer in one or two short spoken sentences. Do not use lists or markdown.",
)
WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather for a city.",
    {"type": "object", "properties": {"location": {"type": "string", "description": "City name"}}},
)
ORDER = ToolSpec(
    "check_order",
    "Look up the delivery status of an order.",
    {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
)


async def collect(llm: LanguageModel, messages: list[ChatMessage], tools: list[ToolSpec]) -> list[LlmEvent]:
    return [event async for event in llm.stream(messages, tools=tools)]


def test_functions_are_chosen_by_the_words_of_the_request() -> None:
    tools = [WEATHER, ORDER]
    assert relevant_tools("What's the weather in Paris?", tools) == [WEATHER]
    assert relevant_tools("Where is my order 12345?", tools) == [ORDER]
    assert relevant_tools("Are my orders delivered yet?", tools) == [ORDER]
    assert relevant_tools("Hi, how are you?", tools) == []
    assert relevant_tools("Can you check that for me?", tools) == []  # generic verbs say nothing
    assert relevant_tools("What's the weather like? The city is Rome.", [ORDER, WEATHER]) == [WEATHER]


def test_calls_and_results_are_spelled_out_in_the_prompt() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments='{"location": "Paris"}')
    prompt = render_messages(
        [
            SYSTEM,
            ChatMessage("user", "Weather in Paris?"),
            ChatMessage("assistant", "", tool_calls=[call]),
            ChatMessage("tool", '{"condition": "sunny"}', tool_call_id="call_1"),
        ],
        [WEATHER],
    )
    assert [message["role"] for message in prompt] == ["system", "user", "assistant", "tool"]
    assert prompt[0]["content"].startswith(SYSTEM.content) and "- get_weather:" in prompt[0]["content"]
    assert json.loads(prompt[2]["content"]) == {"function": "get_weather", "arguments": {"location": "Paris"}}
    assert prompt[3]["content"] == 'get_weather returned: {"condition": "sunny"}'


@pytest.mark.models
async def test_streams_a_reply(smollm2: LlamaCppLlm) -> None:
    events = await collect(smollm2, [SYSTEM, ChatMessage("user", "Hello! Who am I speaking with?")], [])
    assert events and all(isinstance(event, TextDelta) for event in events)
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert len(text.split()) >= 3
    assert "{" not in text and "`" not in text


@pytest.mark.models
async def test_closing_mid_stream_stops_generation(smollm2: LlamaCppLlm) -> None:
    stream = smollm2.stream([SYSTEM, ChatMessage("user", "Tell me a long story about a dragon.")])
    received = 0
    async for _ in stream:
        received += 1
        if received == 3:
            break
    started = time.perf_counter()
    await stream.aclose()
    assert time.perf_counter() - started < 0.2  # one token is about 10 ms
    assert not smollm2.busy


@pytest.mark.models
async def test_weather_request_becomes_a_tool_call_and_its_result_a_reply(smollm2: LlamaCppLlm) -> None:
    request = [SYSTEM, ChatMessage("user", "What's the weather in Paris?")]
    events = await collect(smollm2, request, [WEATHER, ORDER])
    assert len(events) == 1 and isinstance(events[0], ToolCall)
    call = events[0]
    assert call.name == "get_weather"
    assert "paris" in json.loads(call.arguments)["location"].lower()

    answered = [
        *request,
        ChatMessage("assistant", "", tool_calls=[call]),
        ChatMessage("tool", json.dumps({"temperature_c": 18, "condition": "sunny"}), tool_call_id=call.id),
    ]
    reply = await collect(smollm2, answered, [WEATHER, ORDER])
    assert reply and all(isinstance(event, TextDelta) for event in reply)
    assert "".join(event.text for event in reply if isinstance(event, TextDelta)).strip()


@pytest.mark.models
async def test_concurrent_sessions_take_turns_on_the_model(smollm2: LlamaCppLlm) -> None:
    async def reply(question: str) -> str:
        events = await collect(smollm2, [SYSTEM, ChatMessage("user", question)], [])
        return "".join(event.text for event in events if isinstance(event, TextDelta))

    first, second = await asyncio.gather(reply("Hi there!"), reply("Good morning!"))
    assert first.strip() and second.strip()
    assert not smollm2.busy


@pytest.mark.models
async def test_a_conversation_longer_than_the_context_still_gets_a_reply(smollm2: LlamaCppLlm) -> None:
    turn = "Please tell me again about the different internet plans and what each of them costs per month. "
    history = [
        ChatMessage("user" if index % 2 == 0 else "assistant", turn * 3) for index in range(40)
    ]  # about 3,000 tokens against a 2,048-token context
    events = await collect(smollm2, [SYSTEM, *history, ChatMessage("user", "Thanks! Goodbye.")], [])
    assert any(isinstance(event, TextDelta) and event.text.strip() for event in events)


@pytest.mark.models
async def test_a_reply_written_again_starts_differently_and_keeps_unspeakable_tokens_banned(
    smollm2: LlamaCppLlm,
) -> None:
    messages = [SYSTEM, ChatMessage("user", "Establish justice.")]
    first = "".join(e.text for e in await collect(smollm2, messages, []) if isinstance(e, TextDelta))
    again = [e async for e in smollm2.stream_again(messages, avoid=[first], attempt=1)]
    text = "".join(e.text for e in again if isinstance(e, TextDelta))
    assert text.split() and first.split()
    assert text.split()[0] != first.split()[0]
    assert "{" not in text and "`" not in text


def test_the_context_and_token_count_that_bound_instructions_and_results(smollm2: LlamaCppLlm) -> None:
    assert smollm2.context_tokens == 2048
    assert 2 <= smollm2.count_tokens("Hello there, how are you?") <= 10
    assert instructions_problem(smollm2, "Be brief. " * 900) is not None  # 9 KB of instructions
    assert instructions_problem(smollm2, "Be brief. " * 50) is None
    assert result_chars(smollm2, 16 * 1024) == 2048


async def test_the_model_runs_on_one_thread_while_another_engine_is_busy(smollm2: LlamaCppLlm) -> None:
    busy = [True]
    smollm2.contended = lambda: busy[0]
    try:
        seen: list[int] = []
        async for _ in smollm2.stream([ChatMessage("user", "Say hello.")]):
            seen.append(smollm2.threads_now)
            busy[0] = len(seen) < 3  # the other engine finishes after the second token
        assert seen[:2] == [1, 1]
        assert seen[-1] == 2
    finally:
        smollm2.contended = lambda: False
        async for _ in smollm2.stream([ChatMessage("user", "Say hi.")]):
            break
    assert smollm2.threads_now == 2
