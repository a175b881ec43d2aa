"""`voicewire converse` against a real server with scripted engines: it never waits silently for a reply
that cannot come (a client-side function call, a fatal error), and reports why with a non-zero exit."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from tests.server.net import fast_config
from voicewire import cli
from voicewire.audio import encode, write_wav
from voicewire.converse import converse, frame_intervals, run
from voicewire.engines.base import EngineError, ToolCall
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, scripted_registry, tone
from voicewire.server import AgentServer

CLIENT_SIDE = {
    "type": "SettingsConfiguration",
    "agent": {
        "think": {
            "provider": {"type": "open_ai"},
            "model": "gpt-4o-mini",
            "functions": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                }
            ],
        }
    },
}
WEATHER = ToolCall("call_1", "get_weather", '{"city": "Paris"}')


@pytest.fixture
def utterance(tmp_path: Path) -> Path:
    """One second of a tone that the scripted VAD takes for speech: exactly one user turn."""
    path = tmp_path / "utterance.wav"
    write_wav(path, tone(16000, 16000), 16000)
    return path


@pytest.fixture
async def weather_agent() -> AsyncIterator[tuple[str, ScriptedLlm]]:
    llm = ScriptedLlm([[WEATHER], ["It is 21 degrees in Paris."]])
    registry = scripted_registry(stt=ScriptedStt(["what is the weather in paris"]), llm=llm)
    async with AgentServer(fast_config(), registry) as server:
        yield server.url, llm


async def test_client_side_calls_are_answered_from_canned_results(
    weather_agent: tuple[str, ScriptedLlm], utterance: Path
) -> None:
    url, llm = weather_agent
    conversation = await converse(
        utterance, url, speed=4, settings=CLIENT_SIDE, functions={"get_weather": {"temperature": 21}}
    )
    assert conversation.fatal is None, conversation.errors
    assert conversation.agent_transcripts == ["It is 21 degrees in Paris."]
    tool_message = llm.requests[1][0][-1]
    assert tool_message.role == "tool" and json.loads(tool_message.content or "") == {"temperature": 21}


@pytest.mark.parametrize(
    ("functions", "says"), [(None, "--functions FILE"), ({"other": 1}, "has no result for")]
)
async def test_an_unanswerable_call_stops_at_once_and_says_why(
    weather_agent: tuple[str, ScriptedLlm], utterance: Path, functions: dict[str, int] | None, says: str
) -> None:
    url, _ = weather_agent
    started = time.monotonic()
    conversation = await converse(utterance, url, speed=4, settings=CLIENT_SIDE, functions=functions)
    assert (
        conversation.fatal is not None
        and "'get_weather'" in conversation.fatal
        and says in conversation.fatal
    )
    assert time.monotonic() - started < 10  # not the 30 s reply timeout


async def test_a_fatal_error_exits_non_zero_with_the_error(
    utterance: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_: object) -> str:
        raise EngineError("the recogniser is on fire")

    registry = scripted_registry(stt=ScriptedStt(transcribe_with=broken))
    async with AgentServer(fast_config(), registry) as server:
        started = time.monotonic()
        argv = ["converse", str(utterance), "--url", server.url, "--speed", "4"]
        code = await asyncio.to_thread(cli.main, argv)
    captured = capsys.readouterr()
    assert code == 1
    assert "the recogniser is on fire" in captured.err
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("speed", [1.0, 8.0])
async def test_the_speed_does_not_change_how_turns_are_split(tmp_path: Path, speed: float) -> None:
    """Two phrases 0.7 s apart, STT taking 0.3 s: the first is answered before the second starts, at any
    speed. Sped-up pauses made the second phrase arrive during STT, which merged both into one turn."""
    pause = np.zeros(int(16000 * 0.7), dtype=np.int16)
    path = tmp_path / "two-phrases.wav"
    write_wav(path, np.concatenate((tone(8000, 16000), pause, tone(8000, 16000))), 16000)
    registry = scripted_registry(stt=ScriptedStt(["first phrase", "second phrase"], delay=0.3))
    async with AgentServer(fast_config(), registry) as server:
        conversation = await converse(path, server.url, speed=speed)
    assert conversation.user_transcripts == ["first phrase", "second phrase"]


def test_pauses_are_sent_in_real_time_and_speech_faster() -> None:
    loud, quiet = encode(tone(320, 16000), "mulaw"), encode(np.full(320, 30, np.int16), "mulaw")
    assert frame_intervals([loud, quiet, loud, bytes(0)], "mulaw", 4.0) == [0.005, 0.02, 0.005, 0.02]


async def test_the_in_process_server_of_a_config_with_api_keys_lets_converse_in(
    utterance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`converse --config` with the README's `api_keys` used to get 401 from its own server."""
    monkeypatch.delenv("VOICEWIRE_API_KEYS", raising=False)
    monkeypatch.setattr(
        EngineRegistry, "load_default", staticmethod(lambda config=None: scripted_registry(stt=ScriptedStt()))
    )
    config = tmp_path / "voicewire.toml"
    config.write_text('api_keys = ["a-key-of-16-or-more-characters"]\n')
    conversation = await run(utterance, url=None, out=None, speed=4, settings_path=None, config_path=config)
    assert conversation.fatal is None and conversation.agent_transcripts
