"""A whole conversation on real speech with the real offline engines, through `voicewire converse --json`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TEST_AUDIO
from tests.wer import wer
from voicewire import cli
from voicewire.audio import pcm16_to_float, read_wav
from voicewire.converse import converse, format_conversation
from voicewire.engines.llm_llamacpp import LlamaCppLlm
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.stt_whisper import WhisperStt
from voicewire.engines.tts_piper import PiperTts
from voicewire.engines.vad_silero import SileroModel
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig

pytestmark = pytest.mark.models

TESTING = Path(__file__).resolve().parents[2] / "examples" / "audio" / "testing-8k-mulaw.wav"


@pytest.fixture
async def agent_url(
    whisper_tiny: WhisperStt, smollm2: LlamaCppLlm, piper_joe: PiperTts
) -> AsyncIterator[str]:
    registry = EngineRegistry(vad_factory=SileroModel().stream, stt=whisper_tiny, llm=smollm2, tts=piper_joe)
    async with AgentServer(ServerConfig(port=0), registry) as server:
        yield server.url


def test_demo_sample_is_the_test_recording() -> None:
    assert TESTING.read_bytes() == (TEST_AUDIO / "testing-8k-mulaw.wav").read_bytes()


@pytest.mark.parametrize("dialect", ["early-access", "v1"])
async def test_converse_json_on_real_speech(
    agent_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    out = tmp_path / "reply.wav"
    argv = ["converse", str(TESTING), "--url", agent_url, "--json", "--speed", "2", "--out", str(out)]
    argv += ["--dialect", dialect]
    # The command runs its own event loop; run it in a thread so this test's loop keeps serving.
    code = await asyncio.to_thread(cli.main, argv)
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(result["user_transcripts"]) == 1
    assert wer("testing 123 testing 123", result["user_transcripts"][0]) <= 0.25
    assert result["agent_transcripts"] and all(text.strip() for text in result["agent_transcripts"])
    assert result["agent_audio_seconds"] > 0.3
    assert result["latencies"]
    for latency in result["latencies"]:
        assert latency["total_latency"] >= latency["ttt_latency"] >= 0
        assert latency["tts_latency"] >= 0
    types = [event["type"] for event in result["events"]]
    assert (
        types.index("UserStartedSpeaking")
        < types.index("AgentStartedSpeaking")
        < types.index("AgentAudioDone")
    )
    assert "Welcome" in types and "Error" not in types  # v1's Welcome{request_id} reaches the 3.11 handler
    reply = read_wav(out)
    assert reply.sample_rate == 16000 and abs(reply.duration - result["agent_audio_seconds"]) < 0.01


async def test_the_agent_reply_is_intelligible(agent_url: str, whisper_tiny: WhisperStt) -> None:
    """TTS round trip through the whole server: what the agent said, heard back by the STT engine."""
    conversation = await converse(TEST_AUDIO / "testing-8k-mulaw.wav", agent_url, speed=2.0)
    spoken = " ".join(conversation.agent_transcripts)
    assert spoken.strip(), format_conversation(conversation, None)
    pcm = np.frombuffer(bytes(conversation.agent_audio), dtype="<i2")
    heard = await whisper_tiny.transcribe(pcm16_to_float(pcm))
    assert wer(spoken, heard.text) <= 0.15, (spoken, heard.text)
