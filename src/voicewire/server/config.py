"""Server settings: a TOML or JSON file, then `VOICEWIRE_*` environment variables on top.

Everything a client could abuse is bounded here (frame sizes, session count, idle time, which hosts functions
may reach), and every bound can be changed without code. Unknown keys are errors, so a typo in a limit
cannot silently leave the default in force.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from voicewire.protocol.agent import AgentSettings, FunctionSpec, SpeakProvider, ThinkSettings
from voicewire.server.functions import host_allowed

ENV_PREFIX = "VOICEWIRE_"
#: Shorter keys could be guessed despite the throttling in `server.auth`.
MIN_API_KEY_CHARS = 16


TurnDetectorName = Literal["smart-turn", "silence"]


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclasses.dataclass(frozen=True)
class TurnConfig:
    """Turn-taking, in milliseconds of audio and VAD probabilities (see `server.turns`)."""

    #: Probability at or above which a window counts as speech (and may start an utterance).
    speech_threshold: float = 0.5
    #: Probability below which a window counts as silence once speech has started (hysteresis).
    silence_threshold: float = 0.35
    #: Consecutive speech windows (32 ms each) needed for an onset; fewer are treated as clicks.
    onset_windows: int = 3
    #: Silence after speech that ends the user's turn. A user who goes on within the next moment is not lost:
    #: speech during STT carries the turn's audio into the next one, and speech during the reply barges in.
    end_of_turn_ms: int = 300
    #: Utterances with less speech than this are dropped as noise (no reply).
    min_speech_ms: int = 150
    #: Audio kept from before the onset, so the first syllable is not clipped.
    preroll_ms: int = 200
    #: Silence kept after the last speech window in the utterance given to STT; also when speculative STT
    #: starts. Silero already trails the true end of speech by about 80 ms, so the utterance ends in ~150 ms
    #: of quiet.
    tail_ms: int = 64
    #: An utterance this long ends the turn even without a pause (bounds memory; Whisper reads 30 s).
    max_utterance_ms: int = 30_000
    #: Speech this long without a pause is handed to STT up to its quietest recent window, so a long turn
    #: spoken without a pause long enough to count is still transcribed piece by piece (`incremental_stt`)
    #: and not whole, on Whisper's padded 30 s path, at its end. 0: pieces end at pauses only.
    checkpoint_ms: int = 8000
    #: Start STT once `tail_ms` of silence has passed and reuse it if the turn then ends unchanged. Whisper
    #: costs about as much as the end-of-turn wait, so this hides most of it; each pause that the user
    #: talks through costs one wasted transcription.
    speculative_stt: bool = True
    #: With speculative STT: once its transcript is ready, start the reply too (LLM and TTS of the first
    #: piece), held until the turn ends and sent at once then, or dropped if the user goes on. The reply then
    #: waits for STT + LLM + TTS from the first pause, not from the end of turn. Each pause the user talks
    #: through may cost the first piece's LLM and TTS work.
    speculative_reply: bool = True
    #: A speculative reply's audio starts no sooner than this after the end of speech, so a turn ended too
    #: soon costs nothing audible if the user goes on within it; a turn that ends later still gets its
    #: prepared reply at once. 0 by default: at 600 ms, `bench turns --live` still had 5 replies started
    #: inside the sentence (the preamble's false ends come at pauses of 0.6-1.2 s), and every reply waited
    #: at least about 0.7 s from the true end of speech, the latency target itself.
    speculative_reply_delay_ms: int = 0
    #: What ends a turn. "smart-turn": after `eot_check_ms` of silence the Smart Turn model judges from the
    #: words and intonation whether the user has finished, and asks again every `eot_recheck_ms` while the
    #: silence lasts, up to `max_eot_silence_ms`; used when the server has the model loaded, else "silence".
    #: "silence": `end_of_turn_ms` of silence ends the turn, a mid-sentence pause included.
    detector: TurnDetectorName = "smart-turn"
    #: About 240 ms after the true end of speech, since Silero trails it by about 80 ms. Asking at 96 ms
    #: took 45 ms off the end-of-turn wait but left Whisper less time to finish inside it (10-40 ms net at
    #: p50), and through the server the preamble's reader was cut into 10 turns with 4 replies started
    #: mid-sentence, against 5 and 1 at 160 ms (`voicewire bench turns --live`).
    eot_check_ms: int = 160
    eot_recheck_ms: int = 320
    #: P(complete) at or above which Smart Turn ends the turn.
    eot_threshold: float = 0.5
    #: Silence that ends a turn whatever the model says (the user may just have gone quiet).
    max_eot_silence_ms: int = 1600
    #: A turn that ended at most this long before the next onset is played to the model before it: after a
    #: turn ended inside a sentence ("And so my fellow Americans —"), the next fragment ("ask not —") alone
    #: sounds finished (Smart Turn 0.9) but not after it (0.04).
    eot_context_ms: int = 2000
    #: Added to `eot_check_ms` each time the user speaks again within `eot_context_ms` of a turn's end (a turn
    #: ended mid-sentence), taken off again by each utterance after a longer gap.
    eot_patience_step_ms: int = 320
    #: While agent audio is playing, speech must last this long before it interrupts the agent, so a
    #: cough, a click or an "mm-hm" does not; a shorter sound interrupts only if STT hears in it a word
    #: people cut in with ("Stop.", "Wait.": `server.interruptions`). When the agent is silent, an onset
    #: starts the user's turn at once. Chosen with `voicewire bench turns`: at 300 ms every synthesised
    #: backchannel still interrupted (false barge-ins 17%), at 500 ms half did (8%), and a real interruption
    #: is decided about 0.74 s after its onset instead of 0.39 s.
    barge_in_min_speech_ms: int = 500
    #: A user who speaks again within this long of the end of their turn interrupts the agent once the
    #: speech lasts `min_speech_ms`, not `barge_in_min_speech_ms`: that turn most likely ended inside the
    #: sentence, and the agent should stop for the rest of it at once rather than talk over it for half a
    #: second. 0: every barge-in needs `barge_in_min_speech_ms`.
    resume_barge_in_ms: int = 2000


@dataclasses.dataclass(frozen=True)
class AgentProfile:
    """An agent for phone calls: one of `[twilio.profiles]`, whose unset keys come from `[twilio]`."""

    #: The system prompt (unset: the server's default prompt).
    prompt: str | None = None
    #: A voice name, as in `speak.model` (unset: the default voice).
    voice: str | None = None
    #: Spoken when the call connects.
    greeting: str | None = None
    #: Server-side functions: each needs an `endpoint` on the `function_call_allowlist` (a phone has no
    #: client to run a function). `[[twilio.functions]]` tables with name, description, parameters (a JSON
    #: Schema) and an `endpoint` table of url, method and headers. Not in the repr: headers carry secrets.
    functions: tuple[FunctionSpec, ...] | None = dataclasses.field(default=None, repr=False)

    def over(self, base: AgentProfile) -> AgentProfile:
        """This profile with what it leaves unset taken from `base`."""
        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return dataclasses.replace(base, **{name: value for name, value in mine.items() if value is not None})

    def settings(self) -> AgentSettings:
        """The session settings, except the audio formats, which are the transport's."""
        return AgentSettings(
            think=ThinkSettings(prompt=self.prompt, functions=self.functions or ()),
            speak=(SpeakProvider(model=self.voice),),
            greeting=self.greeting,
        )


