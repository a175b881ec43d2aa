"""Run a blocking model iterator on its own thread and consume it from asyncio.

Every local engine has the same shape: a C library produces items one at a time (tokens, sentences of
audio, transcript segments) and must neither block the event loop nor outlive a barge-in. This module is
the single place that handles it:

* the model runs on a dedicated thread (not the loop's default executor, which a few sessions waiting on a
  busy model would exhaust) while holding the model's lock, so concurrent sessions take turns;
* items cross to the loop through an `asyncio.Queue`;
* when the consumer stops (break, `aclose()`, task cancellation) a `threading.Event` is set, the producer
  notices it before its next item, and the consumer waits until the thread has let go of the lock. When the
  async iterator is finished, the model is idle again;
* with `max_ahead`, the producer waits while that many items are not yet taken, so a consumer that pauses
  also pauses the model and frees its cores (the session pauses the LLM while TTS makes the first audio);
* how long each call waited for its model's lock (other sessions using it) goes to the histogram
  `voicewire_engine_queue_wait_seconds{engine}`, in `ENGINE_METRICS`: the engines are shared by the whole
  process, and so is this registry, which every server's `/metrics` includes.
* `iterate_pieces_in_thread` takes the lock once per piece of work (a TTS sentence), so a long text never
  holds a shared model for more than one bounded piece: other sessions' pieces interleave, and a consumer
  that stops is let go at the next piece boundary at the latest.
* a consumer that may be paused for long (a reply prepared speculatively, which waits for its turn to end
  with the LLM mid-answer) sets `when_model_wanted`: if it is not reading while another call waits for the
  model, the callback runs on the loop, and may give the model up (by stopping the consumer) rather than
  make another session wait on work that may be thrown away.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Histogram

from voicewire.engines.base import EngineError

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: How often a producer waiting for a busy model checks whether its consumer has already gone.
_LOCK_POLL_SECONDS = 0.05

ENGINE_METRICS = CollectorRegistry()
_QUEUE_WAIT = Histogram(
    "voicewire_engine_queue_wait_seconds",
    "Time an engine call waited for its model while other calls used it",
    ["engine"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
    registry=ENGINE_METRICS,
)


#: Set by a consumer that may give its model up: called once, on the loop, when another call waits for the
#: model while this consumer leaves items untaken (with `max_ahead`). Read when the iteration starts.
when_model_wanted: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "when_model_wanted", default=None
)


class ModelLock:
    """A model's lock that knows whether any call is waiting for it (see `when_model_wanted`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count_guard = threading.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Calls waiting for the model now."""
        return self._waiting

    def locked(self) -> bool:
        return self._lock.locked()

    def acquire(self, timeout: float = -1) -> bool:
        return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()

    def acquire_unless(self, stop: threading.Event) -> bool:
        """Wait for the model, counted as waiting, unless `stop` is set first."""
        with self._count_guard:
            self._waiting += 1
        try:
            while not self._lock.acquire(timeout=_LOCK_POLL_SECONDS):
                if stop.is_set():
                    return False
            return True
        finally:
            with self._count_guard:
                self._waiting -= 1


class _Done:
    """Sentinel: the producer thread has finished and released the lock."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Item(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


async def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]],
    lock: ModelLock,
    *,
    what: str,
    max_ahead: int | None = None,
) -> AsyncGenerator[T, None]:
    """Yield what `produce(stop)` yields, computed on a worker thread that holds `lock`.

    `stop` is set once the consumer is gone; the worker checks it after every item, and `produce` may check
    it more often (e.g. from a C callback). Errors in `produce` surface as `EngineError` naming `what`.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_Item[T] | _Failed | _Done] = asyncio.Queue()
    stop = threading.Event()
    room = threading.Semaphore(max_ahead) if max_ahead is not None else None
    on_wanted = when_model_wanted.get()

    def wait_for_room() -> bool:
        """Whether the consumer still wants items, once it has room for one more; meanwhile, tell a
        consumer that may give the model up when another call waits for it."""
        nonlocal on_wanted
        if room is None:
            return not stop.is_set()
        while not room.acquire(timeout=_LOCK_POLL_SECONDS):
            if stop.is_set():
                return False
            if on_wanted is not None and lock.waiting:
                on_loop(on_wanted)
                on_wanted = None
        return not stop.is_set()

    def on_loop(action: Callable[[], None]) -> None:
        try:
            loop.call_soon_threadsafe(action)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def post(message: _Item[T] | _Failed | _Done) -> None:
        on_loop(functools.partial(queue.put_nowait, message))

    def work() -> None:
        try:
            queued = time.perf_counter()
            if not lock.acquire_unless(stop):
                return
            _QUEUE_WAIT.labels(engine=what).observe(time.perf_counter() - queued)
            try:
                if stop.is_set():
                    return
                items = produce(stop)
                try:
                    for item in items:
                        if not wait_for_room():
                            break
                        post(_Item(item))
                finally:
                    close = getattr(items, "close", None)
                    if close is not None:
                        close()
            finally:
                lock.release()
        except BaseException as error:  # handed to the consumer, which decides what to raise
            post(_Failed(error))
        finally:
            post(_Done())

    thread = threading.Thread(target=work, name=f"voicewire-{what}", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            message = await queue.get()
            if isinstance(message, _Done):
                finished = True
                return
            if isinstance(message, _Failed):
                if isinstance(message.error, EngineError):
                    raise message.error
                raise EngineError(f"{what} failed: {message.error}") from message.error
            if room is not None:
                room.release()
            yield message.value
    finally:
        stop.set()
        if not finished:
            await _wait_until_done(queue, what)


async def iterate_pieces_in_thread(
    pieces: Iterable[str],
    produce: Callable[[str, threading.Event], Iterator[T]],
    lock: ModelLock,
    *,
    what: str,
) -> AsyncGenerator[T, None]:
    """Yield what `produce(piece, stop)` yields for each piece in turn, holding `lock` one piece at a time."""
    for piece in pieces:
        stream = iterate_in_thread(functools.partial(produce, piece), lock, what=what)
        try:
            async for item in stream:
                yield item
        finally:
            await stream.aclose()


async def _wait_until_done(queue: asyncio.Queue[_Item[T] | _Failed | _Done], what: str) -> None:
    """Drain the queue until the worker reports it has released the model."""
    while True:
        message = await queue.get()
        if isinstance(message, _Done):
            return
        if isinstance(message, _Failed):
            logger.debug("%s failed after its consumer stopped: %r", what, message.error)
