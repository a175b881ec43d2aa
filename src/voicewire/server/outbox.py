"""One ordered queue for everything a session sends, drained by a single writer task.

The session hands over events, not frames: the connection's wire format encodes each one as it is queued,
in order (a format may keep state across events, like a phone stream's partial audio frame), so the session
never knows how its client spells a message, or whether it has one at all.

State transitions happen synchronously when a client message or audio frame is handled, and they emit
messages right away; the writer preserves their order. Agent audio goes through the same queue but its
sender waits until each frame is written (back-pressure from a slow client reaches the pacer), and a
barge-in drops the frames that are queued but not yet written, so no stale audio follows
`UserStartedSpeaking`.

The frames of other events are counted: a client that stops reading while the session
keeps producing messages (errors for a flood of bad frames, transcripts, history) would otherwise grow the
queue without bound. Beyond `max_bytes` the backlog is dropped, the write in progress abandoned, and the
connection closed with 1008 (policy violation) and a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Protocol

from websockets.exceptions import ConnectionClosed

from voicewire.protocol.agent import AgentAudio, Event
from voicewire.protocol.dialects import WireFormat

logger = logging.getLogger(__name__)


class Transport(Protocol):
    """What the session needs of a connection; `websockets`' `ServerConnection` fits as is."""

    async def send(self, message: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclasses.dataclass
class _Audio:
    frames: tuple[str | bytes, ...]
    written: asyncio.Future[bool]


@dataclasses.dataclass(frozen=True)
class _Close:
    code: int
    reason: str


#: The close code and reason for a client that fell more than `max_bytes` behind.
SLOW_READER_CLOSE = (1008, "client is not reading; too many messages queued")
#: Unbounded unless given: tests and tools that drive an `Outbox` directly.
UNBOUNDED = 2**62


class Outbox:
    def __init__(
        self,
        transport: Transport,
        wire: WireFormat,
        *,
        max_bytes: int = UNBOUNDED,
        on_send: Callable[[Event], None] | None = None,
    ) -> None:
        self._transport = transport
        self._wire = wire
        #: Told of every event as it is queued (the server's metrics count errors and warnings).
        self._on_send = on_send
        self._queue: asyncio.Queue[str | bytes | _Audio | _Close] = asyncio.Queue()
        self._audio: list[_Audio] = []
        self._closed = False
        self._max_bytes = max_bytes
        #: Bytes of encoded events queued and not yet written.
        self.queued_bytes = 0
        self._overflowed = False
        self._writer: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        """True once a close was requested or the connection went away; later sends are dropped."""
        return self._closed

    def send(self, event: Event) -> None:
        """Queue an event; agent audio sent this way is not paced (a WAV header)."""
        if self._closed:
            return
        if self._on_send is not None:
            self._on_send(event)
        for frame in self._encode(event):
            self.queued_bytes += len(frame)
            if self.queued_bytes > self._max_bytes:
                self._overflow()
                return
            self._queue.put_nowait(frame)

    async def send_audio(self, data: bytes) -> bool:
        """Queue one frame of agent audio; True once written, False if dropped by a barge-in or a close."""
        if self._closed:
            return False
        item = _Audio(self._encode(AgentAudio(data)), asyncio.get_running_loop().create_future())
        self._audio.append(item)
        self._queue.put_nowait(item)
        return await item.written

    def drop_audio(self) -> None:
        """Forget agent audio not yet written (barge-in)."""
        for item in self._audio:
            if not item.written.done():
                item.written.set_result(False)
        self._audio.clear()

    def close(self, code: int, reason: str) -> None:
        """Close the connection after everything queued so far has been sent."""
        if not self._closed:
            self._queue.put_nowait(_Close(code, reason))
            self._closed = True

    def _overflow(self) -> None:
        """Drop the backlog and close at once, even while a write is stuck on a full socket."""
        logger.info("closing a connection whose client stopped reading (%d bytes queued)", self.queued_bytes)
        self._overflowed = True
        self._closed = True
        self.drop_audio()
        while not self._queue.empty():
            self._queue.get_nowait()
        self.queued_bytes = 0
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()

    async def run(self) -> None:
        self._writer = writer = asyncio.current_task()
        try:
            if not self._overflowed:
                await self._drain()
        except asyncio.CancelledError:
            if not self._overflowed or writer is None:
                raise
            writer.uncancel()
        except ConnectionClosed:
            logger.debug("connection closed while sending")
        finally:
            self._closed = True
            self.drop_audio()
        if self._overflowed:
            with contextlib.suppress(ConnectionClosed):
                await self._transport.close(*SLOW_READER_CLOSE)

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _Close):
                await self._transport.close(item.code, item.reason)
                return
            if isinstance(item, _Audio):
                if item.written.done():
                    continue
                self._audio.remove(item)
                for frame in item.frames:
                    await self._transport.send(frame)
                if not item.written.done():
                    item.written.set_result(True)
                continue
            await self._transport.send(item)
            self.queued_bytes -= len(item)

    def _encode(self, event: Event) -> tuple[str | bytes, ...]:
        frames = self._wire.encode(event)
        if frames is None:
            return ()
        return (frames,) if isinstance(frames, str | bytes) else frames
