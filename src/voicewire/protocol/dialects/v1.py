"""Deepgram's v1 Voice Agent API ("Settings" dialect), at `/v1/agent/converse`.

What the official clients send is recorded in `v1-wire-evidence.md`, and decoding follows it rather than the
reference alone: deepgram-sdk 4.x sends `"url": ""` and `"method": ""` for a client-side function, 7.x sends
`"version": "v1"` in the listen provider and whole-number floats as integers, and the JavaScript SDK sends
whatever object its caller built. Unknown keys are ignored. `think` and `speak` may each be one object or a
list (the first usable provider wins). Encoding writes compact JSON with every field the 4.x client
requires (it closes the connection on a missing one).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, assert_never

from voicewire.protocol import agent as a
from voicewire.protocol.base import OMIT_NONE, Model, ProtocolError
from voicewire.protocol.codec import load_object
from voicewire.quoting import excerpt

SETTINGS_TYPE = "Settings"


@dataclasses.dataclass
class _Input(Model):
    encoding: str | None = None
    sample_rate: int | None = None


@dataclasses.dataclass
class _Output(Model):
    encoding: str | None = None
    sample_rate: int | None = None
    bitrate: int | None = None
    container: str | None = None


@dataclasses.dataclass
class _Audio(Model):
    input: _Input | None = None
    output: _Output | None = None


@dataclasses.dataclass
class _Endpoint(Model):
    url: str | None = None
    method: str | None = None
    headers: dict[str, Any] | None = None


@dataclasses.dataclass
class _Provider(Model):
    type: str | None = None
    model: str | None = None
    temperature: float | None = None
    keyterms: list[str] | None = None
    language: str | None = None
    #: Third-party voices name it differently.
    voice: str | None = None
    voice_id: str | None = None
    model_id: str | None = None


@dataclasses.dataclass
class _Function(Model):
    name: str
    description: str = ""
    parameters: dict[str, Any] | None = None
    endpoint: _Endpoint | None = None
    # deepgram-sdk 4.x always sends these two, empty for a client-side function.
    url: str | None = None
    method: str | None = None
    headers: Any = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass
class _Listen(Model):
    provider: _Provider | None = None


@dataclasses.dataclass
class _Think(Model):
    provider: _Provider | None = None
    prompt: str | None = None
    functions: list[_Function] | None = None
    endpoint: _Endpoint | None = None


@dataclasses.dataclass
class _Speak(Model):
    provider: _Provider | None = None
    endpoint: _Endpoint | None = None


@dataclasses.dataclass
class _Context(Model):
    messages: list[dict[str, Any]] | None = None


@dataclasses.dataclass
class _Agent(Model):
    language: str | None = None
    listen: _Listen | None = None
    think: Any = None
    speak: Any = None
    greeting: str | None = None
    context: _Context | None = None


@dataclasses.dataclass
class _Flags(Model):
    history: bool = True


@dataclasses.dataclass
class _Settings(Model):
    type: str = SETTINGS_TYPE
    audio: _Audio | None = None
    agent: _Agent | None = None
    experimental: bool = False
    mip_opt_out: bool = False
    tags: list[str] | None = None
    flags: _Flags | None = None


class V1:
    name = "v1"
    binary_is_audio = True

    def decode(self, frame: str | bytes) -> a.Command | None:
        if isinstance(frame, bytes):
            # The JS SDK's keepAlive() without its argument sends an empty binary frame.
            return a.UserAudio(frame) if frame else None
        data = _load(frame)
        kind = data.get("type")
        if not isinstance(kind, str):
            raise a.CommandError(a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE, "Message has no string field 'type'")
        decoder = _DECODERS.get(kind)
        if decoder is None:
            if kind == "SettingsConfiguration":
                raise a.CommandError(
                    a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE,
                    "SettingsConfiguration is an early-access message, and this endpoint speaks the v1 "
                    "dialect: connect to /agent for early access, or send Settings here",
                )
            raise a.CommandError(
                a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE, f"Unknown message type {excerpt(kind)}"
            )
        try:
            return decoder(data)
        except ProtocolError as exc:
            code = (
                a.ErrorCode.INVALID_SETTINGS
                if kind == SETTINGS_TYPE
                else a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE
            )
            raise a.CommandError(code, f"{kind}: {exc}") from exc

    def encode(self, event: a.Event) -> str | bytes | None:
        if isinstance(event, a.AgentAudio):
            return event.data
        return json.dumps(_message(event), separators=(",", ":"))


def _load(frame: str) -> dict[str, Any]:
    try:
        return load_object(frame)
    except ProtocolError as exc:
        raise a.CommandError(a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE, str(exc)) from exc


# -- client → server ----------------------------------------------------------------------------------------


def _settings(data: dict[str, Any]) -> a.Command:
    message = _Settings.from_dict(data)
    audio = message.audio or _Audio()
    agent = message.agent or _Agent()
    think = _think(agent.think) if agent.think is not None else a.ThinkSettings()
    inp, out = audio.input or _Input(), audio.output or _Output()
    return a.Configure(
        a.AgentSettings(
            input=a.AudioFormat(inp.encoding, inp.sample_rate),
            output=a.AudioFormat(out.encoding, out.sample_rate, out.container),
            listen=_listen(agent.listen),
            think=think,
            speak=_speak(agent.speak) if agent.speak is not None else (a.SpeakProvider(),),
            greeting=agent.greeting or None,
            language=agent.language,
            context=tuple(
                _history_item(m, i) for i, m in enumerate((agent.context or _Context()).messages or ())
            ),
            history=(message.flags or _Flags()).history,
        )
    )


def _listen(listen: _Listen | None) -> a.ListenSettings:
    provider = (listen.provider if listen else None) or _Provider()
    return a.ListenSettings(
        provider=provider.type,
        model=provider.model,
        keyterms=tuple(provider.keyterms or ()),
        language=provider.language,
    )


def _objects(value: Any, where: str) -> list[dict[str, Any]]:
    """`value` as a list of objects: one object or a non-empty list of them."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise ProtocolError(f"{where} must be an object or a non-empty list of objects")
    return items


