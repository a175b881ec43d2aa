"""A phone call through `/twilio` on the real offline engines: a scripted Twilio peer, real speech, real time.

The peer speaks Twilio's documented messages (`tests.protocol.twilio_messages`) and, like Twilio, sends a
20 ms mu-law frame every 20 ms for the whole call, silence included. It talks over the greeting (the server
must send `clear`), and the answer it then gets must be whole 20 ms frames of speech that Whisper hears as
what the agent said, followed by a `mark`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.protocol.twilio_messages import FRAME_BYTES, TwilioPeer, media_payload
from tests.server.net import client
from tests.wer import wer
from voicewire.audio import decode, pcm16_to_float, read_wav, resample
from voicewire.engines.base import ENGINE_SAMPLE_RATE
from voicewire.engines.llm_llamacpp import LlamaCppLlm
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.stt_whisper import WhisperStt
from voicewire.engines.tts_piper import PiperTts
from voicewire.engines.vad_silero import SileroModel
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig, TwilioConfig

pytestmark = pytest.mark.models

TESTING = Path(__file__).resolve().parents[1] / "data" / "audio" / "testing-8k-mulaw.wav"
TOKEN = "e2e-twilio-token"
GREETING = (
    "Thank you for calling the voicewire test line. I can answer questions about almost anything, "
    "so please go ahead and ask me whatever you would like to know."
)
SILENT_FRAME = b"\xff" * FRAME_BYTES
#: Longest wait for the next message. Generous: on a busy machine the LLM alone has taken 15 s.
REPLY_WAIT = 60.0


@pytest.fixture
async def server(
    whisper_tiny: WhisperStt, smollm2: LlamaCppLlm, piper_joe: PiperTts
) -> AsyncIterator[AgentServer]:
    registry = EngineRegistry(vad_factory=SileroModel().stream, stt=whisper_tiny, llm=smollm2, tts=piper_joe)
    twilio = TwilioConfig(
        token=TOKEN, prompt="You answer phone calls. Reply in one short sentence.", greeting=GREETING
    )
    async with AgentServer(ServerConfig(port=0, twilio=twilio), registry) as running:
        yield running


class Caller:
    """Sends one 20 ms frame every 20 ms, from a queue of speech or else silence, until stopped."""

    def __init__(self, ws: ClientConnection, peer: TwilioPeer) -> None:
        self._ws = ws
        self._peer = peer
        self._speech: list[bytes] = []
        self.speech_done = asyncio.Event()

    def say(self, mulaw: bytes) -> None:
        self._speech = [mulaw[i : i + FRAME_BYTES] for i in range(0, len(mulaw), FRAME_BYTES)]
        self._speech[-1] = self._speech[-1].ljust(FRAME_BYTES, b"\xff")
        self.speech_done.clear()

    async def run(self) -> None:
        started = time.monotonic()
        for sent in range(10**9):
            if self._speech:
                frame = self._speech.pop(0)
                if not self._speech:
                    self.speech_done.set()
            else:
                frame = SILENT_FRAME
            await self._ws.send(self._peer.media(frame))
            await asyncio.sleep(max(0.0, started + (sent + 1) * 0.02 - time.monotonic()))


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), REPLY_WAIT)
    assert isinstance(message, str)
    parsed: dict[str, Any] = json.loads(message)
    return parsed


async def test_a_phone_call_with_barge_in_and_an_intelligible_answer(
    server: AgentServer, whisper_tiny: WhisperStt
) -> None:
    speech = read_wav(TESTING)
    assert (speech.encoding, speech.sample_rate, speech.channels) == ("mulaw", 8000, 1)
    url = server.url.removesuffix("/agent") + "/twilio"
    peer = TwilioPeer()
    async with client(url) as ws:
        await ws.send(peer.connected())
        await ws.send(peer.start({"token": TOKEN}))
        caller = Caller(ws, peer)
        streaming = asyncio.create_task(caller.run())
        try:
            # The greeting starts; the caller talks over it, and Twilio is told to drop what it queued.
            first = await next_event(ws)
            assert first["event"] == "media" and len(media_payload(first)) == FRAME_BYTES
            caller.say(speech.data)
            greeting = 1
            while (message := await next_event(ws))["event"] == "media":
                greeting += 1
            assert message == {"event": "clear", "streamSid": peer.stream_sid}, message
            assert greeting * 0.02 < 6.0, "the clear came after the whole greeting had been sent"

            # The answer: whole 20 ms frames, then a mark.
            await asyncio.wait_for(caller.speech_done.wait(), 10)
            answer = bytearray()
            while (message := await next_event(ws))["event"] == "media":
                payload = media_payload(message)
                assert len(payload) == FRAME_BYTES
                answer += payload
            assert message == {"event": "mark", "streamSid": peer.stream_sid, "mark": {"name": "reply-1"}}
            session = next(iter(server.sessions.values()))
            history = [(m.role, m.content) for m in session.history]
        finally:
            streaming.cancel()
    users = [i for i, (role, _) in enumerate(history) if role == "user"]
    assert len(users) == 1, history
    assert wer("testing 123 testing 123", history[users[0]][1]) <= 0.25, history
    said = " ".join(content for role, content in history[users[0] + 1 :] if role == "assistant")
    assert said.strip(), history
    pcm = resample(decode(bytes(answer), "mulaw"), 8000, ENGINE_SAMPLE_RATE)
    heard = await whisper_tiny.transcribe(pcm16_to_float(pcm))
    print(f"greeting frames before clear: {greeting}; said {said!r}; heard {heard.text!r}")
    assert wer(said, heard.text) <= 0.25, (said, heard.text)
