"""Running the functions the LLM calls: by asking the client, or by an HTTP request from the server.

A function without an endpoint is the client's: the session announces the call (`FunctionCallStarted`, a
`FunctionCallRequest` on the wire) and waits for the matching result. A function with an endpoint is called
by the server itself, and its result is announced too (`FunctionCallFinished`) for dialects that show it.
Settings come from clients, so that request is an SSRF risk: only hosts on the operator's allowlist may be
called, at the address they resolved to once (`http_call`), redirects are never followed, the response is
read as a bounded stream, and the whole call has one deadline. Malformed definitions are refused with the
settings (`check_functions`).

Every outcome becomes text for the LLM; failures are reported to the client as `Error` messages with code
`FUNCTION_CALL_FAILED` and to the LLM as a JSON error object, so the reply can go on ("I couldn't reach ...").
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from voicewire.engines.base import ToolCall, ToolSpec
from voicewire.protocol.agent import ErrorCode, Event, FunctionCallFinished, FunctionCallStarted, FunctionSpec
from voicewire.quoting import excerpt
from voicewire.server.clock import Clock
from voicewire.server.http_call import (
    FunctionCallError,
    build_url,
    check_headers,
    pinned_address,
    read_capped,
    request_parts,
    text_of,
)

logger = logging.getLogger(__name__)

#: Longest function result handed to the LLM.
MAX_RESULT_CHARS = 16 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_METHODS = ("POST", "PUT", "PATCH")
_METHODS = ("GET", "DELETE", *_BODY_METHODS)
#: Headers a client may not set on a server-side call: they belong to the HTTP connection.
_FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade"})


class FunctionSpecError(ValueError):
    """A function definition that can never be called; refused with the settings."""


def check_functions(functions: Sequence[FunctionSpec]) -> None:
    """`FunctionSpecError` naming the first server-side function whose endpoint is not http(s) or whose
    method is not one the server makes."""
    for function in functions:
        if function.endpoint is None:
            continue
        parts = urlsplit(function.endpoint.url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise FunctionSpecError(
                f"function {function.name[:60]!r}: the endpoint URL must be http:// or https:// with a host"
            )
        method = (function.endpoint.method or "POST").upper()
        if method not in _METHODS:
            raise FunctionSpecError(
                f"function {function.name[:60]!r}: method {method[:20]!r} is not one of {', '.join(_METHODS)}"
            )


def tool_specs(functions: Sequence[FunctionSpec]) -> list[ToolSpec]:
    return [
        ToolSpec(name=f.name, description=f.description, parameters=dict(f.parameters)) for f in functions
    ]


def host_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """Whether `url` is http(s) to a `host` or `host:port` entry; a bare host means the default port."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    for entry in allowlist:
        allowed = urlsplit("//" + entry.strip())
        try:
            allowed_port = allowed.port or _DEFAULT_PORTS[parts.scheme]
        except ValueError:
            continue
        if allowed.hostname == parts.hostname and allowed_port == port:
            return True
    return False


