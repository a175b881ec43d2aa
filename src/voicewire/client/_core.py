"""What the thread client and the asyncio client share, with no I/O in it.

Turning `start()` arguments into a URL, headers and the settings text; parsing option flags; building the
devices the options ask for; turning a text frame into `(event, handler keywords)`; the messages the typed
helpers send. The I/O layers (`sync.py`, `asyncio.py`) only move frames and call handlers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed

from voicewire.client.devices import CHANNELS, PLAYBACK_DELTA, RATE, Microphone, Speaker
from voicewire.client.dialects import EarlyAccessWire, wire_for
from voicewire.client.errors import KeytermsError, SettingsError, VoicewireError
from voicewire.client.options import (
    DEFAULT_PATH,
    ClientOptions,
    parse_bool,
    set_log_level,
    websocket_url,
    with_query,
)
from voicewire.protocol import (
    AgentKeepAlive,
    AgentWebSocketEvents,
    ErrorResponse,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    KeytermsNotSupportedError,
    ProtocolError,
    SettingsConfigurationOptions,
    UpdateInstructionsOptions,
    UpdateSpeakOptions,
)

Events = AgentWebSocketEvents
#: A user handler: called as `handler(client, <keyword>=payload, **start_kwargs)`; may return an awaitable
#: (the asyncio client awaits it).
Handler = Callable[..., object]
SettingsLike = SettingsConfigurationOptions | Mapping[str, Any] | str | bytes

#: Seconds between KeepAlive messages, as in the seed; the option `keepalive_interval` overrides it.
KEEPALIVE_INTERVAL = 5.0
#: How long `finish()` waits for the server to answer the close handshake.
CLOSE_TIMEOUT = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class Behaviour:
    """The option flags a connection reads.

    Parsed when the client is built, so a bad value fails early, and again by `start()`, since the options
    dict may have changed in between; never on the per-message path.
    """

    keepalive: bool = False
    keepalive_interval: float = KEEPALIVE_INTERVAL
    termination_exception: bool = False
    termination_exception_connect: bool = False
    termination_exception_send: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Behaviour:
        def flag(name: str) -> bool:
            return parse_bool(options.get(name), name)

        interval = float(options.get("keepalive_interval", KEEPALIVE_INTERVAL))
        if interval <= 0:
            raise VoicewireError(f"keepalive_interval must be positive, got {interval}")
        return cls(
            keepalive=flag("keepalive") or flag("keep_alive"),
            keepalive_interval=interval,
            termination_exception=flag("termination_exception"),
            termination_exception_connect=flag("termination_exception_connect"),
            termination_exception_send=flag("termination_exception_send"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """Everything needed to open one connection."""

    url: str
    headers: dict[str, str]
    settings: str

    @property
    def safe_url(self) -> str:
        """The URL without its query, for logs: addons may carry tokens."""
        return self.url.partition("?")[0]


class Terminate(Exception):
    """Unwinds the listener after an error when `termination_exception` is set; carries the original error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def settings_from(options: object) -> SettingsConfigurationOptions:
    """Accept settings as an object, a dict or JSON text, like the seed's `start()`; unknown keys are kept."""
    if not isinstance(options, SettingsConfigurationOptions | Mapping | str | bytes):
        raise VoicewireError("Invalid options type")
    try:
        if isinstance(options, SettingsConfigurationOptions):
            settings = options
        elif isinstance(options, Mapping):
            settings = SettingsConfigurationOptions.from_dict(dict(options))
        else:
            settings = SettingsConfigurationOptions.from_json(options)
        settings.check()
    except KeytermsNotSupportedError as exc:
        raise KeytermsError(str(exc)) from exc
    except ProtocolError as exc:
        raise SettingsError(f"Invalid settings: {exc}") from exc
    return settings


def devices_from(
    options: Mapping[str, Any], microphone: Microphone | None, speaker: Speaker | None
) -> tuple[Microphone | None, Speaker | None]:
    """The devices the seed's `microphone_record*` / `speaker_playback*` options ask for.

    Devices passed in explicitly win. `speaker_playback_mute_microphone` hands the microphone to the
    speaker so it is muted while the agent talks; by default it is not, so the user can barge in.
    """
    if microphone is None and parse_bool(options.get("microphone_record"), "microphone_record"):
        microphone = Microphone(
            rate=int(options.get("microphone_record_rate", RATE)),
            channels=int(options.get("microphone_record_channels", CHANNELS)),
            input_device_index=options.get("microphone_record_device_index"),
        )
    if speaker is None and parse_bool(options.get("speaker_playback"), "speaker_playback"):
        mute = parse_bool(options.get("speaker_playback_mute_microphone"), "speaker_playback_mute_microphone")
        speaker = Speaker(
            rate=int(options.get("speaker_playback_rate", RATE)),
            channels=int(options.get("speaker_playback_channels", CHANNELS)),
            last_play_delta_in_ms=int(options.get("speaker_playback_delta_in_ms", PLAYBACK_DELTA)),
            output_device_index=options.get("speaker_playback_device_index"),
            microphone=microphone if mute else None,
        )
    return microphone, speaker


