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
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_PREFIX = "VOICEWIRE_"
#: Shorter keys could be guessed despite the throttling in `server.auth`.
MIN_API_KEY_CHARS = 16


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
    #: Start STT once `tail_ms` of silence has passed and reuse it if the turn then ends unchanged. Whisper
    #: costs about as much as the end-of-turn wait, so this hides most of it; each pause that the user
    #: talks through costs one wasted transcription.
    speculative_stt: bool = True


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    #: Keys a client must present; empty means no authentication (then only loopback unless `insecure`).
    api_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    #: Allow binding a non-loopback address without API keys.
    insecure: bool = False
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
    turns: TurnConfig = dataclasses.field(default_factory=TurnConfig)
    #: The `[engines]` table, handed to `EngineConfig.from_mapping`.
    engines: Mapping[str, Any] = dataclasses.field(default_factory=dict)

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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints[name], value, where + name) for name, value in data.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table")
        return _build(hint, value, where + ".")
    origin = typing.get_origin(hint)
    if origin is tuple:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table")
        return dict(value)
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


def _apply_environment(config: ServerConfig, environ: Mapping[str, str]) -> ServerConfig:
    """`VOICEWIRE_<FIELD>` for top-level settings, `VOICEWIRE_TURNS_<FIELD>` for turn-taking."""
    hints = typing.get_type_hints(ServerConfig)
    top: dict[str, Any] = {}
    for f in dataclasses.fields(ServerConfig):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None and f.name not in ("turns", "engines"):
            top[f.name] = _coerce(hints[f.name], raw, ENV_PREFIX + f.name.upper())
    turn_hints = typing.get_type_hints(TurnConfig)
    turns: dict[str, Any] = {}
    for f in dataclasses.fields(TurnConfig):
        name = f"{ENV_PREFIX}TURNS_{f.name.upper()}"
        if name in environ:
            turns[f.name] = _coerce(turn_hints[f.name], environ[name], name)
    if turns:
        top["turns"] = dataclasses.replace(config.turns, **turns)
    return dataclasses.replace(config, **top) if top else config


__all__ = ["ConfigError", "ServerConfig", "TurnConfig", "is_loopback", "load_config"]
