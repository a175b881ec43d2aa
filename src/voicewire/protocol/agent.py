"""voicewire's own, dialect-neutral vocabulary between a wire format and the session.

Every wire format (the early-access "SettingsConfiguration" dialect, Deepgram's v1 "Settings" dialect, Twilio
Media Streams) decodes client frames into a `Command` and encodes each `Event` into a frame of its own, or
into nothing where it has no such message. The session sees only these types, so it never knows which
format a client speaks, and a new format is a new translation module, not a change to the session.

Commands are dispatched with `match` and `assert_never`: a command type added here and forgotten in the
session is a type error.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any


class ErrorCode(enum.StrEnum):
    """Codes of `Error` events: Deepgram's v1 names where one fits, so clients can branch on them."""

    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    CLIENT_MESSAGE_TIMEOUT = "CLIENT_MESSAGE_TIMEOUT"
    #: Malformed JSON, an unknown `type`, a message too large, or a message missing a required field.
    UNPARSABLE_CLIENT_MESSAGE = "UNPARSABLE_CLIENT_MESSAGE"
    NON_SETTINGS_MESSAGE_BEFORE_SETTINGS = "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS"
    SETTINGS_ALREADY_APPLIED = "SETTINGS_ALREADY_APPLIED"
    #: Settings (or an update) that name something this server cannot serve, or a prompt beyond
    #: `max_instructions_bytes`.
    INVALID_SETTINGS = "INVALID_SETTINGS"
    USER_AUDIO_FORMAT = "USER_AUDIO_FORMAT"
    THINK_REQUEST_FAILED = "THINK_REQUEST_FAILED"
    SPEAK_REQUEST_FAILED = "SPEAK_REQUEST_FAILED"
    FUNCTION_CALL_FAILED = "FUNCTION_CALL_FAILED"
    #: A function response whose id matches no outstanding request (not a Deepgram code).
    UNKNOWN_FUNCTION_CALL_ID = "UNKNOWN_FUNCTION_CALL_ID"


class WarningCode(enum.StrEnum):
    """Codes of `Warning` events; only dialects that have a Warning message send them."""

    #: Audio sent before the settings overflowed the bounded buffer; the oldest was dropped.
    AUDIO_BUFFER_OVERFLOW = "AUDIO_BUFFER_OVERFLOW"
    #: Settings asked for an LLM provider the server has not configured; the local model answers instead.
    PROVIDER_FALLBACK = "PROVIDER_FALLBACK"
    #: A remote STT/TTS engine failed and the local engine served instead (not a Deepgram code).
    REMOTE_ENGINE_FALLBACK = "REMOTE_ENGINE_FALLBACK"
    #: The settings asked for a language the English engines cannot serve; they answer in English.
    LANGUAGE_NOT_SUPPORTED = "LANGUAGE_NOT_SUPPORTED"


# -- settings -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    """An audio format as the client asked for it; None means "the default" (the session checks values)."""

    encoding: str | None = None
    sample_rate: int | None = None
    container: str | None = None


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """An HTTP endpoint named by a client: a server-side function or a bring-your-own LLM."""

    url: str
    method: str | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FunctionSpec:
    """A function the agent may call: by the server at `endpoint`, or by the client when it has none."""

    name: str
    description: str = ""
    #: A JSON Schema object.
    parameters: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    endpoint: Endpoint | None = None

    @property
    def client_side(self) -> bool:
        return self.endpoint is None


@dataclasses.dataclass(frozen=True)
class ListenSettings:
    provider: str | None = None
    model: str | None = None
    keyterms: tuple[str, ...] = ()
    language: str | None = None


@dataclasses.dataclass(frozen=True)
class ThinkProvider:
    """One LLM choice; a list of them is tried in order when an engine cannot be had."""

    type: str | None = None
    model: str | None = None
    temperature: float | None = None
    endpoint: Endpoint | None = None


@dataclasses.dataclass(frozen=True)
class SpeakProvider:
    """One voice choice; `model` is the voice name (`aura-2-thalia-en`, a Piper or eSpeak voice)."""

    type: str | None = None
    model: str | None = None
    language: str | None = None


@dataclasses.dataclass(frozen=True)
class FunctionCallRecord:
    """A function call that is part of a conversation's history."""

    id: str
    name: str
    arguments: str
    response: str
    client_side: bool = True


@dataclasses.dataclass(frozen=True)
class HistoryItem:
    """One message of a conversation: text by a role, or function calls with their results."""

    role: str = ""
    content: str = ""
    function_calls: tuple[FunctionCallRecord, ...] = ()


@dataclasses.dataclass(frozen=True)
class ThinkSettings:
    providers: tuple[ThinkProvider, ...] = (ThinkProvider(),)
    #: None keeps the server's default prompt.
    prompt: str | None = None
    functions: tuple[FunctionSpec, ...] = ()


