"""Any OpenAI-compatible chat endpoint: OpenAI, Groq, Together, vLLM, Ollama, llama.cpp's server...

The endpoint and its key belong to the server operator (config file or environment), never to the client:
a client only picks a provider name and a model. The key is sent as a bearer token and appears nowhere else
(not in logs, not in `repr`, not in error messages).

Streaming follows the chat-completions SSE format: `data: {chunk}` lines ending with `data: [DONE]`. Tool
calls arrive as fragments keyed by `index` (the first carries id and name, later ones append to the JSON
arguments; some servers repeat the name), so they are accumulated and emitted once the stream ends, after
any text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from voicewire.engines.base import ChatMessage, EngineError, LlmEvent, TextDelta, ToolCall, ToolSpec

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


def _message_json(message: ChatMessage) -> dict[str, Any]:
    body: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        body["content"] = message.content or None
        body["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        body["tool_call_id"] = message.tool_call_id
    return body


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _accumulate(calls: dict[int, _PartialCall], fragments: Sequence[Mapping[str, Any]]) -> None:
    for position, fragment in enumerate(fragments):
        index = fragment.get("index", position)
        call = calls.setdefault(int(index), _PartialCall())
        call.id = fragment.get("id") or call.id
        function = fragment.get("function") or {}
        name = function.get("name") or ""
        # OpenAI names the function in the first fragment only; llama.cpp's server repeats it in every one.
        if name != call.name:
            call.name += name
        call.arguments += function.get("arguments") or ""


class OpenAiCompatibleLlm:
    """Streams `/chat/completions` from one endpoint; `model` is used when the caller names none."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        extra_body: Mapping[str, Any] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._extra_body = dict(extra_body or {})
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"OpenAiCompatibleLlm(base_url={self.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        model: str | None = None,
    ) -> AsyncGenerator[LlmEvent, None]:
        chosen = model or self.model
        if not chosen:
            raise EngineError(f"no model given for the chat endpoint {self.base_url}")
        body: dict[str, Any] = {
            **self._extra_body,
            "model": chosen,
            "messages": [_message_json(message) for message in messages],
            "stream": True,
        }
        if tools:
            body["tools"] = [_tool_json(tool) for tool in tools]
        calls: dict[int, _PartialCall] = {}
        try:
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode(errors="replace")[:300]
                    raise EngineError(
                        f"chat endpoint {self.base_url} answered HTTP {response.status_code}: {detail}"
                    )
                async for line in response.aiter_lines():
                    data = line.removeprefix("data:").strip() if line.startswith("data:") else None
                    if not data:
                        continue
                    if data == "[DONE]":
                        break
                    for choice in self._choices(data):
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            yield TextDelta(str(delta["content"]))
                        if delta.get("tool_calls"):
                            _accumulate(calls, delta["tool_calls"])
        except httpx.HTTPError as error:
            raise EngineError(
                f"chat endpoint {self.base_url} failed: {type(error).__name__}: {error}"
            ) from error
        for index in sorted(calls):
            call = calls[index]
            if not call.name:
                raise EngineError(f"chat endpoint {self.base_url} sent a tool call without a name")
            yield ToolCall(id=call.id or f"call_{index}", name=call.name, arguments=call.arguments or "{}")

    def _choices(self, data: str) -> list[dict[str, Any]]:
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as error:
            raise EngineError(f"chat endpoint {self.base_url} sent invalid JSON: {data[:200]!r}") from error
        if not isinstance(chunk, dict):
            raise EngineError(f"chat endpoint {self.base_url} sent an unexpected chunk: {data[:200]!r}")
        if "error" in chunk:
            raise EngineError(f"chat endpoint {self.base_url} reported an error: {chunk['error']}")
        choices = chunk.get("choices") or []
        return [choice for choice in choices if isinstance(choice, dict)]
