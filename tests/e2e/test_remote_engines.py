"""A whole session whose speech stages are remote: Deepgram's listen/speak APIs on a local server.

`listen.model: nova-3` and `speak.model: aura-2-thalia-en` reach the "real thing"; when it fails, the
conversation goes on with the local engines behind it.
"""

from __future__ import annotations

import json
from typing import Any

from tests.engines.speech_api import KEY, TRANSCRIPT, speech_api
from tests.server.net import client, fast_config, receive, receive_until, running, speak
from voicewire.engines.registry import EngineConfig, EngineRegistry, _load_remote_speech
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, ScriptedVad
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.protocol.dialects import early_access, v1
from voicewire.protocol.options import Listen, Speak

SETTINGS = SettingsConfigurationOptions()
SETTINGS.agent.listen = Listen(model="nova-3")
SETTINGS.agent.speak = Speak(model="aura-2-thalia-en")


def remote_registry(base_url: str) -> EngineRegistry:
    provider = {"base_url": base_url, "api_key_env": "TEST_DEEPGRAM_KEY", "timeout": 2.0}
    config = EngineConfig.from_mapping(
        {
            "providers": {
                "deepgram": {**provider, "kind": "deepgram_stt", "serves": ["nova-*"]},
                "aura": {**provider, "kind": "deepgram_tts", "serves": ["aura-2-*"]},
            }
        }
    )
    local_stt, local_tts = ScriptedStt(["heard locally"]), ScriptedTts(voices=None)
    stt, tts = _load_remote_speech(
        config.providers,
        {"TEST_DEEPGRAM_KEY": KEY},
        local_stt=local_stt,
        local_tts=local_tts,
        local_voice=None,
    )
    return EngineRegistry(
        vad_factory=ScriptedVad,
        stt=local_stt,
        llm=ScriptedLlm(),
        tts=local_tts,
        remote_stt=stt,
        remote_tts=tts,
    )


async def turn(ws: Any) -> tuple[str, int]:
    """The user's transcript and how many audio bytes the agent's reply had."""
    await speak(ws)
    messages = await receive_until(ws, "ConversationText")
    user = messages[-1]
    assert isinstance(user, dict) and user["role"] == "user"
    messages = await receive_until(ws, "AgentAudioDone")
    return str(user["content"]), sum(len(m) for m in messages if isinstance(m, bytes))


async def test_nova_and_aura_names_reach_the_remote_apis_and_fall_back_when_they_fail() -> None:
    with speech_api() as api:
        registry = remote_registry(api.base_url)
        try:
            # A v1 client: early-access clients have no Warning message for the fallback.
            async with running(fast_config(), registry) as server, client(server.v1_url) as ws:
                assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]
                await ws.send(json.dumps(v1.settings_message(early_access.settings(SETTINGS))))
                await receive_until(ws, "SettingsApplied")
                heard, audio = await turn(ws)
                assert heard == TRANSCRIPT and audio > 0
                paths = [request.path for request in api.requests]
                assert paths[0] == "/v1/listen" and "/v1/speak" in paths
                assert api.requests[-1].query["model"] == ["aura-2-thalia-en"]

                api.status = 503
                await speak(ws)
                messages = await receive_until(ws, "AgentAudioDone")
                texts = [m for m in messages if isinstance(m, dict) and m["type"] == "ConversationText"]
                assert texts[0] == {"type": "ConversationText", "role": "user", "content": "heard locally"}
                warnings = [m for m in messages if isinstance(m, dict) and m["type"] == "Warning"]
                assert {w["code"] for w in warnings} == {"REMOTE_ENGINE_FALLBACK"}
                assert len(warnings) >= 2  # the recogniser, then each sentence of the reply
                assert api.base_url not in str(warnings)  # the endpoint stays in the server's log
                assert any(isinstance(m, bytes) for m in messages)
        finally:
            await registry.aclose()
