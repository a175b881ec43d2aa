"""One ordered queue for everything a session sends, drained by a single writer task.

The queue carries events, not frames: the connection's wire format encodes each one as it is written, so
the session never knows how its client spells a message (or whether it has one at all).

State transitions happen synchronously when a client message or audio frame is handled, and they emit
messages right away; the writer preserves their order. Agent audio goes through the same queue but its
sender waits until each frame is written (back-pressure from a slow client reaches the pacer), and a
barge-in drops the frames that are queued but not yet written, so no stale audio follows
`UserStartedSpeaking`.
"""

from __future__ import annotations

import asyncio
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
    event: AgentAudio
    written: asyncio.Future[bool]


@dataclasses.dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Outbox:
    def __init__(
        self, transport: Transport, wire: WireFormat, *, on_send: Callable[[Event], None] | None = None
    ) -> None:
        self._transport = transport
        self._wire = wire
        #: Told of every event as it is queued (the server's metrics count errors and warnings).
        self._on_send = on_send
        self._queue: asyncio.Queue[Event | _Audio | _Close] = asyncio.Queue()
        self._audio: list[_Audio] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once a close was requested or the connection went away; later sends are dropped."""
        return self._closed

    def send(self, event: Event) -> None:
        """Queue an event; agent audio sent this way is not paced (a WAV header)."""
        if not self._closed:
            if self._on_send is not None:
                self._on_send(event)
            self._queue.put_nowait(event)

    async def send_audio(self, data: bytes) -> bool:
        """Queue one frame of agent audio; True once written, False if dropped by a barge-in or a close."""
        if self._closed:
            return False
        item = _Audio(AgentAudio(data), asyncio.get_running_loop().create_future())
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

    async def run(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self._transport.close(item.code, item.reason)
                    return
                if isinstance(item, _Audio):
                    if item.written.done():
                        continue
                    self._audio.remove(item)
                    await self._write(item.event)
                    if not item.written.done():
                        item.written.set_result(True)
                    continue
                await self._write(item)
        except ConnectionClosed:
            logger.debug("connection closed while sending")
        finally:
            self._closed = True
            self.drop_audio()

    async def _write(self, event: Event) -> None:
        frames = self._wire.encode(event)
        if frames is None:
            return
        for frame in (frames,) if isinstance(frames, str | bytes) else frames:
            await self._transport.send(frame)
