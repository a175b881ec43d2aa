"""Which engine serves a model name from a client's settings.

Clients written for Deepgram's hosted agent name Deepgram models ("nova-3", "aura-2-thalia-en") and hosted
LLM providers ("open_ai" + "gpt-4o-mini"). A self-hosted server has none of these, so the registry maps
them onto what it has: every listen model onto the default recogniser, every Aura voice onto the default
voice, and every LLM provider onto a configured OpenAI-compatible endpoint of that name, or else the local
model. Seed settings therefore work offline unchanged.

The operator, not the client, decides which model an endpoint serves: a client's `think.model` reaches the
endpoint only through the provider's `models` map or when it sets `pass_model = true`, because endpoints
such as vLLM and Ollama answer 404 to a model they do not serve ("gpt-4o-mini"). Falling back to the local
model is announced (`LlmChoice.fallback_notice`, for a Warning to the client), or refused with
`strict_providers`. Engine voice names ("en_US-joe-medium", "en-us")
select that voice; anything else is a client error (`UnknownModelError`).

Importing this module is cheap: the model libraries load only in `EngineRegistry.load_default`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, Protocol, TypeVar, get_args

import numpy as np

from voicewire.engines.base import (
    ENGINE_SAMPLE_RATE,
    ChatMessage,
    EndOfTurnModel,
    LanguageModel,
    SpeechToText,
    TextToSpeech,
    VoiceActivityDetector,
)
from voicewire.engines.llm_llamacpp import DEFAULT_REPEAT_PENALTY, DEFAULT_TEMPERATURE
from voicewire.engines.vad_silero import SileroGraph
from voicewire.quoting import excerpt

if TYPE_CHECKING:
    from voicewire.engines.stt_deepgram import DeepgramStt
    from voicewire.engines.stt_deepgram_live import DeepgramLiveStt
    from voicewire.engines.stt_openai import OpenAiStt
    from voicewire.engines.tts_deepgram import DeepgramTts
    from voicewire.engines.tts_deepgram_live import DeepgramLiveTts
    from voicewire.engines.tts_openai import OpenAiTts

logger = logging.getLogger(__name__)

VadName = Literal["silero", "webrtc"]
SttName = Literal["tiny.en", "base"]
TtsName = Literal["piper", "espeak"]
#: What a provider serves: "openai" is a chat endpoint (the LLM); the others are speech APIs.
ProviderKind = Literal[
    "openai",
    "openai_stt",
    "openai_tts",
    "deepgram_stt",
    "deepgram_live_stt",
    "deepgram_tts",
    "deepgram_live_tts",
]

#: Listen model names that ask for a particular local recogniser; every other name gets the default.
_STT_ALIASES: Mapping[str, SttName] = {
    "tiny.en": "tiny.en",
    "tiny": "tiny.en",
    "whisper-tiny": "tiny.en",
    "whisper-tiny.en": "tiny.en",
    "base": "base",
    "base.en": "base",
    "whisper-base": "base",
    "whisper-base.en": "base",
}

#: Providers that can be switched on from the environment: name -> (variable prefix, fallback key variable).
#: Only a base URL turns a provider on, so an OPENAI_API_KEY that happens to be set never sends a
#: conversation off the machine by itself.
_ENV_PROVIDERS: Mapping[str, tuple[str, str | None]] = {
    "open_ai": ("VOICEWIRE_OPENAI", "OPENAI_API_KEY"),
    "groq": ("VOICEWIRE_GROQ", "GROQ_API_KEY"),
    "custom": ("VOICEWIRE_CUSTOM", None),
}


class UnknownModelError(ValueError):
    """A client named a model or voice this server cannot serve."""


class UnconfiguredProviderError(UnknownModelError):
    """With `strict_providers`, settings asked for an LLM provider this server has not configured."""


class LlmChoice(NamedTuple):
    """What serves a session's `think` settings."""

    engine: LanguageModel
    #: The model name to pass to `engine.stream` (None: the engine's own).
    model: str | None
    #: Set when the settings asked for a provider that is not configured and the local model answers
    #: instead: the text of the Warning the client gets.
    fallback_notice: str | None