class FunctionRunner:
    """Runs the calls of one session; `resolve` delivers the client's answers."""

    def __init__(
        self,
        *,
        allowlist: Sequence[str],
        timeout: float,
        send: Callable[[Event], None],
        report: Callable[[ErrorCode, str], None],
        clock: Clock,
    ) -> None:
        self._allowlist = tuple(allowlist)
        self._timeout = timeout
        #: Results are cut to this length: the session sets it to what its language model can read.
        self.max_result_chars = MAX_RESULT_CHARS
        self._clock = clock
        self._send = send
        self._report = report
        self._functions: dict[str, FunctionSpec] = {}
        self._pending: dict[str, asyncio.Future[str]] = {}
        self._http: httpx.AsyncClient | None = None

    def set_functions(self, functions: Sequence[FunctionSpec]) -> None:
        self._functions = {function.name: function for function in functions}

    def client_side(self, name: str) -> bool:
        """Whether the function `name` is the client's to run (an unknown name counts as the client's)."""
        function = self._functions.get(name)
        return function is None or function.client_side

    @property
    def tools(self) -> list[ToolSpec]:
        return tool_specs(list(self._functions.values()))

    async def run(self, call: ToolCall) -> str:
        """The result text for the LLM; never raises except on cancellation."""
        try:
            function = self._functions.get(call.name)
            if function is None:
                raise FunctionCallError(
                    f"the model called {excerpt(call.name)}, which is not in think.functions"
                )
            if function.client_side:
                return await self._ask_client(call)
            return await self._call_http(function, call)
        except FunctionCallError as exc:
            return self._failed(call, exc)

    def _failed(self, call: ToolCall, exc: FunctionCallError) -> str:
        self._report(ErrorCode.FUNCTION_CALL_FAILED, f"Function {excerpt(call.name)} failed: {exc}")
        return json.dumps({"error": str(exc)})

    def resolve(self, function_call_id: str, output: str) -> bool:
        """Hand the client's output to the waiting call; False if no call waits for this id."""
        future = self._pending.pop(function_call_id, None)
        if future is None or future.done():
            return False
        future.set_result(output)
        return True

    async def aclose(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _ask_client(self, call: ToolCall) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[call.id] = future
        self._send(FunctionCallStarted(call.id, call.name, call.arguments, client_side=True))
        timer = asyncio.ensure_future(self._clock.sleep(self._timeout))
        try:
            await asyncio.wait((future, timer), return_when=asyncio.FIRST_COMPLETED)
            if not future.done():
                raise FunctionCallError(f"no FunctionCallResponse within {self._timeout:g} s")
            return future.result()[: self.max_result_chars]
        finally:
            timer.cancel()
            future.cancel()
            self._pending.pop(call.id, None)

    async def _call_http(self, function: FunctionSpec, call: ToolCall) -> str:
        assert function.endpoint is not None
        url = function.endpoint.url
        if not host_allowed(url, self._allowlist):
            raise FunctionCallError(
                f"the server may not call {excerpt(urlsplit(url).netloc or url)} (not on its allowlist)"
            )
        method = (function.endpoint.method or "POST").upper()
        if method not in _METHODS:
            raise FunctionCallError(f"unsupported method {excerpt(method)}")
        arguments = _arguments(call.arguments)
        headers = {k: v for k, v in function.endpoint.headers.items() if k.lower() not in _FORBIDDEN_HEADERS}
        self._send(FunctionCallStarted(call.id, call.name, call.arguments, client_side=False))
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._request(method, url, headers, arguments)
        except TimeoutError:
            result = self._failed(
                call, FunctionCallError(f"Timeout: no complete answer in {self._timeout:g} s")
            )
        except FunctionCallError as exc:
            result = self._failed(call, exc)
        else:
            logger.debug("function %s answered", call.name)
        self._send(FunctionCallFinished(call.id, call.name, result))
        return result

    async def _request(
        self, method: str, url: str, headers: dict[str, str], arguments: dict[str, Any]
    ) -> str:
        check_headers(headers)
        params = None
        if method not in _BODY_METHODS:
            params = {
                k: v if isinstance(v, str | int | float) else json.dumps(v) for k, v in arguments.items()
            }
        target = build_url(url, params)
        pinned, host, extensions = request_parts(target, await pinned_address(target, self._allowlist))
        headers = {**headers, **host, "Accept-Encoding": "gzip, deflate"}
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, timeout=self._timeout, trust_env=False)
        # A result holds at most `max_result_chars` characters of up to 4 UTF-8 bytes each.
        cap = self.max_result_chars * 4
        try:
            request = self._http.build_request(
                method,
                pinned,
                headers=headers,
                json=arguments if method in _BODY_METHODS else None,
                extensions=extensions,
            )
            response = await self._http.send(request, stream=True)
            try:
                body, _ = await read_capped(response, cap)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise FunctionCallError(f"request failed ({type(exc).__name__})") from exc
        except (ValueError, UnicodeError) as exc:
            raise FunctionCallError(f"the request could not be made ({type(exc).__name__})") from exc
        text = text_of(body, response)[: self.max_result_chars]
        if response.is_redirect:
            raise FunctionCallError(f"HTTP {response.status_code} redirect not followed")
        if response.is_error:
            raise FunctionCallError(f"HTTP {response.status_code}: {text[:200]}")
        return text


def _arguments(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise FunctionCallError("the model's arguments are not valid JSON") from exc
    if not isinstance(value, dict):
        raise FunctionCallError("the model's arguments are not a JSON object")
    return value