@dataclasses.dataclass(frozen=True)
class AgentSettings:
    """Everything a session is configured with, whichever dialect said it."""

    input: AudioFormat = AudioFormat()
    output: AudioFormat = AudioFormat()
    listen: ListenSettings = ListenSettings()
    think: ThinkSettings = ThinkSettings()
    speak: tuple[SpeakProvider, ...] = (SpeakProvider(),)
    greeting: str | None = None
    language: str | None = None
    #: Earlier conversation to restore.
    context: tuple[HistoryItem, ...] = ()
    #: Speak the last assistant message of `context` again (early access only).
    replay: bool = False
    #: Send `History` events as the conversation grows.
    history: bool = False


# -- commands: client → session -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Configure:
    settings: AgentSettings


@dataclasses.dataclass(frozen=True)
class UserAudio:
    """Audio in the session's input format (before the settings: whatever the client sends)."""

    data: bytes


@dataclasses.dataclass(frozen=True)
class UpdatePrompt:
    """Appended to the system prompt."""

    text: str


@dataclasses.dataclass(frozen=True)
class UpdateSpeak:
    providers: tuple[SpeakProvider, ...]


@dataclasses.dataclass(frozen=True)
class UpdateThink:
    think: ThinkSettings


@dataclasses.dataclass(frozen=True)
class UpdateListen:
    listen: ListenSettings


@dataclasses.dataclass(frozen=True)
class InjectAgentText:
    """Text the agent speaks as it is."""

    text: str


@dataclasses.dataclass(frozen=True)
class InjectUserText:
    """A user turn given as text: answered like speech, without STT."""

    text: str


@dataclasses.dataclass(frozen=True)
class FunctionResult:
    call_id: str
    content: str
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class KeepAlive:
    pass


Command = (
    Configure
    | UserAudio
    | UpdatePrompt
    | UpdateSpeak
    | UpdateThink
    | UpdateListen
    | InjectAgentText
    | InjectUserText
    | FunctionResult
    | KeepAlive
)


class CommandError(ValueError):
    """A client frame that cannot become a command; its text is shown to the client with `code`."""

    def __init__(self, code: ErrorCode, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class CloseConnection(Exception):
    """A client frame after which the connection must end, raised by a wire format's `decode`.

    Transports speak for themselves here: a phone bridge whose caller gave the wrong shared secret is closed
    with 1008 (policy violation), one whose call ended with 1000. The connection sends what is already queued,
    then closes with `code` and `reason` (cut to the 123 bytes a WebSocket close frame allows), and reads
    nothing more from the client.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason.encode()[:_MAX_CLOSE_REASON_BYTES].decode("utf-8", "ignore")


_MAX_CLOSE_REASON_BYTES = 123


# -- events: session → client -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Welcome:
    session_id: str


@dataclasses.dataclass(frozen=True)
class SettingsApplied:
    pass


@dataclasses.dataclass(frozen=True)
class ConversationText:
    role: str
    content: str


@dataclasses.dataclass(frozen=True)
class UserStartedSpeaking:
    pass


@dataclasses.dataclass(frozen=True)
class FunctionCallStarted:
    """The agent calls a function: the client must answer it (`client_side`), or the server calls it."""

    id: str
    name: str
    #: JSON text.
    arguments: str
    client_side: bool


@dataclasses.dataclass(frozen=True)
class FunctionCallFinished:
    """A server-side call's result, so the client sees what the agent was told."""

    id: str
    name: str
    content: str


@dataclasses.dataclass(frozen=True)
class AgentStartedSpeaking:
    """Latencies in seconds (see `server.metrics`)."""

    total_latency: float
    tts_latency: float
    ttt_latency: float


@dataclasses.dataclass(frozen=True)
class AgentAudio:
    """Agent audio in the session's output format (or a WAV header opening a reply)."""

    data: bytes


@dataclasses.dataclass(frozen=True)
class AgentAudioDone:
    pass


@dataclasses.dataclass(frozen=True)
class PromptUpdated:
    pass


@dataclasses.dataclass(frozen=True)
class SpeakUpdated:
    pass


@dataclasses.dataclass(frozen=True)
class ThinkUpdated:
    pass


@dataclasses.dataclass(frozen=True)
class ListenUpdated:
    pass


@dataclasses.dataclass(frozen=True)
class InjectionRefused:
    message: str


@dataclasses.dataclass(frozen=True)
class HistoryAdded:
    item: HistoryItem


@dataclasses.dataclass(frozen=True)
class Warning:
    code: WarningCode
    description: str


@dataclasses.dataclass(frozen=True)
class Error:
    code: ErrorCode
    description: str


Event = (
    Welcome
    | SettingsApplied
    | ConversationText
    | UserStartedSpeaking
    | FunctionCallStarted
    | FunctionCallFinished
    | AgentStartedSpeaking
    | AgentAudio
    | AgentAudioDone
    | PromptUpdated
    | SpeakUpdated
    | ThinkUpdated
    | ListenUpdated
    | InjectionRefused
    | HistoryAdded
    | Warning
    | Error
)
