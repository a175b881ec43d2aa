"""What the SDK clients put on the wire and read from it, per dialect.

The clients' API is deepgram-sdk 3.11's, so everything above this module speaks the early-access types.
`EarlyAccessWire` writes and reads those as they are. `V1Wire` lets the same client talk to a server of the
v1 Agent API (`ClientOptions(options={"dialect": "v1"})`): settings and client messages are translated into
v1 on the way out, and v1 server messages back into the 3.11 response classes on the way in (v1-only
messages such as `History` or `PromptUpdated`'s v1 siblings arrive as `Unhandled`, as in a 3.11 client).
"""

from __future__ import annotations

import json
from typing import Any

from voicewire.client.errors import VoicewireError
from voicewire.protocol import (
    AgentKeepAlive,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    Model,
    SettingsConfigurationOptions,
    UpdateInstructionsOptions,
    UpdateSpeakOptions,
    decode_server_message,
    encode,
)
from voicewire.protocol.codec import SERVER_MESSAGES, UNHANDLED, ServerMessageKind, load_object
from voicewire.protocol.dialects import early_access, v1
from voicewire.protocol.responses import UnhandledResponse

Decoded = list[tuple[ServerMessageKind, Model]]


class EarlyAccessWire:
    name = "early-access"
    path = "/agent"

    def settings(self, settings: SettingsConfigurationOptions) -> str:
        return encode(settings)

    def message(self, message: Model) -> str:
        """A client message other than the settings."""
        return encode(message)

    def decode(self, text: str) -> Decoded:
        """A server text frame as its messages; raises `ProtocolError` for a malformed one."""
        return [decode_server_message(text)]


class V1Wire(EarlyAccessWire):
    name = "v1"
    path = "/v1/agent/converse"

    def settings(self, settings: SettingsConfigurationOptions) -> str:
        return json.dumps(v1.settings_message(early_access.settings(settings)))

    def message(self, message: Model) -> str:
        return json.dumps(_v1_message(message))

    def decode(self, text: str) -> Decoded:
        data = load_object(text)
        kind = data.get("type")
        if kind == "Welcome":
            data = {"type": "Welcome", "session_id": data.get("request_id", "")}
        elif kind == "PromptUpdated":
            data = {"type": "InstructionsUpdated"}
        elif kind == "Error":
            description = str(data.get("description", ""))
            data = {**data, "description": description, "message": description}
        elif kind == "FunctionCallRequest" and isinstance(data.get("functions"), list):
            return [_function_call(call) for call in data["functions"] if isinstance(call, dict)]
        known = SERVER_MESSAGES.get(str(data.get("type")))
        if known is None:
            return [(UNHANDLED, UnhandledResponse(type="Unhandled", raw=text))]
        return [(known, known.cls.from_dict(data))]


def _function_call(call: dict[str, Any]) -> tuple[ServerMessageKind, Model]:
    kind = SERVER_MESSAGES["FunctionCallRequest"]
    flat = {
        "type": "FunctionCallRequest",
        "function_name": call.get("name", ""),
        "function_call_id": call.get("id", ""),
        "input": call.get("arguments", "{}"),
    }
    return kind, kind.cls.from_dict(flat)


def _v1_message(message: Model) -> dict[str, Any]:
    if isinstance(message, UpdateInstructionsOptions):
        return {"type": "UpdatePrompt", "prompt": message.instructions}
    if isinstance(message, UpdateSpeakOptions):
        return {"type": "UpdateSpeak", "speak": {"provider": {"type": "deepgram", "model": message.model}}}
    if isinstance(message, InjectAgentMessageOptions):
        return {"type": "InjectAgentMessage", "message": message.message}
    if isinstance(message, FunctionCallResponse):
        return {"type": "FunctionCallResponse", "id": message.function_call_id, "content": message.output}
    if isinstance(message, AgentKeepAlive):
        return {"type": "KeepAlive"}
    raise VoicewireError(f"{type(message).__name__} has no v1 form")


WIRES = {"early-access": EarlyAccessWire, "v1": V1Wire}


def wire_for(name: object) -> EarlyAccessWire:
    """The wire of the `dialect` option: "early-access" (the default) or "v1"."""
    key = "early-access" if name is None else str(name).lower()
    if key not in WIRES:
        raise VoicewireError(f"Unknown dialect {name!r}: use 'early-access' or 'v1'")
    return WIRES[key]()
