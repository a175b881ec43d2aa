"""Which engine serves a model name from a client's settings.

Clients written for Deepgram's hosted agent name Deepgram models ("nova-3", "aura-2-thalia-en") and hosted
LLM providers ("open_ai" + "gpt-4o-mini"). A self-hosted server has none of these, so the registry maps
them onto what it has: every listen model onto the default recogniser, every Aura voice onto the default
voice, and every LLM provider onto a configured OpenAI-compatible endpoint of that name, or else the local
model. Seed settings therefore work offline unchanged. Engine voice names ("en_US-joe-medium", "en-us")
select that voice; anything else is a client error (`UnknownModelError`).

Importing this module is cheap: the model libraries load only in `EngineRegistry.load_default`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

import numpy as np

from voicewire.engines.base import (
    ENGINE_SAMPLE_RATE,
    ChatMessage,
    LanguageModel,
    SpeechToText,
    TextToSpeech,
    VoiceActivityDetector,
)
from voicewire.quoting import excerpt

logger = logging.getLogger(__name__)

VadName = Literal["silero", "webrtc"]
SttName = Literal["tiny.en", "base"]
TtsName = Literal["piper", "espeak"]

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
    """One OpenAI-compatible endpoint. The key comes from `api_key` or from the variable `api_key_env`."""

    base_url: str
    model: str | None = None
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def resolve_api_key(self, environ: Mapping[str, str]) -> str | None:
        if self.api_key:
            return self.api_key
        return environ.get(self.api_key_env) if self.api_key_env else None

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> ProviderConfig:
        _check_keys(f"engines.providers.{name}", data, cls)
        if not isinstance(data.get("base_url"), str) or not data["base_url"]:
            raise ValueError(f"engines.providers.{name}.base_url must be a URL")
        return cls(**data)


@dataclass(frozen=True)
class LocalLlmConfig:
    """Settings of the in-process llama.cpp model; `model_path` swaps SmolLM2 for a bigger chat GGUF."""

    model_path: str | None = None
    max_tokens: int = 100
    temperature: float = 0.2
    n_ctx: int = 2048
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
    stt: SttName = "tiny.en"
    extra_stt: tuple[SttName, ...] = ()
    tts: TtsName = "piper"
    extra_tts: tuple[TtsName, ...] = ("espeak",)
    default_voice: str | None = None
    voices: Mapping[str, str] = field(default_factory=dict)
    llm: LocalLlmConfig = field(default_factory=LocalLlmConfig)
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
    ) -> EngineConfig:
        """Build from parsed TOML/JSON; with `environ`, providers switched on there are added too."""
        _check_keys("engines", data, cls)
        values = dict(data)
        _check("vad", values.get("vad", "silero"), get_args(VadName))
        _check("stt", values.get("stt", "tiny.en"), get_args(SttName))
        _check("tts", values.get("tts", "piper"), get_args(TtsName))
        for name in values.get("extra_stt", ()):
            _check("extra_stt", name, get_args(SttName))
        for name in values.get("extra_tts", ()):
            _check("extra_tts", name, get_args(TtsName))
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
        voice_map: Mapping[str, str] | None = None,
    ) -> None:
        self._vad_factory = vad_factory
        self._stt = stt
        self._named_stt = dict(named_stt or {})
        self._llm = llm
        self._providers = dict(providers or {})
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
            seed=config.llm.seed,
        )
        registry = cls(
            vad_factory=_vad_factory(config.vad),
            stt=recognisers[config.stt],
            named_stt=recognisers,
            llm=llm,
            tts=voices[config.tts],
            default_voice=config.default_voice,
            extra_tts=[engine for name, engine in voices.items() if name != config.tts],
            providers=_load_providers(config.providers, os.environ),
            voice_map=config.voices,
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

    def new_vad(self) -> VoiceActivityDetector:
        return self._vad_factory()

    def stt_for(self, model: str | None) -> SpeechToText:
        """Deepgram listen models ("nova-3", ...) get the default recogniser; Whisper names pick one."""
        wanted = _STT_ALIASES.get((model or "").lower())
        if wanted is not None and wanted in self._named_stt:
            return self._named_stt[wanted]
        if wanted is not None:
            logger.debug("listen model %r is not loaded; using the default recogniser", model)
        return self._stt

    def llm_for(self, provider_type: str | None, model: str | None) -> LanguageModel:
        """A configured endpoint named `provider_type`, else the local model.

        `model` is passed on to `LanguageModel.stream` by the session; the local model has only one.
        """
        if provider_type and provider_type in self._providers:
            return self._providers[provider_type]
        if provider_type:
            logger.debug(
                "no endpoint configured for provider %r (model %r); using the local model",
                provider_type,
                model,
            )
        return self._llm

    def voice_for(self, speak_model: str | None) -> VoiceChoice:
        """Map a speak model onto an engine and voice; raises `UnknownModelError` for unknown names."""
        if speak_model in self._voice_map:
            speak_model = self._voice_map[speak_model]
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


def _vad_factory(name: VadName) -> Callable[[], VoiceActivityDetector]:
    if name == "webrtc":
        from voicewire.engines.vad_webrtc import WebRtcVad

        return WebRtcVad
    from voicewire.engines.vad_silero import SileroModel

    return SileroModel().stream


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
        loaded[name] = OpenAiCompatibleLlm(
            provider.base_url,
            api_key=provider.resolve_api_key(environ),
            model=provider.model,
            timeout=provider.timeout,
        )
        logger.info("LLM provider %r -> %s", name, provider.base_url)
    return loaded