def _think(value: Any) -> a.ThinkSettings:
    thinks = [_Think.from_dict(item) for item in _objects(value, "agent.think")]
    first = thinks[0]
    providers = tuple(_think_provider(think) for think in thinks)
    return a.ThinkSettings(
        providers=providers,
        prompt=first.prompt,
        functions=tuple(_function(f) for f in first.functions or ()),
    )


def _think_provider(think: _Think) -> a.ThinkProvider:
    provider = think.provider or _Provider()
    return a.ThinkProvider(
        type=provider.type,
        model=provider.model,
        temperature=provider.temperature,
        endpoint=_endpoint(think.endpoint),
    )


def _speak(value: Any) -> tuple[a.SpeakProvider, ...]:
    """A speak object, a list of them, or (in `UpdateSpeak`) a bare provider object."""
    providers = []
    for item in _objects(value, "speak"):
        speak = _Speak.from_dict(item)
        provider = speak.provider if "provider" in item else _Provider.from_dict(item)
        provider = provider or _Provider()
        voice = provider.model or provider.voice or provider.voice_id or provider.model_id
        providers.append(a.SpeakProvider(type=provider.type, model=voice, language=provider.language))
    return tuple(providers)


def _endpoint(endpoint: _Endpoint | None) -> a.Endpoint | None:
    if endpoint is None or not endpoint.url:
        return None
    headers = {
        str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (endpoint.headers or {}).items()
    }
    return a.Endpoint(endpoint.url, endpoint.method or None, headers)


def _function(function: _Function) -> a.FunctionSpec:
    endpoint = _endpoint(function.endpoint)
    if endpoint is None and function.url:
        endpoint = a.Endpoint(function.url, function.method or None)
    parameters = (
        function.parameters if function.parameters is not None else {"type": "object", "properties": {}}
    )
    return a.FunctionSpec(function.name, function.description, parameters, endpoint)


