"""Server-side function calls against a local HTTP service, the allowlist, and client-side bookkeeping."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import tracemalloc
from typing import Any

import pytest

from tests.server.net import (
    client,
    fast_config,
    fast_registry,
    http_service,
    receive_until,
    running,
    speak,
    types,
)
from tests.server.timeline import WEATHER_CALL, Timeline, assert_error, weather_settings
from voicewire.engines.base import ToolCall
from voicewire.engines.scripted import ScriptedLlm
from voicewire.protocol.agent import (
    Endpoint,
    ErrorCode,
    Event,
    FunctionCallFinished,
    FunctionCallStarted,
    FunctionSpec,
)
from voicewire.server.clock import MonotonicClock
from voicewire.server.functions import MAX_RESULT_CHARS, FunctionRunner, host_allowed


@pytest.mark.parametrize(
    ("url", "allowlist", "allowed"),
    [
        ("http://127.0.0.1:8000/x", ["127.0.0.1:8000"], True),
        ("http://127.0.0.1:8001/x", ["127.0.0.1:8000"], False),
        ("http://127.0.0.1/x", ["127.0.0.1"], True),
        ("http://127.0.0.1:8000/x", ["127.0.0.1"], False),  # a bare host allows only the default port
        ("https://api.example.com/v1", ["api.example.com"], True),
        ("https://api.example.com:8443/v1", ["api.example.com"], False),
        ("https://API.Example.com/v1", ["api.example.com"], True),
        ("https://api.example.com.evil.net/", ["api.example.com"], False),
        ("https://user@evil.net/@api.example.com", ["api.example.com"], False),
        ("http://[::1]:9000/", ["[::1]:9000"], True),
        ("ftp://api.example.com/", ["api.example.com"], False),
        ("file:///etc/passwd", ["api.example.com"], False),
        ("http://169.254.169.254/latest", [], False),
        ("not a url", ["api.example.com"], False),
    ],
)
def test_host_allowlist(url: str, allowlist: list[str], allowed: bool) -> None:
    assert host_allowed(url, allowlist) is allowed


class Runner:
    def __init__(self, allowlist: list[str], timeout: float = 2.0) -> None:
        self.sent: list[Event] = []
        self.errors: list[tuple[ErrorCode, str]] = []
        self.runner = FunctionRunner(
            allowlist=allowlist,
            timeout=timeout,
            send=self.sent.append,
            report=lambda code, text: self.errors.append((code, text)),
            clock=MonotonicClock(),
        )

    async def call(self, function: FunctionSpec, arguments: dict[str, Any]) -> str:
        self.runner.set_functions([function])
        try:
            return await self.runner.run(ToolCall("c1", function.name, json.dumps(arguments)))
        finally:
            await self.runner.aclose()


def http_function(url: str, method: str = "post") -> FunctionSpec:
    headers = {"authorization": "Bearer abc", "Host": "evil.example"}
    return FunctionSpec(name="get_weather", endpoint=Endpoint(url, method, headers))


async def test_post_sends_the_arguments_as_json_with_the_headers() -> None:
    with http_service() as service:
        calls = Runner([service.netloc])
        result = await calls.call(http_function(service.url("/weather")), {"city": "Paris"})
        assert json.loads(result)["forecast"] == "sunny"
        (request,) = service.requests
        assert (request.method, request.path) == ("POST", "/weather")
        assert json.loads(request.body) == {"city": "Paris"}
        assert request.headers["authorization"] == "Bearer abc"
        assert request.headers["Host"] == service.netloc  # a client cannot set Host
        started, finished = calls.sent
        assert started == FunctionCallStarted("c1", "get_weather", '{"city": "Paris"}', client_side=False)
        assert finished == FunctionCallFinished("c1", "get_weather", result)
        assert calls.errors == []


async def test_get_sends_the_arguments_as_query_parameters() -> None:
    with http_service() as service:
        calls = Runner([service.netloc])
        await calls.call(
            http_function(service.url("/weather"), "GET"), {"city": "Paris", "days": 2, "opts": [1]}
        )
        assert service.requests[0].method == "GET"
        assert service.requests[0].path == "/weather?city=Paris&days=2&opts=%5B1%5D"


async def test_a_host_off_the_allowlist_is_never_contacted() -> None:
    with http_service() as service:
        calls = Runner([])
        result = await calls.call(http_function(service.url("/weather")), {"city": "Paris"})
        assert service.requests == []
        assert "allowlist" in json.loads(result)["error"]
        assert calls.errors[0][0] is ErrorCode.FUNCTION_CALL_FAILED
        assert calls.sent == []


async def test_redirects_are_not_followed() -> None:
    with http_service() as service:
        calls = Runner([service.netloc])
        result = await calls.call(http_function(service.url("/redirect")), {})
        assert "302" in json.loads(result)["error"]
        assert len(service.requests) == 1


@pytest.mark.parametrize(("path", "mentions"), [("/fail", "500"), ("/slow", "Timeout")])
async def test_http_errors_and_timeouts_become_error_results(path: str, mentions: str) -> None:
    with http_service() as service:
        calls = Runner([service.netloc], timeout=0.2)
        result = await calls.call(http_function(service.url(path)), {})
        assert mentions in json.loads(result)["error"]
        assert calls.errors[0][0] is ErrorCode.FUNCTION_CALL_FAILED


async def test_bad_arguments_from_the_model_are_an_error_result() -> None:
    calls = Runner(["127.0.0.1:1"])
    calls.runner.set_functions([http_function("http://127.0.0.1:1/x")])
    result = await calls.runner.run(ToolCall("c1", "get_weather", "{not json"))
    assert "not valid JSON" in json.loads(result)["error"]


async def test_resolve_only_answers_a_waiting_call() -> None:
    calls = Runner([])
    calls.runner.set_functions([FunctionSpec(name="ask")])
    assert not calls.runner.resolve("c1", "early")
    task = asyncio.create_task(calls.runner.run(ToolCall("c1", "ask", "{}")))
    await asyncio.sleep(0)
    assert calls.sent == [FunctionCallStarted("c1", "ask", "{}", client_side=True)]
    assert calls.runner.resolve("c1", "the answer")
    assert await task == "the answer"
    assert not calls.runner.resolve("c1", "again")


async def test_a_server_side_function_through_the_whole_server() -> None:
    with http_service() as service:
        llm = ScriptedLlm([[WEATHER_CALL]])
        config = fast_config(function_call_allowlist=(service.netloc,))
        async with running(config, fast_registry(llm=llm)) as server, client(server.url) as ws:
            await ws.send(str(weather_settings(url=service.url("/weather"))))
            await receive_until(ws, "SettingsApplied")
            await speak(ws)
            seen = await receive_until(ws, "AgentAudioDone")
            assert "FunctionCalling" in types(seen)
            assert "FunctionCallRequest" not in types(seen)
            text = [m["content"] for m in seen if isinstance(m, dict) and m["type"] == "ConversationText"]
            assert " ".join(text[1:]).startswith('The result is {"forecast": "sunny"')
            assert json.loads(service.requests[0].body) == {"city": "Paris"}


async def test_a_server_side_function_off_the_allowlist_through_the_whole_server() -> None:
    with http_service() as service:
        llm = ScriptedLlm([[WEATHER_CALL]])
        async with running(fast_config(), fast_registry(llm=llm)) as server, client(server.url) as ws:
            await ws.send(str(weather_settings(url=service.url("/weather"))))
            await receive_until(ws, "SettingsApplied")
            await speak(ws)
            seen = await receive_until(ws, "AgentAudioDone")
            errors = [m for m in seen if isinstance(m, dict) and m["type"] == "Error"]
            assert errors[0]["code"] == "FUNCTION_CALL_FAILED"
            assert service.requests == []


async def _call_traced(calls: Runner, function: FunctionSpec) -> tuple[str, int]:
    """The result and the peak of memory Python allocated while the call ran."""
    tracemalloc.start()
    try:
        result = await calls.call(function, {})
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("path", ["/big", "/bomb"])
async def test_a_huge_or_compressed_response_is_read_only_up_to_the_cap(path: str) -> None:
    with http_service() as service:
        calls = Runner([service.netloc], timeout=10)
        result, peak = await _call_traced(calls, http_function(service.url(path), "GET"))
        assert result == "a" * MAX_RESULT_CHARS if path == "/big" else result == "\0" * MAX_RESULT_CHARS
        assert peak < 2_000_000
        assert calls.errors == []


async def test_one_deadline_covers_a_response_that_trickles() -> None:
    with http_service() as service:
        calls = Runner([service.netloc], timeout=0.5)
        started = time.monotonic()
        result = await calls.call(http_function(service.url("/trickle"), "GET"), {})
        assert time.monotonic() - started < 1.5
        assert "Timeout" in json.loads(result)["error"]
        assert calls.errors[0][0] is ErrorCode.FUNCTION_CALL_FAILED


@pytest.mark.parametrize(
    ("url_suffix", "headers"),
    [("/weather\0x", {}), ("/weather", {"x-name": "caf\u00e9"}), ("/weather", {"x-a": "b\r\nInjected: 1"})],
    ids=["nul-in-url", "non-ascii-header", "crlf-in-header"],
)
async def test_a_malformed_url_or_header_fails_the_call_not_the_server(
    url_suffix: str, headers: dict[str, str]
) -> None:
    with http_service() as service:
        calls = Runner([service.netloc])
        function = FunctionSpec(name="f", endpoint=Endpoint(service.url(url_suffix), "POST", headers))
        result = await calls.call(function, {"city": "Paris"})
        assert "error" in json.loads(result)
        assert [code for code, _ in calls.errors] == [ErrorCode.FUNCTION_CALL_FAILED]
        assert service.requests == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_keep_the_urls_own_query_string(method: str) -> None:
    with http_service() as service:
        calls = Runner([service.netloc])
        await calls.call(http_function(service.url("/weather?units=metric"), method), {"city": "Paris"})
        assert service.requests[0].path == "/weather?units=metric&city=Paris"


def _resolve_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "rebind.example" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


async def test_an_allowlisted_name_that_resolves_to_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _resolve_to_loopback(monkeypatch)
    with http_service() as service:
        calls = Runner([f"rebind.example:{service.port}"])
        result = await calls.call(http_function(f"http://rebind.example:{service.port}/weather"), {})
        assert "not a public address" in json.loads(result)["error"]
        assert service.requests == []


async def test_a_private_address_allowlisted_as_such_is_reached_under_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _resolve_to_loopback(monkeypatch)
    with http_service() as service:
        calls = Runner([f"rebind.example:{service.port}", service.netloc])
        result = await calls.call(http_function(f"http://rebind.example:{service.port}/weather"), {})
        assert json.loads(result)["forecast"] == "sunny"
        assert service.requests[0].headers["Host"] == f"rebind.example:{service.port}"


@pytest.mark.parametrize(
    ("url", "method", "mentions"),
    [("ftp://127.0.0.1/x", "post", "http://"), ("http://127.0.0.1/x", "TRACE", "method")],
)
async def test_a_malformed_function_definition_is_refused_with_the_settings(
    url: str, method: str, mentions: str
) -> None:
    async with Timeline() as t:
        await t.configure(weather_settings(url=url, method=method))
        error = t.messages[-1]
        assert_error(error, "INVALID_SETTINGS")
        assert mentions in error["description"]
        assert t.session.state.value == "awaiting_settings"
