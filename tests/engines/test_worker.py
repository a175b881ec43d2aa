"""The thread bridge every local engine uses: ordering, stopping, errors and the model lock."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from voicewire.engines._worker import (
    ENGINE_METRICS,
    ModelLock,
    iterate_in_thread,
    iterate_pieces_in_thread,
    when_model_wanted,
)
from voicewire.engines.base import EngineError


def _counting(produced: list[int], delay: float = 0.0) -> Iterator[int]:
    for number in range(1000):
        time.sleep(delay)
        produced.append(number)
        yield number


async def test_items_arrive_in_order_and_the_lock_is_released() -> None:
    lock = ModelLock()
    items = [item async for item in iterate_in_thread(lambda stop: iter(range(5)), lock, what="test")]
    assert items == [0, 1, 2, 3, 4]
    assert not lock.locked()


async def test_aclose_stops_the_producer_within_one_item() -> None:
    lock = ModelLock()
    produced: list[int] = []
    stream = iterate_in_thread(lambda stop: _counting(produced, delay=0.01), lock, what="test")
    assert await anext(stream) == 0
    await stream.aclose()
    assert not lock.locked()
    stopped_at = len(produced)
    await asyncio.sleep(0.05)
    assert len(produced) == stopped_at < 10


async def test_cancelling_the_consumer_stops_the_producer() -> None:
    lock = ModelLock()
    produced: list[int] = []

    async def consume() -> None:
        async for _ in iterate_in_thread(lambda stop: _counting(produced, delay=0.01), lock, what="test"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not lock.locked()
    stopped_at = len(produced)
    await asyncio.sleep(0.05)
    assert len(produced) == stopped_at


async def test_errors_become_engine_errors() -> None:
    def failing(stop: threading.Event) -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")

    lock = ModelLock()
    with pytest.raises(EngineError, match="test failed: boom"):
        async for _ in iterate_in_thread(failing, lock, what="test"):
            pass
    assert not lock.locked()


async def test_a_busy_model_is_waited_for_and_a_gone_consumer_gives_up_waiting() -> None:
    lock = ModelLock()
    lock.acquire()
    started = threading.Event()

    def producer(stop: threading.Event) -> Iterator[int]:
        started.set()
        yield 1

    stream = iterate_in_thread(producer, lock, what="test")
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.1)
    assert not started.is_set() and not waiting.done()
    lock.release()
    assert await waiting == 1
    await stream.aclose()

    lock.acquire()
    abandoned = iterate_in_thread(producer, lock, what="test")
    started.clear()
    pending = asyncio.ensure_future(anext(abandoned))
    await asyncio.sleep(0.1)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert not started.is_set()
    lock.release()


async def test_with_max_ahead_a_paused_consumer_pauses_the_producer() -> None:
    lock = ModelLock()
    produced: list[int] = []
    stream = iterate_in_thread(lambda stop: _counting(produced), lock, what="test", max_ahead=2)
    assert await anext(stream) == 0
    await asyncio.sleep(0.1)  # unpaused, the producer would be done with all 1,000 items by now
    # Two items wait untaken and one more is computed, blocked on room to post it.
    assert len(produced) <= 4
    assert [await anext(stream) for _ in range(5)] == [1, 2, 3, 4, 5]
    await stream.aclose()
    assert not lock.locked()


async def test_the_wait_for_a_busy_model_is_measured() -> None:
    what = "test queue wait"
    lock = ModelLock()

    def count() -> float:
        return (
            ENGINE_METRICS.get_sample_value("voicewire_engine_queue_wait_seconds_count", {"engine": what})
            or 0
        )

    def slow(stop: threading.Event) -> Iterator[int]:
        time.sleep(0.3)
        yield 1

    async def drain() -> list[int]:
        return [item async for item in iterate_in_thread(slow, lock, what=what)]

    await asyncio.gather(drain(), drain())
    assert count() == 2
    waited = ENGINE_METRICS.get_sample_value("voicewire_engine_queue_wait_seconds_sum", {"engine": what})
    assert waited is not None and 0.25 <= waited < 2  # the second call waited for the first


async def test_pieces_take_the_lock_one_at_a_time() -> None:
    """Between two pieces another user of the model gets its turn, and a consumer that stops does not wait
    for the rest of the text."""
    lock = ModelLock()
    started: list[str] = []
    held_between: list[bool] = []

    def produce(piece: str, stop: threading.Event) -> Iterator[str]:
        started.append(piece)
        yield piece

    stream = iterate_pieces_in_thread(["a", "b", "c"], produce, lock, what="test")
    assert await anext(stream) == "a"
    await asyncio.sleep(0.1)
    held_between.append(lock.locked())
    assert await anext(stream) == "b"
    await stream.aclose()
    assert started == ["a", "b"]
    assert held_between == [False]
    assert not lock.locked()


async def test_a_paused_consumer_that_may_give_the_model_up_is_told_when_another_call_waits() -> None:
    """A speculative reply holds the LLM mid-answer while it waits for its turn to end: when another call
    waits for the model, the reply is told (once, on the loop) and may stop, which hands the model over."""
    lock = ModelLock()
    told: list[str] = []
    first_item = asyncio.Event()

    async def held() -> None:
        when_model_wanted.set(lambda: (told.append("wanted"), holder.cancel()))
        async for _ in iterate_in_thread(lambda stop: _counting([]), lock, what="test", max_ahead=2):
            first_item.set()
            await asyncio.Event().wait()  # paused: waits for a release that does not come

    holder = asyncio.create_task(held())
    await first_item.wait()
    await asyncio.sleep(0.1)
    assert told == [] and lock.locked()  # nobody else wants the model: it stays held
    other = [item async for item in iterate_in_thread(lambda stop: iter("ab"), lock, what="test")]
    assert other == ["a", "b"]
    assert told == ["wanted"]
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert not lock.locked() and lock.waiting == 0


async def test_without_the_callback_a_paused_consumer_keeps_the_model() -> None:
    lock = ModelLock()
    stream = iterate_in_thread(lambda stop: _counting([]), lock, what="test", max_ahead=2)
    assert await anext(stream) == 0
    other = asyncio.ensure_future(anext(iterate_in_thread(lambda stop: iter("a"), lock, what="test")))
    await asyncio.sleep(0.2)
    assert not other.done() and lock.waiting == 1
    await stream.aclose()
    assert await other == "a"