def _check(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"engines.{name} must be one of {', '.join(options)}; got {value!r}")


def _check_keys(where: str, data: Mapping[str, Any], config: type[Any]) -> None:
    """Reject typos in a config table by name, instead of a TypeError from the dataclass."""
    unknown = set(data) - {f.name for f in fields(config)}
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")


@dataclass(frozen=True)
class ProviderConfig:
    """One remote endpoint. The key comes from `api_key` or from the variable `api_key_env`.

    `kind` says which API it speaks. An LLM endpoint ("openai") is asked for `model`; a client's
    `think.model` is used instead only when `models` maps it (client name → endpoint name) or `pass_model`
    is set, and with neither `model` nor `pass_model` the client's model is the only name there is. Speech
    providers are chosen by a client's listen/speak model: by the provider's own name, or by any of the shell
    patterns in `serves` (e.g. "nova-*", "aura-2-*"). With `fallback`, a failed remote call is served by the
    default local engine instead.
    """

    base_url: str
    kind: ProviderKind = "openai"
    model: str | None = None
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    pass_model: bool = False
    models: Mapping[str, str] = field(default_factory=dict)
    #: Listen/speak model names (shell patterns) that pick this speech provider.
    serves: tuple[str, ...] = ()
    #: OpenAI speech voices this endpoint has; the first is the default.
    voices: tuple[str, ...] = ()
    #: "json" or "text" for openai_stt, "pcm" or "wav" for openai_tts.
    response_format: str | None = None
    #: The rate of the audio a TTS provider sends (OpenAI's pcm is always 24 kHz).
    sample_rate: int = 24000
    language: str | None = None
    fallback: bool = True
    #: After a failure, the fallback serves alone for this long before the remote is tried again.
    retry_after_s: float = 30.0
    #: Extra fields for every chat request (e.g. `max_tokens`, `temperature`) of an "openai" provider.
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def model_for(self, client_model: str | None) -> str | None:
        """The model name to send the endpoint when a client's settings ask for `client_model`."""
        if client_model is not None and client_model in self.models:
            return self.models[client_model]
        if self.pass_model and client_model:
            return client_model
        return self.model or client_model

    def resolve_api_key(self, environ: Mapping[str, str]) -> str | None:
        if self.api_key:
            return self.api_key
        return environ.get(self.api_key_env) if self.api_key_env else None

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> ProviderConfig:
        _check_keys(f"engines.providers.{name}", data, cls)
        if not isinstance(data.get("base_url"), str) or not data["base_url"]:
            raise ValueError(f"engines.providers.{name}.base_url must be a URL")
        values = dict(data)
        _check(f"providers.{name}.kind", values.get("kind", "openai"), get_args(ProviderKind))
        formats = _RESPONSE_FORMATS.get(values.get("kind", "openai"), ())
        if values.get("response_format") is not None:
            _check(f"providers.{name}.response_format", values["response_format"], formats)
        for key in ("serves", "voices"):
            if key in values:
                values[key] = tuple(values[key])
        models = values.get("models", {})
        if not isinstance(models, Mapping) or not all(isinstance(v, str) for v in models.values()):
            raise ValueError(f"engines.providers.{name}.models must map client model names to model names")
        values["models"] = dict(models)
        if not isinstance(values.get("pass_model", False), bool):
            raise ValueError(f"engines.providers.{name}.pass_model must be true or false")
        if not isinstance(values.get("extra_body", {}), Mapping):
            raise ValueError(f"engines.providers.{name}.extra_body must be a table")
        return cls(**values)


