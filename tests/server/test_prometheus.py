"""`GET /metrics` in Prometheus' text format, scraped over a real socket after a scripted session that has a
turn, a barge-in, a warning and an error, and parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.net import client, fast_registry, receive_until, running, speak
from voicewire.engines._worker import ModelLock, iterate_in_thread
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.server import AgentServer


def settings() -> str:
    options = SettingsConfigurationOptions()
    options.agent.think.provider.type = "open_ai"  # not configured: a PROVIDER_FALLBACK warning
    return str(options)


async def scrape(server: AgentServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.get(f"http://127.0.0.1:{server.port}/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_after_a_scripted_session(caplog: pytest.LogCaptureFixture) -> None:
    long_reply = "This reply goes on for a while so that the user can interrupt it. " * 3
    registry = fast_registry(
        stt=ScriptedStt(["hello there", "stop"]),
        llm=ScriptedLlm([[long_reply], ["Sure."]]),
        tts=ScriptedTts(seconds_per_char=0.02),
    )
    with caplog.at_level(logging.INFO, logger="voicewire"):
        async with running(registry=registry) as server:
            async with client(server.url) as ws:
                await ws.send(settings())
                await receive_until(ws, "SettingsApplied")
                await ws.send("{not json")
                await receive_until(ws, "Error")
                await speak(ws)
                await receive_until(ws, "AgentStartedSpeaking")
                await speak(ws)  # while the agent speaks: a barge-in
                await receive_until(ws, "UserStartedSpeaking")
                await receive_until(ws, "AgentAudioDone")
                during = await scrape(server)
            for _ in range(50):
                if not server.sessions:
                    break
                await asyncio.sleep(0.02)
            after = await scrape(server)

    assert during[("voicewire_sessions_active", ())] == 1
    assert after[("voicewire_sessions_active", ())] == 0
    assert after[("voicewire_sessions_total", ())] == 1
    assert after[("voicewire_sessions_closed_total", (("code", "1000"),))] == 1
    assert after[("voicewire_turns_total", (("kind", "user"),))] == 2
    assert after[("voicewire_barge_ins_total", ())] == 1
    assert after[("voicewire_errors_total", (("code", "UNPARSABLE_CLIENT_MESSAGE"),))] == 1
    assert after[("voicewire_warnings_total", (("code", "PROVIDER_FALLBACK"),))] == 1
    for stage in ("voice_to_voice", "stt", "llm_first_token", "first_sentence", "tts_first_chunk"):
        assert after[(f"voicewire_{stage}_seconds_count", ())] == 2, stage
        assert after[(f"voicewire_{stage}_seconds_bucket", (("le", "+Inf"),))] == 2
        assert 0 <= after[(f"voicewire_{stage}_seconds_sum", ())] < 10

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    session_lines = [line for line in lines if line.startswith("session ")]
    assert any(" started " in line for line in session_lines)
    assert any(" ended with close code 1000 after 2 turns" in line for line in session_lines)
    turn_lines = [line for line in session_lines if " turn (user): voice-to-voice " in line]
    assert len(turn_lines) == 2 and "interrupted" in turn_lines[0]
    assert not any("hello there" in line for line in lines)  # the user's words stay out of the log


async def test_metrics_include_the_engines_queue_waits() -> None:
    """Engines are shared by the process; their waits are in every server's /metrics."""
    lock = ModelLock()
    async for _ in iterate_in_thread(lambda stop: iter([1]), lock, what="test engine"):
        pass
    async with running() as server:
        samples = await scrape(server)
    assert samples[("voicewire_engine_queue_wait_seconds_count", (("engine", "test engine"),))] >= 1