def _history_item(message: dict[str, Any], index: int) -> a.HistoryItem:
    where = f"agent.context.messages[{index}]"
    calls = message.get("function_calls")
    if calls is not None:
        if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            raise ProtocolError(f"{where}.function_calls must be a list of objects")
        return a.HistoryItem(function_calls=tuple(_call_record(c, f"{where}.function_calls") for c in calls))
    role, content = message.get("role"), message.get("content")
    if role not in ("user", "assistant") or not isinstance(content, str):
        raise ProtocolError(f"{where} must have role user or assistant and text content")
    return a.HistoryItem(role, content)


def _call_record(call: dict[str, Any], where: str) -> a.FunctionCallRecord:
    fields = {}
    for key in ("id", "name", "arguments", "response"):
        value = call.get(key, "")
        fields[key] = value if isinstance(value, str) else json.dumps(value)
    if not fields["name"]:
        raise ProtocolError(f"{where}: a function call needs a name")
    client_side = call.get("client_side", True)
    return a.FunctionCallRecord(**fields, client_side=client_side is not False)


def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ProtocolError(f"the field {excerpt(key)} must be text")
    return value


def _inject_agent(data: dict[str, Any]) -> a.Command:
    # The draft spec named the field `content`; the clients send `message`.
    key = "message" if "message" in data or "content" not in data else "content"
    return a.InjectAgentText(_text(data, key))


def _function_result(data: dict[str, Any]) -> a.Command:
    content = data.get("content")
    if content is None:
        raise ProtocolError("the field 'content' is required")
    text = content if isinstance(content, str) else json.dumps(content)
    return a.FunctionResult(_text(data, "id"), text, _text(data, "name", required=False) or None)


def _update_think(data: dict[str, Any]) -> a.Command:
    if "think" not in data:
        raise ProtocolError("the field 'think' is required")
    return a.UpdateThink(_think(data["think"]))


def _update_listen(data: dict[str, Any]) -> a.Command:
    listen = data.get("listen")
    if not isinstance(listen, dict):
        raise ProtocolError("the field 'listen' must be an object")
    return a.UpdateListen(_listen(_Listen.from_dict(listen)))


def _update_speak(data: dict[str, Any]) -> a.Command:
    if "speak" not in data:
        raise ProtocolError("the field 'speak' is required")
    return a.UpdateSpeak(_speak(data["speak"]))


_DECODERS: dict[str, Callable[[dict[str, Any]], a.Command]] = {
    SETTINGS_TYPE: _settings,
    "UpdatePrompt": lambda data: a.UpdatePrompt(_text(data, "prompt")),
    "UpdateSpeak": _update_speak,
    "UpdateThink": _update_think,
    "UpdateListen": _update_listen,
    "InjectAgentMessage": _inject_agent,
    "InjectUserMessage": lambda data: a.InjectUserText(_text(data, "content")),
    "FunctionCallResponse": _function_result,
    "KeepAlive": lambda data: a.KeepAlive(),
}


# -- server → client ----------------------------------------------------------------------------------------