_RESPONSE_FORMATS: Mapping[str, tuple[str, ...]] = {
    "openai_stt": ("json", "text"),
    "openai_tts": ("pcm", "wav"),
}


@dataclass(frozen=True)
class LocalLlmConfig:
    """Settings of the in-process llama.cpp model; `model_path` swaps SmolLM2 for a bigger chat GGUF."""

    model_path: str | None = None
    max_tokens: int = 100
    temperature: float = DEFAULT_TEMPERATURE
    #: llama.cpp's penalty on tokens among the last 64 (prompt included), which damps echoes and loops.
    repeat_penalty: float = DEFAULT_REPEAT_PENALTY
    n_ctx: int = 2048
    #: Threads while no other engine of this process runs; 1 while Whisper or Piper does (see `llm_llamacpp`).
    n_threads: int = 2
    #: Fixed, so a server replays a conversation with the same replies (and benchmark runs compare like
    #: with like); -1 draws a new seed at every start.
    seed: int = 1234


@dataclass(frozen=True)
class EngineConfig:
    """What the server loads, as read from the `[engines]` table of its config file.

    `stt` and `tts` are the defaults; `extra_stt` / `extra_tts` are loaded as well so clients can pick them
    by name. `voices` maps a client's speak model (e.g. "aura-2-thalia-en") to an engine voice name.
    """

    vad: VadName = "silero"
    #: How Silero runs: "gemm", its network rebuilt as batched matrix products (the same probabilities in a
    #: third of the CPU), or "original", the bundled ONNX file as shipped.
    silero_graph: SileroGraph = "gemm"
    stt: SttName = "tiny.en"
    extra_stt: tuple[SttName, ...] = ()
    tts: TtsName = "piper"
    extra_tts: tuple[TtsName, ...] = ("espeak",)
    default_voice: str | None = None
    voices: Mapping[str, str] = field(default_factory=dict)
    llm: LocalLlmConfig = field(default_factory=LocalLlmConfig)
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    #: Settings naming an unconfigured `think.provider.type` are refused instead of served locally.
    strict_providers: bool = False

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
    ) -> EngineConfig:
        """Build from parsed TOML/JSON; with `environ`, providers switched on there are added too."""
        _check_keys("engines", data, cls)
        values = dict(data)
        _check("vad", values.get("vad", "silero"), get_args(VadName))
        _check("silero_graph", values.get("silero_graph", "gemm"), get_args(SileroGraph))
        _check("stt", values.get("stt", "tiny.en"), get_args(SttName))
        _check("tts", values.get("tts", "piper"), get_args(TtsName))
        for name in values.get("extra_stt", ()):
            _check("extra_stt", name, get_args(SttName))
        for name in values.get("extra_tts", ()):
            _check("extra_tts", name, get_args(TtsName))
        if not isinstance(values.get("strict_providers", False), bool):
            raise ValueError("engines.strict_providers must be true or false")
        for key in ("extra_stt", "extra_tts"):
            if key in values:
                values[key] = tuple(values[key])
        if "llm" in values:
            _check_keys("engines.llm", values["llm"], LocalLlmConfig)
            values["llm"] = LocalLlmConfig(**values["llm"])
        providers = dict(_providers_from_environment(environ or {}))
        for name, provider in (values.get("providers") or {}).items():
            providers[name] = ProviderConfig.from_mapping(name, provider)
        values["providers"] = providers
        values["voices"] = dict(values.get("voices") or {})
        return cls(**values)


def _providers_from_environment(environ: Mapping[str, str]) -> dict[str, ProviderConfig]:
    providers: dict[str, ProviderConfig] = {}
    for name, (prefix, fallback_key) in _ENV_PROVIDERS.items():
        base_url = environ.get(f"{prefix}_BASE_URL")
        if not base_url:
            continue
        key_env = f"{prefix}_API_KEY" if environ.get(f"{prefix}_API_KEY") else fallback_key
        providers[name] = ProviderConfig(
            base_url=base_url, model=environ.get(f"{prefix}_MODEL"), api_key_env=key_env
        )
    return providers


