"""Agent audio on the wire: formats, WAV headers, frame sizes and pacing."""

from __future__ import annotations

import itertools

import pytest

from tests.server.timeline import Timeline, VirtualClock
from voicewire.audio import read_wav
from voicewire.engines.scripted import ScriptedTts
from voicewire.protocol import SettingsConfigurationOptions


def output_settings(encoding: str, rate: int, container: str = "none") -> SettingsConfigurationOptions:
    settings = SettingsConfigurationOptions()
    settings.audio.output.encoding = encoding
    settings.audio.output.sample_rate = rate
    settings.audio.output.container = container
    return settings


def reply_frames(t: Timeline) -> list[tuple[float, bytes]]:
    return [
        (when, m) for when, m in zip(t.transport.times, t.transport.sent, strict=True) if isinstance(m, bytes)
    ]


@pytest.mark.parametrize(
    ("encoding", "rate", "width"),
    [
        ("linear16", 16000, 2),
        ("linear16", 24000, 2),
        ("linear16", 48000, 2),
        ("mulaw", 8000, 1),
        ("alaw", 16000, 1),
    ],
)
async def test_output_is_encoded_at_the_requested_rate_in_frames_of_at_most_100_ms(
    encoding: str, rate: int, width: int
) -> None:
    async with Timeline() as t:
        await t.configure(output_settings(encoding, rate))
        await t.send({"type": "InjectAgentMessage", "message": "Exactly forty characters in this sentence"})
        await t.clock.advance(2.0)
        frames = [data for _, data in reply_frames(t)]
        assert all(len(frame) <= rate // 10 * width for frame in frames)
        seconds = sum(len(frame) for frame in frames) / (rate * width)
        assert seconds == pytest.approx(
            t.tts.duration("Exactly forty characters in this sentence"), abs=0.002
        )


async def test_wav_container_starts_every_reply_with_a_streaming_header() -> None:
    async with Timeline() as t:
        await t.configure(output_settings("linear16", 24000, "wav"))
        for text in ("First reply.", "Second reply."):
            await t.send({"type": "InjectAgentMessage", "message": text})
            await t.clock.advance(1.0)
        sent = t.transport.sent
        headers = [i for i, m in enumerate(sent) if isinstance(m, bytes) and m.startswith(b"RIFF")]
        assert len(headers) == 2
        for index in headers:
            assert '"AgentStartedSpeaking"' in str(sent[index - 1])
            wav = read_wav(
                sent[index] + b"".join(m for m in sent[index + 1 : index + 3] if isinstance(m, bytes))
            )
            assert (wav.encoding, wav.sample_rate, wav.channels) == ("linear16", 24000, 1)


async def test_audio_is_paced_at_most_twice_real_time() -> None:
    clock = VirtualClock()
    async with Timeline(clock=clock, tts=ScriptedTts(seconds_per_char=0.05, sleep=clock.sleep)) as t:
        await t.configure()
        await t.send({"type": "InjectAgentMessage", "message": "A reply that lasts for a while."})
        await t.clock.advance(3.0)
        frames = reply_frames(t)
        assert len(frames) > 5
        for (when, data), (next_when, _) in itertools.pairwise(frames):
            duration = len(data) / (16000 * 2)
            assert next_when - when >= duration / 2 - 1e-9
        total = sum(len(data) for _, data in frames) / (16000 * 2)
        elapsed = frames[-1][0] - frames[0][0]
        assert elapsed == pytest.approx((total - len(frames[-1][1]) / 32000) / 2, abs=0.01)