def _message(event: a.Event) -> dict[str, Any]:
    match event:
        case a.Welcome(session_id):
            return {"type": "Welcome", "request_id": session_id}
        case a.SettingsApplied():
            return {"type": "SettingsApplied"}
        case a.ConversationText(role, content):
            return {"type": "ConversationText", "role": role, "content": content}
        case a.UserStartedSpeaking():
            return {"type": "UserStartedSpeaking"}
        case a.FunctionCallStarted(call_id, name, arguments, client_side):
            call = {"id": call_id, "name": name, "arguments": arguments, "client_side": client_side}
            return {"type": "FunctionCallRequest", "functions": [call]}
        case a.FunctionCallFinished(call_id, name, content):
            return {"type": "FunctionCallResponse", "id": call_id, "name": name, "content": content}
        case a.AgentStartedSpeaking(total, tts, ttt):
            return {
                "type": "AgentStartedSpeaking",
                "total_latency": total,
                "tts_latency": tts,
                "ttt_latency": ttt,
            }
        case a.AgentAudioDone():
            return {"type": "AgentAudioDone"}
        case a.PromptUpdated():
            return {"type": "PromptUpdated"}
        case a.SpeakUpdated():
            return {"type": "SpeakUpdated"}
        case a.ThinkUpdated():
            return {"type": "ThinkUpdated"}
        case a.ListenUpdated():
            return {"type": "ListenUpdated"}
        case a.InjectionRefused(message):
            return {"type": "InjectionRefused", "message": message}
        case a.HistoryAdded(item) if item.function_calls:
            calls = [
                {
                    "id": c.id,
                    "name": c.name,
                    "client_side": c.client_side,
                    "arguments": c.arguments,
                    "response": c.response,
                }
                for c in item.function_calls
            ]
            return {"type": "History", "function_calls": calls}
        case a.HistoryAdded(item):
            return {"type": "History", "role": item.role, "content": item.content}
        case a.Warning(code, description):
            return {"type": "Warning", "description": description, "code": code.value}
        case a.Error(code, description):
            return {"type": "Error", "description": description, "code": code.value}
        case a.AgentAudio():  # pragma: no cover - encoded as binary by `V1.encode`
            raise AssertionError("audio is not JSON")
        case _:
            assert_never(event)


# -- what a v1 client sends (voicewire's own SDK speaking v1) ----------------------------------------------


def settings_message(settings: a.AgentSettings) -> dict[str, Any]:
    """`Settings` for `settings`: the inverse of decoding, as far as v1 can say it."""
    audio: dict[str, Any] = {"input": _format(settings.input), "output": _format(settings.output)}
    listen = settings.listen
    agent: dict[str, Any] = {
        "listen": {"provider": _drop_none(type=listen.provider or "deepgram", model=listen.model)},
        "think": [_think_message(settings.think, provider) for provider in settings.think.providers],
        "speak": [{"provider": _drop_none(type=p.type or "deepgram", model=p.model)} for p in settings.speak],
    }
    if listen.keyterms:
        agent["listen"]["provider"]["keyterms"] = list(listen.keyterms)
    if settings.greeting:
        agent["greeting"] = settings.greeting
    if settings.language:
        agent["language"] = settings.language
    if settings.context:
        agent["context"] = {"messages": [_history_message(item) for item in settings.context]}
    return {"type": SETTINGS_TYPE, "audio": audio, "agent": agent, "flags": {"history": settings.history}}


def _format(fmt: a.AudioFormat) -> dict[str, Any]:
    return _drop_none(encoding=fmt.encoding, sample_rate=fmt.sample_rate, container=fmt.container)


def _think_message(think: a.ThinkSettings, provider: a.ThinkProvider) -> dict[str, Any]:
    message: dict[str, Any] = {
        "provider": _drop_none(type=provider.type, model=provider.model, temperature=provider.temperature)
    }
    if provider.endpoint is not None:
        message["endpoint"] = _endpoint_message(provider.endpoint)
    if think.prompt is not None:
        message["prompt"] = think.prompt
    if think.functions:
        message["functions"] = [_function_message(f) for f in think.functions]
    return message


def _function_message(function: a.FunctionSpec) -> dict[str, Any]:
    message = {
        "name": function.name,
        "description": function.description,
        "parameters": dict(function.parameters),
    }
    if function.endpoint is not None:
        message["endpoint"] = _endpoint_message(function.endpoint)
    return message


def _endpoint_message(endpoint: a.Endpoint) -> dict[str, Any]:
    return _drop_none(url=endpoint.url, method=endpoint.method, headers=dict(endpoint.headers) or None)


def _history_message(item: a.HistoryItem) -> dict[str, Any]:
    return _message(a.HistoryAdded(item))


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