EngineT = TypeVar("EngineT")


class _Closable(Protocol):
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RemoteRoute(Generic[EngineT]):
    """A remote speech engine and the client model names that select it."""

    name: str
    engine: EngineT
    patterns: tuple[str, ...]
    client: _Closable

    def serves(self, model: str | None, provider: str | None) -> bool:
        """By name, or by pattern; settings that name no model match "*" (the operator's default)."""
        if provider == self.name or model == self.name:
            return True
        return any(fnmatch.fnmatchcase(model or "", pattern) for pattern in self.patterns)


@dataclass(frozen=True)
class VoiceChoice:
    """The engine that speaks for a session, and the voice to ask it for (None: its default)."""

    engine: TextToSpeech
    voice: str | None


class EngineRegistry:
    """The loaded engines of one server process and the mapping from client model names onto them.

    Engines are passed in ready-made, so unit tests can build a registry from scripted engines;
    `load_default` loads the real offline models.
    """

    def __init__(
        self,
        *,
        vad_factory: Callable[[], VoiceActivityDetector],
        stt: SpeechToText,
        llm: LanguageModel,
        tts: TextToSpeech,
        default_voice: str | None = None,
        named_stt: Mapping[str, SpeechToText] | None = None,
        extra_tts: Sequence[TextToSpeech] = (),
        providers: Mapping[str, LanguageModel] | None = None,
        provider_configs: Mapping[str, ProviderConfig] | None = None,
        strict_providers: bool = False,
        voice_map: Mapping[str, str] | None = None,
        end_of_turn: EndOfTurnModel | None = None,
        remote_stt: Sequence[RemoteRoute[SpeechToText]] = (),
        remote_tts: Sequence[RemoteRoute[TextToSpeech]] = (),
    ) -> None:
        """`provider_configs` says which model each provider's endpoint is asked for; a provider without
        one gets the client's model."""
        self._vad_factory = vad_factory
        #: The end-of-turn model every session's turn detector shares (None: silence ends turns).
        self.end_of_turn = end_of_turn
        self._remote_stt = tuple(remote_stt)
        self._remote_tts = tuple(remote_tts)
        self._stt = stt
        self._named_stt = dict(named_stt or {})
        self._llm = llm
        self._providers = dict(providers or {})
        self._provider_configs = dict(provider_configs or {})
        self._strict_providers = strict_providers
        self._tts = tts
        self._default_voice = default_voice
        self._all_tts = (tts, *extra_tts)
        self._voice_map = dict(voice_map or {})
        if default_voice is not None and not tts.has_voice(default_voice):
            raise UnknownModelError(
                f"the default voice {default_voice!r} is not a voice of the default engine"
            )
        for speak_model, voice in self._voice_map.items():
            if self._engine_with_voice(voice) is None:
                raise UnknownModelError(f"voices.{speak_model} names {voice!r}, which no loaded engine has")

    @classmethod
    def load_default(cls, config: EngineConfig | None = None) -> EngineRegistry:
        """Load the offline models named by `config` (each once); takes a few seconds."""
        config = config or EngineConfig()
        started = time.perf_counter()
        stt_names = dict.fromkeys((config.stt, *config.extra_stt))
        recognisers: dict[str, SpeechToText] = {name: _load_stt(name) for name in stt_names}
        tts_names = dict.fromkeys((config.tts, *config.extra_tts))
        voices = {name: _load_tts(name) for name in tts_names}

        from voicewire.engines.llm_llamacpp import LlamaCppLlm

        llm = LlamaCppLlm.smollm2(
            model_path=config.llm.model_path,
            n_ctx=config.llm.n_ctx,
            n_threads=config.llm.n_threads,
            max_tokens=config.llm.max_tokens,
            temperature=config.llm.temperature,
            repeat_penalty=config.llm.repeat_penalty,
            seed=config.llm.seed,
        )
        end_of_turn = _load_end_of_turn()
        local_engines = [*recognisers.values(), *voices.values(), end_of_turn]
        llm.contended = lambda: any(getattr(engine, "busy", False) for engine in local_engines)
        remote_stt, remote_tts = _load_remote_speech(
            config.providers,
            os.environ,
            local_stt=recognisers[config.stt],
            local_tts=voices[config.tts],
            local_voice=config.default_voice,
        )
        registry = cls(
            vad_factory=_vad_factory(config.vad, config.silero_graph),
            stt=recognisers[config.stt],
            named_stt=recognisers,
            llm=llm,
            tts=voices[config.tts],
            default_voice=config.default_voice,
            extra_tts=[engine for name, engine in voices.items() if name != config.tts],
            providers=_load_providers(config.providers, os.environ),
            provider_configs=config.providers,
            strict_providers=config.strict_providers,
            voice_map=config.voices,
            end_of_turn=end_of_turn,
            remote_stt=remote_stt,
            remote_tts=remote_tts,
        )
        logger.info("engines loaded in %.2f s", time.perf_counter() - started)
        return registry

    @classmethod
    async def load_warm(cls, config: EngineConfig | None = None) -> EngineRegistry:
        """`load_default` off the event loop, then `warm_up`: what a server does before it is ready."""
        registry = await asyncio.to_thread(cls.load_default, config)
        await registry.warm_up()
        return registry

    async def warm_up(self) -> None:
        """Run every model once, so the first caller does not pay for cold caches and lazy initialisation."""
        vad = self.new_vad()
        await vad.speech_probabilities(np.zeros((1, vad.window_samples), dtype=np.float32))
        silence = np.zeros(ENGINE_SAMPLE_RATE // 2, dtype=np.float32)
        if self.end_of_turn is not None:
            await self.end_of_turn.completion_probability(silence)
        for stt in dict.fromkeys((self._stt, *self._named_stt.values())):
            await stt.transcribe(silence)
        reply = self._llm.stream([ChatMessage("system", "Reply briefly."), ChatMessage("user", "Hello.")])
        async for _ in reply:
            break
        close = getattr(reply, "aclose", None)
        if close is not None:
            await close()
        for engine in self._all_tts:
            async for _ in engine.synthesize("Hello."):
                pass

    async def aclose(self) -> None:
        """Release network clients held by remote providers."""
        for provider in self._providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        for client in (*(r.client for r in self._remote_stt), *(r.client for r in self._remote_tts)):
            await client.aclose()

    def new_vad(self) -> VoiceActivityDetector:
        return self._vad_factory()

    def stt_for(self, model: str | None, *, provider: str | None = None) -> SpeechToText:
        """A remote recogniser that `model` or `provider` names, else: Deepgram listen models ("nova-3",
        ...) get the default recogniser and Whisper names pick one."""
        for route in self._remote_stt:
            if route.serves(model, provider):
                return route.engine
        wanted = _STT_ALIASES.get((model or "").lower())
        if wanted is not None and wanted in self._named_stt:
            return self._named_stt[wanted]
        if wanted is not None:
            logger.debug("listen model %r is not loaded; using the default recogniser", model)
        return self._stt

    def choose_llm(self, provider_type: str | None, model: str | None) -> LlmChoice:
        """The engine and model for settings' `think.provider.type` and `think.model`.

        A configured provider serves under the operator's model name (see `ProviderConfig.model_for`). An
        unconfigured one falls back to the local model with a notice, or raises `UnconfiguredProviderError`
        with `strict_providers`. No provider type at all means the local model, silently.
        """
        if provider_type and provider_type in self._providers:
            config = self._provider_configs.get(provider_type)
            sent = config.model_for(model) if config is not None else model
            if sent != model:
                logger.debug("provider %r: client model %r is served as %r", provider_type, model, sent)
            return LlmChoice(self._providers[provider_type], sent, None)
        if not provider_type:
            return LlmChoice(self._llm, None, None)
        configured = ", ".join(sorted(self._providers)) or "none"
        asked = f"think.provider.type {provider_type!r}" + (f" (model {model!r})" if model else "")
        if self._strict_providers:
            raise UnconfiguredProviderError(
                f"{asked} is not configured on this server (configured providers: {configured})"
            )
        notice = (
            f"{asked} is not configured on this server (configured providers: {configured}); "
            f"falling back to the local model {self.local_llm_name}"
        )
        logger.info("%s", notice)
        return LlmChoice(self._llm, None, notice)

    @property
    def local_llm_name(self) -> str:
        """How the in-process model is named to clients and in logs."""
        return str(getattr(self._llm, "name", type(self._llm).__name__))

    def voice_for(self, speak_model: str | None, *, provider: str | None = None) -> VoiceChoice:
        """Map a speak model onto an engine and voice; raises `UnknownModelError` for unknown names.

        A remote TTS provider named by `provider` or `speak_model` speaks in its default voice; one whose
        `serves` patterns match is asked for `speak_model` itself (e.g. an Aura voice on Deepgram).
        """
        if speak_model in self._voice_map:
            speak_model = self._voice_map[speak_model]
        for route in self._remote_tts:
            if route.serves(speak_model, provider):
                named = speak_model in (None, route.name) or provider == route.name
                return VoiceChoice(route.engine, None if named else speak_model)
        if speak_model is None or speak_model.startswith("aura-"):
            return VoiceChoice(self._tts, self._default_voice)
        engine = self._engine_with_voice(speak_model)
        if engine is None:
            raise UnknownModelError(
                f"unknown speak model {excerpt(speak_model)}: use an aura-* name, None for the default "
                "voice, or a voice of a loaded engine (e.g. 'en_US-joe-medium', 'joe', 'en-us')"
            )
        return VoiceChoice(engine, speak_model)

    def _engine_with_voice(self, voice: str) -> TextToSpeech | None:
        return next((engine for engine in self._all_tts if engine.has_voice(voice)), None)


def _vad_factory(name: VadName, silero_graph: SileroGraph) -> Callable[[], VoiceActivityDetector]:
    if name == "webrtc":
        from voicewire.engines.vad_webrtc import WebRtcVad

        return WebRtcVad
    from voicewire.engines.vad_silero import SileroModel

    return SileroModel(graph=silero_graph).stream


def _load_end_of_turn() -> EndOfTurnModel | None:
    from voicewire.engines.turn_smart import SmartTurnModel, bundled_model_path

    if bundled_model_path() is None:
        logger.warning("pipecat-ai is not installed: turns end on silence alone (turns.detector = silence)")
        return None
    return SmartTurnModel()


def _load_stt(name: SttName) -> SpeechToText:
    from voicewire.engines.stt_whisper import WhisperStt

    return WhisperStt.base() if name == "base" else WhisperStt.tiny_en()


def _load_tts(name: TtsName) -> TextToSpeech:
    if name == "espeak":
        from voicewire.engines.tts_espeak import EspeakTts

        return EspeakTts()
    from voicewire.engines.tts_piper import PiperTts

    return PiperTts.joe()


def _load_providers(
    providers: Mapping[str, ProviderConfig], environ: Mapping[str, str]
) -> dict[str, LanguageModel]:
    from voicewire.engines.llm_openai import OpenAiCompatibleLlm

    loaded: dict[str, LanguageModel] = {}
    for name, provider in providers.items():
        if provider.kind != "openai":
            continue
        loaded[name] = OpenAiCompatibleLlm(
            provider.base_url,
            api_key=provider.resolve_api_key(environ),
            model=provider.model,
            timeout=provider.timeout,
            extra_body=provider.extra_body,
        )
        logger.info("LLM provider %r -> %s", name, provider.base_url)
    return loaded


def _load_remote_speech(
    providers: Mapping[str, ProviderConfig],
    environ: Mapping[str, str],
    *,
    local_stt: SpeechToText,
    local_tts: TextToSpeech,
    local_voice: str | None,
) -> tuple[list[RemoteRoute[SpeechToText]], list[RemoteRoute[TextToSpeech]]]:
    """Build the speech providers, each behind the local default engine when `fallback` is set."""
    from voicewire.engines.fallback import FallbackStt, FallbackTts

    stt: list[RemoteRoute[SpeechToText]] = []
    tts: list[RemoteRoute[TextToSpeech]] = []
    for name, provider in providers.items():
        if provider.kind.endswith("_stt"):
            recogniser = _remote_stt(provider, provider.resolve_api_key(environ))
            serving: SpeechToText = (
                FallbackStt(recogniser, local_stt, retry_after_s=provider.retry_after_s)
                if provider.fallback
                else recogniser
            )
            stt.append(RemoteRoute(name, serving, provider.serves, recogniser))
        elif provider.kind.endswith("_tts"):
            voice = _remote_tts(provider, provider.resolve_api_key(environ))
            speaking: TextToSpeech = (
                FallbackTts(voice, local_tts, local_voice, retry_after_s=provider.retry_after_s)
                if provider.fallback
                else voice
            )
            tts.append(RemoteRoute(name, speaking, provider.serves, voice))
        else:
            continue
        logger.info("%s provider %r -> %s", provider.kind, name, provider.base_url)
    return stt, tts


def _remote_stt(provider: ProviderConfig, api_key: str | None) -> DeepgramStt | DeepgramLiveStt | OpenAiStt:
    if provider.kind == "deepgram_live_stt":
        from voicewire.engines.stt_deepgram_live import DeepgramLiveStt

        return DeepgramLiveStt(
            provider.base_url,
            model=provider.model or "nova-3",
            api_key=api_key,
            language=provider.language,
            timeout=provider.timeout,
        )
    if provider.kind == "deepgram_stt":
        from voicewire.engines.stt_deepgram import DeepgramStt

        return DeepgramStt(
            provider.base_url,
            model=provider.model or "nova-3",
            api_key=api_key,
            language=provider.language,
            timeout=provider.timeout,
        )
    from voicewire.engines.stt_openai import OpenAiStt

    return OpenAiStt(
        provider.base_url,
        model=provider.model or "whisper-1",
        api_key=api_key,
        response_format="text" if provider.response_format == "text" else "json",
        language=provider.language,
        timeout=provider.timeout,
    )


def _remote_tts(provider: ProviderConfig, api_key: str | None) -> DeepgramTts | DeepgramLiveTts | OpenAiTts:
    if provider.kind == "deepgram_live_tts":
        from voicewire.engines.tts_deepgram_live import DeepgramLiveTts

        return DeepgramLiveTts(
            provider.base_url,
            model=provider.model or "aura-2-thalia-en",
            api_key=api_key,
            sample_rate=provider.sample_rate,
            timeout=provider.timeout,
        )
    if provider.kind == "deepgram_tts":
        from voicewire.engines.tts_deepgram import DeepgramTts

        return DeepgramTts(
            provider.base_url,
            model=provider.model or "aura-2-thalia-en",
            api_key=api_key,
            sample_rate=provider.sample_rate,
            timeout=provider.timeout,
        )
    from voicewire.engines.tts_openai import OpenAiTts

    return OpenAiTts(
        provider.base_url,
        model=provider.model or "tts-1",
        voices=provider.voices or ("alloy",),
        api_key=api_key,
        response_format="wav" if provider.response_format == "wav" else "pcm",
        sample_rate=provider.sample_rate,
        timeout=provider.timeout,
    )
