"""The outbox's bound on what a client that stops reading can make the server hold."""

from __future__ import annotations

import asyncio

from tests.server.timeline import settle
from voicewire.protocol.agent import ConversationText
from voicewire.protocol.dialects import V1
from voicewire.server.outbox import SLOW_READER_CLOSE, Outbox


class StuckTransport:
    """A socket whose peer has stopped reading: the first write never completes."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, message: str | bytes) -> None:
        self.sent.append(message)
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


async def test_a_client_that_stops_reading_is_disconnected_once_the_backlog_passes_the_bound() -> None:
    transport = StuckTransport()
    outbox = Outbox(transport, V1(), max_bytes=100_000)
    writer = asyncio.create_task(outbox.run())
    await settle()
    line = "x" * 1000
    for _ in range(90):
        outbox.send(ConversationText("assistant", line))
    await settle()
    assert transport.closed is None and outbox.queued_bytes < 100_000
    for _ in range(1000):
        outbox.send(ConversationText("assistant", line))
        assert outbox.queued_bytes <= 100_000
    await asyncio.wait_for(writer, 1)
    assert transport.closed == SLOW_READER_CLOSE
    assert outbox.closed and len(transport.sent) == 1
    assert not await outbox.send_audio(b"\0\0")


async def test_a_reader_that_keeps_up_is_never_disconnected() -> None:
    class Reader(StuckTransport):
        async def send(self, message: str | bytes) -> None:
            self.sent.append(message)

    transport = Reader()
    outbox = Outbox(transport, V1(), max_bytes=10_000)
    writer = asyncio.create_task(outbox.run())
    for _ in range(100):
        for _ in range(5):
            outbox.send(ConversationText("assistant", "y" * 1000))
        await settle()
    assert transport.closed is None and len(transport.sent) == 500 and outbox.queued_bytes == 0
    writer.cancel()
