"""Server → client messages, named and shaped as in deepgram-sdk 3.11 (protocol.md §1.9).

Required fields are the ones the seed client needs; the server must always send them. Each class carries its
wire `type` as a keyword-only default, so the server builds messages without repeating it and the required
fields keep their positional order. `InstructionsUpdated`,
`SpeakUpdated` and `Warning` are documented server messages the seed could not parse; they are modelled here.
"""

from __future__ import annotations

import dataclasses

from voicewire.protocol.base import OMIT_NONE, Model


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
    variant: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    code: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass
class UnhandledResponse(Model):
    """A message of a type this client does not know; `raw` is its original text."""

    type: str = ""
    raw: str = ""


@dataclasses.dataclass
class WelcomeResponse(Model):
    type: str = dataclasses.field(default="Welcome", kw_only=True)
    session_id: str


@dataclasses.dataclass
class SettingsAppliedResponse(Model):
    type: str = dataclasses.field(default="SettingsApplied", kw_only=True)


@dataclasses.dataclass
class ConversationTextResponse(Model):
    type: str = dataclasses.field(default="ConversationText", kw_only=True)
    role: str
    content: str


@dataclasses.dataclass
class UserStartedSpeakingResponse(Model):
    type: str = dataclasses.field(default="UserStartedSpeaking", kw_only=True)


@dataclasses.dataclass
class AgentThinkingResponse(Model):
    type: str = dataclasses.field(default="AgentThinking", kw_only=True)
    content: str


@dataclasses.dataclass
class FunctionCalling(Model):
    """A debug notice that the server is calling a function itself; extra keys are kept in `extra`."""

    type: str = dataclasses.field(default="FunctionCalling", kw_only=True)


@dataclasses.dataclass
class FunctionCallRequest(Model):
    """The agent asks the client to run a function. `input` is always JSON text of the arguments."""

    type: str = dataclasses.field(default="FunctionCallRequest", kw_only=True)
    function_name: str
    function_call_id: str
    input: str


@dataclasses.dataclass
class AgentStartedSpeakingResponse(Model):
    """Latencies in seconds from the end of the user's speech: total, text-to-speech, text-to-text."""

    type: str = dataclasses.field(default="AgentStartedSpeaking", kw_only=True)
    total_latency: float
    tts_latency: float
    ttt_latency: float


@dataclasses.dataclass
class AgentAudioDoneResponse(Model):
    type: str = dataclasses.field(default="AgentAudioDone", kw_only=True)


@dataclasses.dataclass
class InjectionRefusedResponse(Model):
    type: str = dataclasses.field(default="InjectionRefused", kw_only=True)


@dataclasses.dataclass
class InstructionsUpdatedResponse(Model):
    type: str = dataclasses.field(default="InstructionsUpdated", kw_only=True)


@dataclasses.dataclass
class SpeakUpdatedResponse(Model):
    type: str = dataclasses.field(default="SpeakUpdated", kw_only=True)


@dataclasses.dataclass
class WarningResponse(Model):
    type: str = dataclasses.field(default="Warning", kw_only=True)
    description: str = ""
    code: str = ""
