"""The early-access "SettingsConfiguration" dialect of deepgram-sdk 3.10/3.11, at `/agent`.

Decoding goes through the seed-shaped option classes (`protocol.options`), so a 3.11 client's quirks are
handled where they are documented; encoding goes through the seed-shaped response classes, so the output is
exactly what 3.11 clients were written against. Events this dialect has no message for (`Warning`,
`History`, the result of a server-side function call, the v1-only acknowledgements) are not sent: a 3.11
client would only report them as Unhandled (protocol.md §6).
"""

from __future__ import annotations

from typing import assert_never

from voicewire.protocol import agent as a
from voicewire.protocol.base import Model, ProtocolError
from voicewire.protocol.codec import UnknownMessageTypeError, decode_client_message, encode
from voicewire.protocol.options import (
    AgentKeepAlive,
    Function,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    KeytermsNotSupportedError,
    SettingsConfigurationOptions,
    UpdateInstructionsOptions,
    UpdateSpeakOptions,
)
from voicewire.protocol.responses import (
    AgentAudioDoneResponse,
    AgentStartedSpeakingResponse,
    ConversationTextResponse,
    ErrorResponse,
    FunctionCalling,
    FunctionCallRequest,
    InjectionRefusedResponse,
    InstructionsUpdatedResponse,
    SettingsAppliedResponse,
    SpeakUpdatedResponse,
    UserStartedSpeakingResponse,
    WelcomeResponse,
)
from voicewire.quoting import excerpt

SETTINGS_TYPE = "SettingsConfiguration"
#: What a 3.11 client sends for `context.messages` given as dicts: only the keys survived (protocol.md §1.8).
_CORRUPTED_CONTEXT_PAIR = ("role", "content")
_CONTEXT_ROLES = ("user", "assistant")


class EarlyAccess:
    name = "early-access"
    binary_is_audio = True

    def decode(self, frame: str | bytes) -> a.Command | None:
        if isinstance(frame, bytes):
            return a.UserAudio(frame) if frame else None
        try:
            message = decode_client_message(frame)
        except UnknownMessageTypeError as exc:
            if exc.type_name == "Settings":
                raise a.CommandError(
                    a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE,
                    "Settings is a v1 message, and /agent speaks the early-access dialect: connect to "
                    "/v1/agent/converse for v1, or send SettingsConfiguration here",
                ) from exc
            raise a.CommandError(a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE, str(exc)) from exc
        except ProtocolError as exc:
            settings = exc.message_type == SETTINGS_TYPE
            code = a.ErrorCode.INVALID_SETTINGS if settings else a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE
            raise a.CommandError(code, str(exc)) from exc
        return _command(message)

    def encode(self, event: a.Event) -> str | bytes | None:
        if isinstance(event, a.AgentAudio):
            return event.data
        message = _message(event)
        return None if message is None else encode(message)


def _command(message: Model) -> a.Command:
    if isinstance(message, SettingsConfigurationOptions):
        return a.Configure(settings(message))
    if isinstance(message, UpdateInstructionsOptions):
        return a.UpdatePrompt(message.instructions)
    if isinstance(message, UpdateSpeakOptions):
        return a.UpdateSpeak((a.SpeakProvider(model=message.model or None),))
    if isinstance(message, InjectAgentMessageOptions):
        return a.InjectAgentText(message.message)
    if isinstance(message, FunctionCallResponse):
        return a.FunctionResult(message.function_call_id, message.output)
    assert isinstance(message, AgentKeepAlive), f"unmapped client message {type(message).__name__}"
    return a.KeepAlive()


def settings(options: SettingsConfigurationOptions) -> a.AgentSettings:
    """The neutral settings; raises `CommandError` for settings this dialect defines as invalid."""
    try:
        options.check()
    except KeytermsNotSupportedError as exc:
        raise a.CommandError(a.ErrorCode.INVALID_SETTINGS, str(exc)) from exc
    agent, audio = options.agent, options.audio
    context = options.context
    return a.AgentSettings(
        input=a.AudioFormat(audio.input.encoding, audio.input.sample_rate),
        output=a.AudioFormat(audio.output.encoding, audio.output.sample_rate, audio.output.container),
        listen=a.ListenSettings(model=agent.listen.model, keyterms=tuple(agent.listen.keyterms or ())),
        think=a.ThinkSettings(
            providers=(a.ThinkProvider(type=agent.think.provider.type, model=agent.think.model),),
            prompt=agent.think.instructions or None,
            functions=tuple(_function(f) for f in agent.think.functions or ()),
        ),
        speak=(a.SpeakProvider(type=agent.speak.provider, model=agent.speak.model),),
        context=_context(options),
        replay=bool(context and context.replay),
    )


def _function(function: Function) -> a.FunctionSpec:
    parameters = (
        function.parameters.to_dict() if function.parameters else {"type": "object", "properties": {}}
    )
    endpoint = None
    if function.url:
        headers = {h.key: h.value for h in function.headers or []}
        endpoint = a.Endpoint(function.url, function.method, headers)
    return a.FunctionSpec(function.name, function.description, parameters, endpoint)


def _context(options: SettingsConfigurationOptions) -> tuple[a.HistoryItem, ...]:
    if options.context is None:
        return ()
    items: list[a.HistoryItem] = []
    for role, content in options.context.turns():
        if (role, content) == _CORRUPTED_CONTEXT_PAIR:
            continue  # deepgram-sdk 3.11 turned {role, content} objects into these literal keys
        if role not in _CONTEXT_ROLES:
            raise a.CommandError(
                a.ErrorCode.INVALID_SETTINGS,
                f"context.messages: unknown role {excerpt(role)} (use user or assistant)",
            )
        items.append(a.HistoryItem(role, content))
    return tuple(items)


def _message(event: a.Event) -> Model | None:
    match event:
        case a.Welcome(session_id):
            return WelcomeResponse(session_id=session_id)
        case a.SettingsApplied():
            return SettingsAppliedResponse()
        case a.ConversationText(role, content):
            return ConversationTextResponse(role=role, content=content)
        case a.UserStartedSpeaking():
            return UserStartedSpeakingResponse()
        case a.FunctionCallStarted(id=call_id, name=name, arguments=arguments, client_side=True):
            return FunctionCallRequest(function_name=name, function_call_id=call_id, input=arguments)
        case a.FunctionCallStarted(id=call_id, name=name):
            return FunctionCalling(extra={"function_name": name, "function_call_id": call_id})
        case a.AgentStartedSpeaking(total, tts, ttt):
            return AgentStartedSpeakingResponse(total_latency=total, tts_latency=tts, ttt_latency=ttt)
        case a.AgentAudioDone():
            return AgentAudioDoneResponse()
        case a.PromptUpdated():
            return InstructionsUpdatedResponse()
        case a.SpeakUpdated():
            return SpeakUpdatedResponse()
        case a.InjectionRefused():
            return InjectionRefusedResponse()
        case a.Error(code, description):
            # 3.11 reads `message`, v1-era code reads `description`: both carry the text.
            return ErrorResponse(description=description, message=description, type="Error", code=code.value)
        case (
            a.FunctionCallFinished()
            | a.ThinkUpdated()
            | a.ListenUpdated()
            | a.HistoryAdded()
            | a.Warning()
            | a.AgentAudio()
        ):
            return None
        case _:
            assert_never(event)
