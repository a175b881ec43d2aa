from __future__ import annotations

from tests.server.test_serving import ROOT
from voicewire.engines.registry import EngineConfig
from voicewire.server.config import load_config


def test_the_shipped_host_config_loads_with_remote_llm_stt_and_tts() -> None:
    config = load_config(ROOT / "deploy" / "voicewire.toml", environ={"VOICEWIRE_API_KEYS": "k1,k2"})
    assert config.api_keys == ("k1", "k2") and config.workers == 2 and config.drain_timeout_s == 60
    engines = EngineConfig.from_mapping(config.engines)
    kinds = {name: provider.kind for name, provider in engines.providers.items()}
    assert kinds == {"open_ai": "openai", "whisper": "openai_stt", "speech": "openai_tts"}