@dataclasses.dataclass(frozen=True)
class TwilioConfig:
    """The `[twilio]` section: phone calls through Twilio Media Streams at `/twilio` (see docs/twilio.md)."""

    #: The shared secret Twilio passes as the `token` stream parameter; empty turns `/twilio` off.
    #: Set it with `VOICEWIRE_TWILIO_TOKEN` to keep it out of the file.
    token: str = dataclasses.field(default="", repr=False)
    prompt: str | None = None
    voice: str | None = None
    greeting: str | None = None
    functions: tuple[FunctionSpec, ...] = dataclasses.field(default=(), repr=False)
    #: Named agents the `profile` stream parameter may pick; their unset keys come from this section.
    profiles: Mapping[str, AgentProfile] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def default(self) -> AgentProfile:
        return AgentProfile(self.prompt, self.voice, self.greeting, self.functions)

    def profile_settings(self) -> dict[str, AgentSettings]:
        return {name: profile.over(self.default).settings() for name, profile in self.profiles.items()}

    def check(self, allowlist: tuple[str, ...], max_instructions_bytes: int) -> None:
        """What would make every call fail (silently, since Twilio has no error message) fails the start."""
        agents = {"twilio": self.default} | {
            f"twilio.profiles.{n}": p.over(self.default) for n, p in self.profiles.items()
        }
        for where, agent in agents.items():
            if agent.prompt and len(agent.prompt.encode("utf-8")) > max_instructions_bytes:
                raise ConfigError(f"{where}.prompt is longer than max_instructions_bytes")
            for function in agent.functions or ():
                if function.endpoint is None:
                    raise ConfigError(
                        f"{where}.functions: {function.name!r} has no endpoint (phone calls have no client "
                        "to run a function; give it an [endpoint] with a url)"
                    )
                if not host_allowed(function.endpoint.url, allowlist):
                    raise ConfigError(
                        f"{where}.functions: {function.name!r} calls a host that is not on "
                        "function_call_allowlist"
                    )


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Keys a client must present; empty means no authentication (then only loopback unless `insecure`).
    api_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    #: Allow binding a non-loopback address without API keys.
    insecure: bool = False
    #: Web pages other than the server's own that may connect (`scheme://host[:port]`, or `null`). Browsers
    #: send their page's Origin; any other origin gets HTTP 403. Programs send none and are not affected.
    allowed_origins: tuple[str, ...] = ()
    #: Host names besides loopback ones that a server bound to loopback answers to: the public name of a
    #: tunnel or proxy in front of it (e.g. for Twilio). Any other Host gets HTTP 403 (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    max_sessions: int = 16
    max_text_frame_bytes: int = 256 * 1024
    max_binary_frame_bytes: int = 1024 * 1024
    #: The system prompt, including every `UpdateInstructions` appended to it.
    max_instructions_bytes: int = 64 * 1024
    #: Text one InjectAgentMessage (or the greeting) may ask the agent to speak; beyond, an Error.
    max_inject_chars: int = 4000
    #: Events queued for a client that does not read (agent audio excluded: it is paced and back-pressured);
    #: a client that falls this far behind is disconnected (close code 1008).
    max_outbox_bytes: int = 4 * 1024 * 1024
    #: Audio buffered while waiting for settings (10 s of 48 kHz linear16); beyond, the oldest is dropped.
    pre_settings_audio_bytes: int = 10 * 48000 * 2
    #: A session with no message and no audio for this long gets an Error (CLIENT_MESSAGE_TIMEOUT), then a
    #: close with code 1000: the 3.11 client reports 1000 as a plain Close, anything else as a second Error.
    idle_timeout_s: float = 10.0
    #: Agent audio is sent at most this many times faster than real time.
    output_pacing: float = 2.0
    #: Largest agent audio frame, in milliseconds of audio.
    output_chunk_ms: int = 100
    function_call_timeout_s: float = 30.0
    #: `host` or `host:port` entries that server-side functions may call. A bare host allows only the
    #: scheme's default port. Empty: no server-side function may be called (settings come from clients).
    function_call_allowlist: tuple[str, ...] = ()
    #: LLM rounds that may end in tool calls within one reply.
    max_tool_rounds: int = 4
    #: Turn records kept per session for benchmarks and /metrics.
    metrics_history: int = 100
    #: Conversation messages a session keeps (the LLM sees what fits its context of them); the oldest go.
    max_history_messages: int = 400
    #: Server processes sharing the port (SO_REUSEPORT), each with its own engines (`serve --workers`).
    workers: int = 1
    #: On SIGTERM: how long live sessions may go on (no new ones are accepted) before a close with 1001.
    drain_timeout_s: float = 30.0
    turns: TurnConfig = dataclasses.field(default_factory=TurnConfig)
    #: The `[engines]` table, handed to `EngineConfig.from_mapping`.
    engines: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    twilio: TwilioConfig = dataclasses.field(default_factory=TwilioConfig)

    def check(self) -> None:
        """Refuse settings that would expose an unauthenticated server or break the pipeline."""
        if not self.api_keys and not self.insecure and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to listen on {self.host!r} without API keys: set api_keys "
                "(or VOICEWIRE_API_KEYS), bind 127.0.0.1, or pass --insecure"
            )
        short = [key for key in self.api_keys if len(key) < MIN_API_KEY_CHARS]
        if short:
            raise ConfigError(
                f"{len(short)} API key(s) shorter than {MIN_API_KEY_CHARS} characters: use long random keys "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
            )
        if not 0 < self.output_chunk_ms <= 100:
            raise ConfigError("output_chunk_ms must be between 1 and 100")
        if self.output_pacing <= 0:
            raise ConfigError("output_pacing must be positive")
        if self.max_sessions < 1:
            raise ConfigError("max_sessions must be at least 1")
        self.twilio.check(self.function_call_allowlist, self.max_instructions_bytes)
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.workers > 1 and self.port == 0:
            raise ConfigError("workers > 1 share one port: give a port other than 0")
        if self.drain_timeout_s < 0:
            raise ConfigError("drain_timeout_s must not be negative")
        for origin in self.allowed_origins:
            _check_origin(origin)
        for host in self.allowed_hosts:
            if not host or any(c in host for c in ":/@ ") or host != host.strip():
                raise ConfigError(f"allowed_hosts: {host!r} is not a host name (no scheme, port or path)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash (as configs may write them)."""
    return origin.strip().lower().rstrip("/")


def _check_origin(origin: str) -> None:
    if normalise_origin(origin) == "null":
        return
    problem = f"allowed_origins: {origin!r} is not an origin like https://example.com[:port]"
    try:
        parts = urlsplit(normalise_origin(origin))
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(problem) from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(problem)


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Read `path` (`.json` is JSON, anything else TOML), then apply `VOICEWIRE_*` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text) if str(path).endswith(".json") else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a table/object")
    config = _build(ServerConfig, data, "")
    return _apply_environment(config, os.environ if environ is None else environ)


