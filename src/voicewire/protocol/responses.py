"""Server → client messages, named and shaped as in deepgram-sdk 3.11 (protocol.md §1.9).

Required fields are the ones the seed client needs; the server must always send them. Each class carries its
wire `type` as a keyword-only default, so the server builds messages without repeating it and the required
fields keep their positional order. `InstructionsUpdated`,
`SpeakUpdated` and `Warning` are documented server messages the seed could not parse; they are modelled here.
"""

from __future__ import annotations

import dataclasses

from voicewire.protocol.base import Model, omitted_when_none, wire_type


@dataclasses.dataclass
class OpenResponse(Model):
    type: str = ""


@dataclasses.dataclass
class CloseResponse(Model):
    type: str = ""


@dataclasses.dataclass
class ErrorResponse(Model):
    """An error, from the server or raised in the client. `code` is the v1 machine-readable code."""

    description: str = ""
    message: str = ""
    type: str = ""
    variant: str | None = omitted_when_none()
    code: str | None = omitted_when_none()


@dataclasses.dataclass
class UnhandledResponse(Model):
    """A message of a type this client does not know; `raw` is its original text."""

    type: str = ""
    raw: str = ""


@dataclasses.dataclass
class WelcomeResponse(Model):
    type: str = wire_type("Welcome")
    session_id: str


@dataclasses.dataclass
class SettingsAppliedResponse(Model):
    type: str = wire_type("SettingsApplied")


@dataclasses.dataclass
class ConversationTextResponse(Model):
    type: str = wire_type("ConversationText")
    role: str
    content: str


@dataclasses.dataclass
class UserStartedSpeakingResponse(Model):
    type: str = wire_type("UserStartedSpeaking")


@dataclasses.dataclass
class AgentThinkingResponse(Model):
    type: str = wire_type("AgentThinking")
    content: str


@dataclasses.dataclass
class FunctionCalling(Model):
    """A debug notice that the server is calling a function itself; extra keys are kept in `extra`."""

    type: str = wire_type("FunctionCalling")


@dataclasses.dataclass
class FunctionCallRequest(Model):
    """The agent asks the client to run a function. `input` is always JSON text of the arguments."""

    type: str = wire_type("FunctionCallRequest")
    function_name: str
    function_call_id: str
    input: str


@dataclasses.dataclass
class AgentStartedSpeakingResponse(Model):
    """Latencies in seconds from the end of the user's speech: total, text-to-speech, text-to-text."""

    type: str = wire_type("AgentStartedSpeaking")
    total_latency: float
    tts_latency: float
    ttt_latency: float


@dataclasses.dataclass
class AgentAudioDoneResponse(Model):
    type: str = wire_type("AgentAudioDone")


@dataclasses.dataclass
class InjectionRefusedResponse(Model):
    type: str = wire_type("InjectionRefused")


@dataclasses.dataclass
class InstructionsUpdatedResponse(Model):
    type: str = wire_type("InstructionsUpdated")


@dataclasses.dataclass
class SpeakUpdatedResponse(Model):
    type: str = wire_type("SpeakUpdated")


@dataclasses.dataclass
class WarningResponse(Model):
    type: str = wire_type("Warning")
    description: str = ""
    code: str = ""
