"""When a reply prepared at a pause may be released for the turn that ended."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from voicewire.engines.base import Transcript
from voicewire.server.speculation import PreparedReply, Speculation

UTTERANCE = np.zeros(16_000, dtype=np.float32)


class HeldReply:
    """Stands in for `Reply`: only its `utterance` is read."""

    utterance = UTTERANCE


async def forever() -> Any:
    await asyncio.Event().wait()


async def test_a_prepared_reply_answers_the_same_utterance_in_the_same_conversation_only() -> None:
    history: list[str] = ["hello"]
    basis = (history, "prompt")
    prepared = PreparedReply(HeldReply(), asyncio.create_task(forever()), basis)  # type: ignore[arg-type]
    assert prepared.answers(UTTERANCE.copy(), (history, "prompt"))
    assert not prepared.answers(UTTERANCE[:-512], basis)  # speech went on, or the turn was cut otherwise
    assert not prepared.answers(UTTERANCE, (list(history), "prompt"))  # equal, but a new history
    prepared.task.cancel()
    await asyncio.sleep(0)
    assert not prepared.answers(UTTERANCE, basis)  # it is over (it failed, or was cancelled)


async def test_taking_a_stale_reply_cancels_it_and_its_transcript() -> None:
    speculation = Speculation()
    speculation.transcript = asyncio.create_task(forever())
    task = asyncio.create_task(forever())
    speculation.prepared = PreparedReply(HeldReply(), task, ("old history",))  # type: ignore[arg-type]
    transcript = speculation.transcript
    assert speculation.take_prepared(UTTERANCE, ("new history",)) is None
    await asyncio.sleep(0)
    assert task.cancelled() and transcript.cancelled()
    assert speculation.take_transcript() is None


async def test_a_reply_that_answers_is_handed_over_with_its_transcript() -> None:
    speculation = Speculation()

    async def heard() -> Transcript:
        return Transcript("hello")

    speculation.transcript = asyncio.create_task(heard())
    task = asyncio.create_task(forever())
    basis = ("history",)
    speculation.prepared = PreparedReply(HeldReply(), task, basis)  # type: ignore[arg-type]
    prepared = speculation.take_prepared(UTTERANCE, basis)
    assert prepared is not None and prepared.task is task and not task.cancelled()
    assert speculation.take_transcript() is None  # the reply awaits it; the session does not
    speculation.cancel()  # nothing left to cancel: the released reply goes on
    await asyncio.sleep(0)
    assert not task.cancelled()
    task.cancel()
