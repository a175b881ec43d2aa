"""Text frames ↔ typed messages, for both directions. Pure: no sockets, threads or clocks.

`decode_server_message` is what both SDK clients run on every text frame they receive (`Open` and `Close` are
the client's own events, so a wire message of those types is Unhandled); `decode_client_message`
is what the server runs. Each returns a typed object or raises `ProtocolError` with a message fit to be shown
to the peer, so a malformed frame is a value to report, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from voicewire.protocol.base import Model, ProtocolError
from voicewire.protocol.events import AgentWebSocketEvents as Events
from voicewire.protocol.options import (
    AgentKeepAlive,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    SettingsConfigurationOptions,
    UpdateInstructionsOptions,
    UpdateSpeakOptions,
)
from voicewire.protocol.responses import (
    AgentAudioDoneResponse,
    AgentStartedSpeakingResponse,
    AgentThinkingResponse,
    ConversationTextResponse,
    ErrorResponse,
    FunctionCalling,
    FunctionCallRequest,
    InjectionRefusedResponse,
    InstructionsUpdatedResponse,
    SettingsAppliedResponse,
    SpeakUpdatedResponse,
    UnhandledResponse,
    UserStartedSpeakingResponse,
    WarningResponse,
    WelcomeResponse,
)
from voicewire.quoting import excerpt


@dataclass(frozen=True)
class ServerMessageKind:
    """How one wire type reaches user code: the event, the class and the handler keyword."""

    event: Events
    cls: type[Model]
    kwarg: str


SERVER_MESSAGES: dict[str, ServerMessageKind] = {
    kind.event.value: kind
    for kind in (
        ServerMessageKind(Events.Welcome, WelcomeResponse, "welcome"),
        ServerMessageKind(Events.SettingsApplied, SettingsAppliedResponse, "settings_applied"),
        ServerMessageKind(Events.ConversationText, ConversationTextResponse, "conversation_text"),
        ServerMessageKind(Events.UserStartedSpeaking, UserStartedSpeakingResponse, "user_started_speaking"),
        ServerMessageKind(Events.AgentThinking, AgentThinkingResponse, "agent_thinking"),
        ServerMessageKind(Events.FunctionCalling, FunctionCalling, "function_calling"),
        ServerMessageKind(Events.FunctionCallRequest, FunctionCallRequest, "function_call_request"),
        ServerMessageKind(
            Events.AgentStartedSpeaking, AgentStartedSpeakingResponse, "agent_started_speaking"
        ),
        ServerMessageKind(Events.AgentAudioDone, AgentAudioDoneResponse, "agent_audio_done"),
        ServerMessageKind(Events.InjectionRefused, InjectionRefusedResponse, "injection_refused"),
        ServerMessageKind(Events.Error, ErrorResponse, "error"),
        ServerMessageKind(Events.InstructionsUpdated, InstructionsUpdatedResponse, "instructions_updated"),
        ServerMessageKind(Events.SpeakUpdated, SpeakUpdatedResponse, "speak_updated"),
        ServerMessageKind(Events.Warning, WarningResponse, "warning"),
    )
}

UNHANDLED = ServerMessageKind(Events.Unhandled, UnhandledResponse, "unhandled")

CLIENT_MESSAGES: dict[str, type[Model]] = {
    "SettingsConfiguration": SettingsConfigurationOptions,
    "UpdateInstructions": UpdateInstructionsOptions,
    "UpdateSpeak": UpdateSpeakOptions,
    "InjectAgentMessage": InjectAgentMessageOptions,
    "FunctionCallResponse": FunctionCallResponse,
    "KeepAlive": AgentKeepAlive,
}


class UnknownMessageTypeError(ProtocolError):
    """A JSON message whose `type` the receiver does not know."""

    def __init__(self, type_name: str) -> None:
        super().__init__(f"Unknown message type {excerpt(type_name)}")
        self.type_name = type_name


def load_object(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"Message is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ProtocolError("Message is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer beyond Python's 4,300-digit conversion limit
        raise ProtocolError(f"Message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"Message must be a JSON object, got {type(data).__name__}")
    return data


def decode_server_message(text: str | bytes) -> tuple[ServerMessageKind, Model]:
    """Parse a server text frame. Unknown types come back as `Unhandled` with the original text."""
    data = load_object(text)
    kind = SERVER_MESSAGES.get(str(data.get("type")))
    if kind is None:
        raw = text if isinstance(text, str) else text.decode("utf-8", "replace")
        return UNHANDLED, UnhandledResponse(type="Unhandled", raw=raw)
    return kind, kind.cls.from_dict(data)


def decode_client_message(text: str | bytes) -> Model:
    """Parse a client text frame into its option class, or raise `ProtocolError`."""
    data = load_object(text)
    type_name = data.get("type")
    if not isinstance(type_name, str):
        raise ProtocolError("Message has no string field 'type'")
    cls = CLIENT_MESSAGES.get(type_name)
    if cls is None:
        raise UnknownMessageTypeError(type_name)
    try:
        return cls.from_dict(data)
    except ProtocolError as exc:
        exc.message_type = type_name
        raise


def encode(message: Model) -> str:
    """Compact JSON for the wire (the seed SDK sent settings indented; both parse the same)."""
    return message.to_json(separators=(",", ":"))
