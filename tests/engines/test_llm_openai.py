from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from voicewire.engines.base import ChatMessage, EngineError, LlmEvent, TextDelta, ToolCall, ToolSpec
from voicewire.engines.llm_openai import OpenAiCompatibleLlm

WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather for a city.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)
QUESTION = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "What's the weather in Paris?"),
]


def sse(*chunks: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def delta(**fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields}]}


def fake_endpoint(body: bytes, status: int = 200) -> tuple[OpenAiCompatibleLlm, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(status, content=body, headers={"content-type": "text/event-stream"})

    llm = OpenAiCompatibleLlm(
        "https://llm.example/v1",
        api_key="sk-secret",
        model="gpt-4o-mini",
        transport=httpx.MockTransport(handle),
    )
    return llm, requests


async def collect(llm: OpenAiCompatibleLlm, **kwargs: Any) -> list[LlmEvent]:
    try:
        return [event async for event in llm.stream(QUESTION, **kwargs)]
    finally:
        await llm.aclose()


async def test_streams_text_and_sends_an_openai_request() -> None:
    llm, requests = fake_endpoint(sse(delta(role="assistant"), delta(content="Hel"), delta(content="lo.")))
    history = [
        *QUESTION,
        ChatMessage("assistant", "", tool_calls=[ToolCall("call_1", "get_weather", '{"location": "Paris"}')]),
        ChatMessage("tool", '{"condition": "sunny"}', tool_call_id="call_1"),
    ]
    try:
        events = [event async for event in llm.stream(history, tools=[WEATHER], model="llama-3.1-8b")]
    finally:
        await llm.aclose()
    assert events == [TextDelta("Hel"), TextDelta("lo.")]
    (request,) = requests
    assert request.url == "https://llm.example/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-secret"
    body = json.loads(request.content)
    assert body["model"] == "llama-3.1-8b" and body["stream"] is True
    assert body["tools"] == [{"type": "function", "function": {"name": "get_weather", **_spec(WEATHER)}}]
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
            }
        ],
    }
    assert body["messages"][3] == {
        "role": "tool",
        "content": '{"condition": "sunny"}',
        "tool_call_id": "call_1",
    }


def _spec(tool: ToolSpec) -> dict[str, Any]:
    return {"description": tool.description, "parameters": tool.parameters}


async def test_tool_call_fragments_are_joined_by_index() -> None:
    body = sse(
        delta(
            tool_calls=[{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather"}}]
        ),
        delta(
            tool_calls=[{"index": 1, "id": "call_b", "function": {"name": "get_weather", "arguments": ""}}]
        ),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '{"location": '}}]),
        delta(tool_calls=[{"index": 1, "function": {"arguments": '{"location": "Rome"}'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
    )
    llm, _ = fake_endpoint(body)
    assert await collect(llm, tools=[WEATHER]) == [
        ToolCall("call_a", "get_weather", '{"location": "Paris"}'),
        ToolCall("call_b", "get_weather", '{"location": "Rome"}'),
    ]


async def test_a_name_repeated_in_every_fragment_is_not_doubled() -> None:
    fragment = {"index": 0, "id": "call_x", "function": {"name": "get_weather", "arguments": ""}}
    parts = ["{", '"location": ', '"Paris"', "}"]
    chunks = [
        delta(tool_calls=[{**fragment, "function": {"name": "get_weather", "arguments": p}}]) for p in parts
    ]
    llm, _ = fake_endpoint(sse(*chunks))
    assert await collect(llm, tools=[WEATHER]) == [ToolCall("call_x", "get_weather", '{"location": "Paris"}')]


async def test_http_errors_are_engine_errors_without_the_key() -> None:
    llm, _ = fake_endpoint(b'{"error": {"message": "invalid api key"}}', status=401)
    with pytest.raises(EngineError, match="HTTP 401") as raised:
        await collect(llm)
    assert "sk-secret" not in str(raised.value)
    assert "sk-secret" not in repr(llm)


async def test_broken_streams_and_missing_models_are_engine_errors() -> None:
    llm, _ = fake_endpoint(b"data: {not json\n\n")
    with pytest.raises(EngineError, match="invalid JSON"):
        await collect(llm)
    llm, _ = fake_endpoint(sse({"error": {"message": "overloaded"}}))
    with pytest.raises(EngineError, match="overloaded"):
        await collect(llm)
    anonymous = OpenAiCompatibleLlm("https://llm.example/v1")
    with pytest.raises(EngineError, match="no model"):
        await collect(anonymous)


async def test_unreachable_endpoint_is_an_engine_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    llm = OpenAiCompatibleLlm("https://llm.example/v1", model="m", transport=httpx.MockTransport(refuse))
    with pytest.raises(EngineError, match="ConnectError"):
        await collect(llm)


class _EndlessStream(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for number in range(10_000):
            yield f"data: {json.dumps(delta(content=f'word{number} '))}\n\n".encode()

    async def aclose(self) -> None:
        self.closed = True


async def test_closing_the_iterator_closes_the_response() -> None:
    stream = _EndlessStream()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    llm = OpenAiCompatibleLlm("https://llm.example/v1", model="m", transport=transport)
    events = llm.stream(QUESTION)
    assert await anext(events) == TextDelta("word0 ")
    await events.aclose()
    assert stream.closed
    await llm.aclose()


# --- against a real OpenAI-compatible server: llama-cpp-python's, serving the same SmolLM2 GGUF ---------
# (the `llama_server` fixture lives in tests/llama_server.py)


@pytest.fixture
async def real_endpoint(llama_server: str) -> AsyncIterator[Callable[..., OpenAiCompatibleLlm]]:
    made: list[OpenAiCompatibleLlm] = []

    def make(**extra_body: Any) -> OpenAiCompatibleLlm:
        made.append(OpenAiCompatibleLlm(llama_server, model="smollm2", timeout=60, extra_body=extra_body))
        return made[-1]

    yield make
    for llm in made:
        await llm.aclose()


@pytest.mark.models
async def test_real_server_streams_a_reply(real_endpoint: Callable[..., OpenAiCompatibleLlm]) -> None:
    llm = real_endpoint(max_tokens=40)
    events = [event async for event in llm.stream([ChatMessage("user", "Say hello to me.")])]
    assert len(events) > 1 and all(isinstance(event, TextDelta) for event in events)


@pytest.mark.models
async def test_real_server_calls_a_forced_function(real_endpoint: Callable[..., OpenAiCompatibleLlm]) -> None:
    # llama.cpp's chatml-function-calling handler streams tool calls only when the choice is forced.
    llm = real_endpoint(max_tokens=60, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    events = [event async for event in llm.stream(QUESTION, tools=[WEATHER])]
    calls = [event for event in events if isinstance(event, ToolCall)]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert "paris" in json.loads(calls[0].arguments)["location"].lower()
