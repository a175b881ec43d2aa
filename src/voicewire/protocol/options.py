"""Client → server messages of the "SettingsConfiguration" dialect, named and shaped as in deepgram-sdk 3.11.

Defaults and the fields omitted while None match the seed SDK (protocol.md §1.8), so
`str(SettingsConfigurationOptions())` is the exact text the seed sent. Its data bugs are fixed here:
`Parameters.properties` is a real JSON-Schema map, context messages keep their values, unknown keys survive,
and a client-side function needs no `url`/`method`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Self

from voicewire.protocol.base import OMIT_NONE, InvalidFieldError, Model

#: Deepgram model families that cannot take keyterms. Every other name (nova-3, a local model, ...) may.
_NO_KEYTERM_FAMILIES = ("nova-2", "nova", "enhanced", "base")


class KeytermsNotSupportedError(ValueError):
    """`agent.listen.keyterms` was given with a Deepgram model that cannot use them."""


def keyterms_supported(model: str) -> bool:
    """False only for the Deepgram families that predate keyterms (nova-2, nova, enhanced, base, variants)."""
    name = model.lower()
    for family in _NO_KEYTERM_FAMILIES:
        if name == family:
            return False
        if name.startswith(family + "-"):
            rest = name[len(family) + 1 :]
            # "nova-3" is its own family, not a variant of "nova".
            if family == "nova" and rest[:1].isdigit():
                continue
            return False
    return True


@dataclasses.dataclass
class Header(Model):
    key: str
    value: str


@dataclasses.dataclass
class Item(Model):
    """One property of a function's parameters (the seed's only kind of schema)."""

    type: str
    description: str


class Properties(dict[str, Any]):
    """The `properties` map of a JSON Schema: property name → schema.

    The seed SDK typed this as a dataclass with a single field `item`, so only a property literally named
    "item" could be described. `Properties(item=Item(...))` still gives `{"item": {...}}`, and any other name
    works the same way: `Properties(location=Item("string", "city"))`.
    """

    def __init__(self, mapping: dict[str, Any] | None = None, /, **properties: Any) -> None:
        super().__init__({**(mapping or {}), **properties})


@dataclasses.dataclass
class Parameters(Model):
    """A JSON Schema object for a function's arguments."""

    type: str = "object"
    properties: dict[str, Any] = dataclasses.field(default_factory=Properties)
    required: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Function(Model):
    """A function the agent may call. Without a `url` it is called by the client (FunctionCallRequest)."""

    name: str
    description: str = ""
    url: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    method: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    headers: list[Header] | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    parameters: Parameters | None = dataclasses.field(default=None, metadata=OMIT_NONE)

    @property
    def client_side(self) -> bool:
        return not self.url


@dataclasses.dataclass
class Provider(Model):
    type: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass
class Think(Model):
    provider: Provider = dataclasses.field(default_factory=Provider)
    model: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    instructions: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    functions: list[Function] | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass
class Listen(Model):
    model: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    keyterms: list[str] | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass
class Speak(Model):
    model: str | None = dataclasses.field(default="aura-asteria-en", metadata=OMIT_NONE)
    provider: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    voice_id: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


@dataclasses.dataclass
class Agent(Model):
    listen: Listen = dataclasses.field(default_factory=Listen)
    think: Think = dataclasses.field(default_factory=Think)
    speak: Speak = dataclasses.field(default_factory=Speak)


@dataclasses.dataclass
class Input(Model):
    encoding: str | None = "linear16"
    sample_rate: int | None = 16000


@dataclasses.dataclass
class Output(Model):
    encoding: str | None = "linear16"
    sample_rate: int | None = 16000
    bitrate: int | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    container: str | None = "none"


@dataclasses.dataclass
class Audio(Model):
    input: Input = dataclasses.field(default_factory=Input)
    output: Output = dataclasses.field(default_factory=Output)


ContextMessage = tuple[str, str] | dict[str, Any]


@dataclasses.dataclass
class Context(Model):
    """Earlier conversation to restore: `(role, content)` pairs or `{"role", "content"}` objects.

    Pairs are written as `[role, content]` like the seed SDK wrote them; objects stay objects. Either way the
    values survive (the seed turned objects into `["role", "content"]`).
    """

    messages: list[ContextMessage] | None = dataclasses.field(default=None, metadata=OMIT_NONE)
    replay: bool = False

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        context = super().from_dict(data)
        if context.messages is not None:
            context.messages = [_context_message(m, i) for i, m in enumerate(context.messages)]
        return context

    def turns(self) -> list[tuple[str, str]]:
        """The messages as `(role, content)` pairs, whichever form they came in."""
        return [_as_pair(m) for m in self.messages or []]


def _context_message(message: Any, index: int) -> ContextMessage:
    if isinstance(message, list | tuple) and len(message) == 2 and all(isinstance(v, str) for v in message):
        return (message[0], message[1])
    if isinstance(message, dict) and isinstance(message.get("role"), str) and "content" in message:
        return message
    raise InvalidFieldError(
        f"Context.messages[{index}] must be a [role, content] pair or a {{role, content}} object"
    )


def _as_pair(message: ContextMessage) -> tuple[str, str]:
    if isinstance(message, dict):
        return (str(message["role"]), str(message.get("content") or ""))
    return message


@dataclasses.dataclass
class SettingsConfigurationOptions(Model):
    """The first message of a session: audio formats and the listen/think/speak configuration."""

    type: str = "SettingsConfiguration"
    audio: Audio = dataclasses.field(default_factory=Audio)
    agent: Agent = dataclasses.field(default_factory=Agent)
    context: Context | None = dataclasses.field(default=None, metadata=OMIT_NONE)

    def check(self) -> bool:
        """Reject keyterms for Deepgram models that cannot take them (the seed rejected all but nova-3)."""
        listen = self.agent.listen
        if listen.keyterms and listen.model and not keyterms_supported(listen.model):
            raise KeytermsNotSupportedError(f"Keyterms are not supported by the model {listen.model!r}")
        return True


@dataclasses.dataclass
class UpdateInstructionsOptions(Model):
    type: str = "UpdateInstructions"
    instructions: str = ""


@dataclasses.dataclass
class UpdateSpeakOptions(Model):
    type: str = "UpdateSpeak"
    model: str = ""


@dataclasses.dataclass
class InjectAgentMessageOptions(Model):
    type: str = "InjectAgentMessage"
    message: str = ""


@dataclasses.dataclass
class FunctionCallResponse(Model):
    type: str = "FunctionCallResponse"
    function_call_id: str = ""
    output: str = ""


@dataclasses.dataclass
class AgentKeepAlive(Model):
    type: str = "KeepAlive"
