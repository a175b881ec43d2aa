"""Long turns transcribed segment by segment at their pauses; short turns untouched."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicewire.engines.base import EngineError, FloatAudio
from voicewire.engines.scripted import ScriptedStt
from voicewire.server.incremental_stt import IncrementalStt

RATE = 16_000


def seconds(audio: FloatAudio) -> str:
    return f"<{len(audio) / RATE:.1f}s>"


def turn(total_s: float, seed: int = 0) -> FloatAudio:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, round(total_s * RATE)).astype(np.float32)


async def test_a_short_turn_is_transcribed_whole() -> None:
    stt = ScriptedStt(transcribe_with=seconds)
    incremental = IncrementalStt(stt, min_segment_s=6.0)
    audio = turn(4.0)
    assert (await incremental.transcribe(audio[: 2 * RATE])).text == "<2.0s>"
    assert (await incremental.transcribe(audio)).text == "<4.0s>"
    assert [len(u) for u in stt.utterances] == [2 * RATE, 4 * RATE]


async def test_a_long_turn_reuses_the_segments_finished_at_its_pauses() -> None:
    stt = ScriptedStt(transcribe_with=seconds)
    incremental = IncrementalStt(stt, min_segment_s=6.0)
    audio = turn(20.0)
    assert (await incremental.transcribe(audio[: 7 * RATE])).text == "<7.0s>"  # pause at 7 s: a segment
    assert (await incremental.transcribe(audio[: 10 * RATE])).text == "<7.0s> <3.0s>"  # too short to keep
    assert (await incremental.transcribe(audio[: 14 * RATE])).text == "<7.0s> <7.0s>"  # the second segment
    assert (await incremental.transcribe(audio)).text == "<7.0s> <7.0s> <6.0s>"
    assert (await incremental.transcribe(audio)).text == "<7.0s> <7.0s> <6.0s>"  # nothing left to do
    assert [len(u) / RATE for u in stt.utterances] == [7.0, 3.0, 7.0, 6.0]
    assert incremental.segments == ["<7.0s>", "<7.0s>", "<6.0s>"]


async def test_a_segment_finishes_even_when_its_request_is_cancelled() -> None:
    stt = ScriptedStt(transcribe_with=seconds, delay=0.05)
    incremental = IncrementalStt(stt, min_segment_s=6.0)
    audio = turn(10.0)
    request = asyncio.create_task(incremental.transcribe(audio[: 7 * RATE]))
    await asyncio.sleep(0.01)
    request.cancel()  # the user spoke again
    with pytest.raises(asyncio.CancelledError):
        await request
    assert (await incremental.transcribe(audio)).text == "<7.0s> <3.0s>"
    assert [len(u) / RATE for u in stt.utterances] == [7.0, 3.0]


async def test_another_turn_starts_afresh() -> None:
    stt = ScriptedStt(transcribe_with=seconds)
    incremental = IncrementalStt(stt, min_segment_s=6.0)
    await incremental.transcribe(turn(8.0, seed=1))
    assert (await incremental.transcribe(turn(9.0, seed=2))).text == "<9.0s>"
    assert incremental.segments == ["<9.0s>"]


async def test_a_failed_segment_is_an_error_and_is_not_reused() -> None:
    failures = iter([True, False])

    def flaky(audio: FloatAudio) -> str:
        if next(failures):
            raise EngineError("boom")
        return seconds(audio)

    stt = ScriptedStt(transcribe_with=flaky)
    incremental = IncrementalStt(stt, min_segment_s=6.0)
    audio = turn(8.0)
    with pytest.raises(EngineError):
        await incremental.transcribe(audio[: 7 * RATE])
    assert (await incremental.transcribe(audio)).text == "<8.0s>"
