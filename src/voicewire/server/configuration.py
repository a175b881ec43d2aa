"""What a session's settings choose: formats, engines, voice and functions, checked before anything changes.

`configure` either returns a complete `Pipeline` or raises `SettingsRejected`, so settings that name
something this server cannot serve leave the session as it was. Lists of think and speak providers are
tried in order, and the first one this server can serve wins.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from voicewire.audio import UnsupportedAudioFormat
from voicewire.engines.base import LanguageModel, SpeechToText
from voicewire.engines.llm_openai import OpenAiCompatibleLlm
from voicewire.engines.registry import (
    EngineRegistry,
    LlmChoice,
    UnconfiguredProviderError,
    UnknownModelError,
    VoiceChoice,
)
from voicewire.protocol.agent import (
    AgentSettings,
    ErrorCode,
    FunctionSpec,
    SpeakProvider,
    ThinkProvider,
    Warning,
    WarningCode,
)
from voicewire.server.audio_io import InputDecoder, InputFormat, OutputFormat
from voicewire.server.config import ServerConfig
from voicewire.server.functions import FunctionSpecError, check_functions, host_allowed
from voicewire.server.incremental_stt import IncrementalStt
from voicewire.server.limits import inject_limit_problem, instructions_problem
from voicewire.server.reply import ReplyOptions
from voicewire.server.turns import TurnDetector

logger = logging.getLogger(__name__)

#: The suffix Deepgram's `think.endpoint.url` carries; the OpenAI-compatible engine adds it itself.
_CHAT_COMPLETIONS = "/chat/completions"


class SettingsRejected(Exception):
    def __init__(self, code: ErrorCode, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclasses.dataclass
class Thinker:
    llm: LanguageModel
    #: The model name passed to the engine (None: its own).
    model: str | None
    #: An engine made for this session only (a client's own endpoint), closed with it.
    owned: bool = False
    #: Why the settings' provider is not the one serving them (a Warning for the client).
    fallback_notice: str | None = None


@dataclasses.dataclass
class Pipeline:
    decoder: InputDecoder
    detector: TurnDetector
    reply_options: ReplyOptions
    stt: SpeechToText
    keyterms: tuple[str, ...]
    thinker: Thinker
    voice: VoiceChoice
    #: Things the client should know that do not stop the session.
    warnings: list[Warning]


def configure(settings: AgentSettings, engines: EngineRegistry, config: ServerConfig) -> Pipeline:
    try:
        input_format = InputFormat.from_settings(settings.input)
        output_format = OutputFormat.from_settings(settings.output)
    except UnsupportedAudioFormat as exc:
        raise SettingsRejected(ErrorCode.USER_AUDIO_FORMAT, f"Audio format not supported: {exc}") from exc
    voice = choose_voice(settings.speak, engines)
    prompt = settings.think.prompt
    if prompt and len(prompt.encode("utf-8")) > config.max_instructions_bytes:
        raise SettingsRejected(ErrorCode.INVALID_SETTINGS, prompt_limit_text(config))
    if settings.greeting and (problem := inject_limit_problem("greeting", settings.greeting, config)):
        raise SettingsRejected(ErrorCode.INVALID_SETTINGS, problem)
    check_function_specs(settings.think.functions)
    thinker = choose_thinker(settings.think.providers, engines, config)
    if prompt and (problem := instructions_problem(thinker.llm, prompt)):
        raise SettingsRejected(ErrorCode.INVALID_SETTINGS, problem)
    warnings = _language_warnings(settings)
    if thinker.fallback_notice is not None:
        warnings.append(Warning(WarningCode.PROVIDER_FALLBACK, thinker.fallback_notice))
    vad = engines.new_vad()
    return Pipeline(
        decoder=InputDecoder(input_format, block=vad.window_samples),
        detector=TurnDetector(vad, config.turns, engines.end_of_turn),
        reply_options=ReplyOptions(output_format, config.output_pacing, config.output_chunk_ms),
        stt=IncrementalStt(engines.stt_for(settings.listen.model)),
        keyterms=settings.listen.keyterms,
        thinker=thinker,
        voice=voice,
        warnings=warnings,
    )


def choose_voice(providers: Sequence[SpeakProvider], engines: EngineRegistry) -> VoiceChoice:
    """The first voice this server has; `SettingsRejected` naming the first one if it has none."""
    failure: UnknownModelError | None = None
    for provider in providers:
        try:
            return engines.voice_for(provider.model or None)
        except UnknownModelError as exc:
            failure = failure or exc
    raise SettingsRejected(ErrorCode.INVALID_SETTINGS, str(failure or "no speak provider was given"))


def choose_thinker(
    providers: Sequence[ThinkProvider], engines: EngineRegistry, config: ServerConfig
) -> Thinker:
    """The first provider this server serves without a fallback, else the first one's fallback.

    A client's own endpoint is called only on an allowlisted host; other providers are the operator's
    (`EngineRegistry.choose_llm`), which may answer with the local model and a notice.
    """
    fallback: Thinker | None = None
    refusal: SettingsRejected | None = None
    for provider in providers:
        try:
            thinker = _thinker(provider, engines, config)
        except SettingsRejected as exc:
            refusal = refusal or exc
            continue
        if thinker.fallback_notice is None:
            return thinker
        fallback = fallback or thinker
    if fallback is not None:
        return fallback
    raise refusal or SettingsRejected(ErrorCode.INVALID_SETTINGS, "no think provider was given")


def _thinker(provider: ThinkProvider, engines: EngineRegistry, config: ServerConfig) -> Thinker:
    if provider.endpoint is None:
        try:
            choice: LlmChoice = engines.choose_llm(provider.type, provider.model)
        except UnconfiguredProviderError as exc:
            raise SettingsRejected(ErrorCode.INVALID_SETTINGS, str(exc)) from exc
        return Thinker(choice.engine, choice.model, fallback_notice=choice.fallback_notice)
    url = provider.endpoint.url
    if host_allowed(url, config.function_call_allowlist):
        base = url[: -len(_CHAT_COMPLETIONS)] if url.endswith(_CHAT_COMPLETIONS) else url
        scheme, _, key = provider.endpoint.headers.get("authorization", "").partition(" ")
        api_key = key if scheme.lower() == "bearer" else None
        llm = OpenAiCompatibleLlm(base, api_key=api_key, model=provider.model)
        return Thinker(llm, provider.model, owned=True)
    logger.info("think.endpoint %s is not on the allowlist", url.split("?")[0])
    raise SettingsRejected(
        ErrorCode.INVALID_SETTINGS,
        "think.endpoint: the server may not call this host (not on its function_call_allowlist); "
        "leave the endpoint out to use the server's own language models",
    )


def check_function_specs(functions: Sequence[FunctionSpec]) -> None:
    try:
        check_functions(functions)
    except FunctionSpecError as exc:
        raise SettingsRejected(ErrorCode.INVALID_SETTINGS, f"think.functions: {exc}") from exc


def prompt_limit_text(config: ServerConfig) -> str:
    return f"Instructions would exceed {config.max_instructions_bytes} bytes; they were left unchanged"


def _language_warnings(settings: AgentSettings) -> list[Warning]:
    languages = [settings.language, settings.listen.language, *(p.language for p in settings.speak)]
    other = sorted({lang for lang in languages if lang and not lang.lower().startswith("en")})
    if not other:
        return []
    return [
        Warning(
            WarningCode.LANGUAGE_NOT_SUPPORTED,
            f"Language {', '.join(other)} is not supported by this server's engines; they use English",
        )
    ]