def _build(cls: type[Any], data: Mapping[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(where + k for k in sorted(unknown))}")
    missing = [
        name
        for name, f in fields.items()
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing configuration keys: {', '.join(where + k for k in missing)}")
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints[name], value, where + name) for name, value in data.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table")
        return _build(hint, value, where + ".")
    origin = typing.get_origin(hint)
    if origin is types.UnionType:  # `X | None`: a file cannot say None, so a value is an X
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return _coerce(hint, value, where)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if item is not str:
            if not isinstance(value, list | tuple):
                raise ConfigError(f"{where} must be a list")
            return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if origin is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(repr(choice) for choice in typing.get_args(hint))
            raise ConfigError(f"{where} must be one of {choices}")
        return value
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table")
        item = typing.get_args(hint)[1]
        if item is Any:
            return dict(value)
        return {key: _coerce(item, v, f"{where}.{key}") for key, v in value.items()}
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if hint in (int, float):
        try:
            number = hint(value) if isinstance(value, str) else value
        except ValueError as exc:
            raise ConfigError(f"{where} must be a number") from exc
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(f"{where} must be a number")
        if hint is int and not isinstance(number, int):
            raise ConfigError(f"{where} must be an integer")
        return hint(number)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        return value
    raise ConfigError(f"{where} cannot be set here")  # pragma: no cover - every field type is handled above


_SECTIONS = ("turns", "twilio")


def _apply_environment(config: ServerConfig, environ: Mapping[str, str]) -> ServerConfig:
    """`VOICEWIRE_<FIELD>` for top-level settings, `VOICEWIRE_<SECTION>_<FIELD>` for the single values of
    `[turns]` and `[twilio]` (e.g. `VOICEWIRE_TWILIO_TOKEN`)."""
    hints = typing.get_type_hints(ServerConfig)
    top: dict[str, Any] = {}
    for f in dataclasses.fields(ServerConfig):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None and f.name not in (*_SECTIONS, "engines"):
            top[f.name] = _coerce(hints[f.name], raw, ENV_PREFIX + f.name.upper())
    for section in _SECTIONS:
        current = getattr(config, section)
        changed = _section_from_environment(current, f"{ENV_PREFIX}{section.upper()}_", environ)
        if changed is not current:
            top[section] = changed
    return dataclasses.replace(config, **top) if top else config


def _section_from_environment(section: Any, prefix: str, environ: Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(type(section))
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        name = prefix + f.name.upper()
        if name in environ and _single_value(hints[f.name]):
            changes[f.name] = _coerce(hints[f.name], environ[name], name)
    return dataclasses.replace(section, **changes) if changes else section


def _single_value(hint: Any) -> bool:
    """Whether an environment variable can spell a value of `hint` (not a list of tables, say)."""
    scalars = (str, int, float, bool, type(None))
    return (
        hint in scalars
        or typing.get_origin(hint) is typing.Literal
        or (
            typing.get_origin(hint) is types.UnionType
            and all(arg in scalars for arg in typing.get_args(hint))
        )
    )


__all__ = [
    "AgentProfile",
    "ConfigError",
    "ServerConfig",
    "TurnConfig",
    "TwilioConfig",
    "is_loopback",
    "load_config",
    "normalise_origin",
]