def closed_abnormally(exc: ConnectionClosed) -> bool:
    """1000/1001 are a normal goodbye; any other code, or no close frame at all, is reported as an Error."""
    return exc.rcvd is None or exc.rcvd.code not in (1000, 1001)


class ClientCore:
    """State and decisions shared by `AgentWebSocketClient` and `AsyncAgentWebSocketClient`."""

    def __init__(
        self,
        config: ClientOptions | None = None,
        *,
        microphone: Microphone | None = None,
        speaker: Speaker | None = None,
    ) -> None:
        self._config = config if config is not None else ClientOptions()
        set_log_level(self._config.verbose)
        #: Read at connect time, so `start(members={"_websocket_url": url})` redirects like in the seed.
        self._websocket_url = self._config.url
        self._handlers: dict[AgentWebSocketEvents, list[Handler]] = {event: [] for event in Events}
        self._kwargs: dict[str, Any] = {}
        self._settings: SettingsConfigurationOptions | None = None
        self._behaviour = Behaviour.from_options(self._config.options)
        self._wire: EarlyAccessWire = wire_for(self._config.options.get("dialect"))
        self._microphone, self._speaker = devices_from(self._config.options, microphone, speaker)
        if self._speaker is not None:
            self._attach_speaker(self._speaker)

    def on(self, event: AgentWebSocketEvents | str, handler: Handler) -> None:
        """Register `handler` for `event`.

        The seed ignored an unknown event or a non-callable, so a typo meant a handler that never ran;
        here both are errors.
        """
        try:
            key = Events(event)
        except ValueError:
            raise VoicewireError(f"Unknown event {event!r}") from None
        if not callable(handler):
            raise VoicewireError(f"Handler for {key} is not callable")
        self._handlers[key].append(handler)

    def _attach_speaker(self, speaker: Speaker) -> None:
        def play(_client: object, data: bytes, **_: Any) -> None:
            speaker.add_audio_to_queue(data)

        def barge_in(_client: object, **_: Any) -> None:
            speaker.flush()

        self._handlers[Events.AudioData].append(play)
        self._handlers[Events.UserStartedSpeaking].append(barge_in)

    def _prepare(
        self,
        options: object,
        addons: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        members: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> Plan:
        if members:
            self.__dict__.update(members)
        self._settings = settings_from(options)
        self._wire = wire_for(self._config.options.get("dialect"))
        try:
            settings_text = self._wire.settings(self._settings)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"Settings cannot be written as JSON: {exc}") from exc
        self._kwargs = kwargs
        self._behaviour = Behaviour.from_options(self._config.options)
        url = websocket_url(self._websocket_url)
        parts = urlsplit(url)
        if parts.path == DEFAULT_PATH:  # the default path is the early-access one
            url = urlunsplit(parts._replace(path=self._wire.path))
        url = with_query(url, addons)
        return Plan(url=url, headers={**self._config.headers, **(headers or {})}, settings=settings_text)

    def _decode(self, text: str) -> list[tuple[AgentWebSocketEvents, dict[str, Any]]]:
        """A text frame as `(event, handler keywords)` pairs; raises `ProtocolError` for a malformed frame."""
        return [(kind.event, self._payload(kind.kwarg, message)) for kind, message in self._wire.decode(text)]

    def _keep_alive_text(self) -> str:
        return self._wire.message(AgentKeepAlive())

    def _instructions_text(self, instructions: str) -> str:
        return self._wire.message(UpdateInstructionsOptions(instructions=instructions))

    def _speak_text(self, model: str) -> str:
        return self._wire.message(UpdateSpeakOptions(model=model))

    def _inject_text(self, message: str) -> str:
        return self._wire.message(InjectAgentMessageOptions(message=message))

    def _function_call_response_text(
        self, function_call_id: str | FunctionCallResponse, output: object = ""
    ) -> str:
        """The reply to a FunctionCallRequest; non-text output is sent as JSON text, as the protocol asks."""
        if not isinstance(function_call_id, FunctionCallResponse):
            text = output if isinstance(output, str) else json.dumps(output)
            function_call_id = FunctionCallResponse(function_call_id=function_call_id, output=text)
        return self._wire.message(function_call_id)

    def _payload(self, key: str, value: object) -> dict[str, Any]:
        """Handler keywords: the event's payload plus the `start()` kwargs, the payload winning a clash."""
        if self._kwargs:
            return {**self._kwargs, key: value}
        return {key: value}

    def _error_payload(self, description: str, error: object, kind: str = "Exception") -> dict[str, Any]:
        return self._payload("error", ErrorResponse(description=description, message=str(error), type=kind))

    def _where(self, what: str) -> str:
        return f"Exception in {type(self).__name__}.{what}"
