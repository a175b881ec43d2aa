"""The load generator of `bench capacity`: many real-time callers per process, cheap enough to share a core.

Each caller is a bare `asyncio.Protocol` on its own TCP connection that does the WebSocket upgrade itself,
sends frames serialised (and masked) once for the whole run, and reads the server's frames only as far as
their length and, for text, the event type it counts. One timer per process walks the callers in the order
of their phases on the 20 ms grid and writes every frame that is due: no coroutine, sleep or websockets
framing per frame. A websockets client per caller cost 2-2.5 times the CPU (59 % of a core at 200 callers
against 24 %) and fell behind its own schedule (p99 18 ms late at 200 callers, 2.6 ms here).

What is measured is unchanged: looped real speech in 20 ms frames, paced in real time from a random phase
per caller, and every `PROBE_EVERY` frames an `UpdateInstructions` right after the audio frame, whose
`InstructionsUpdated` round trip is the lag.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from websockets.frames import Close, CloseCode, Frame, Opcode

from benchmarks.common import FRAME_MS, frames, load_speech

PROBE_EVERY: Final = 10  # frames: one probe per 200 ms
PROBE: Final = '{"type":"UpdateInstructions","instructions":""}'
PERIOD_S: Final = FRAME_MS / 1000
#: Callers due within this much of the timer are written in the same tick (phases stay random at 1 ms).
TICK_SLACK_S: Final = 0.0005
CONNECT_TIMEOUT_S: Final = 60.0
CLOSE_TIMEOUT_S: Final = 5.0


@dataclass
class LoadReport:
    lags: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    frames_sent: int = 0
    onsets: int = 0
    replies: int = 0
    failed: int = 0
    cpu_s: float = 0.0

    def add(self, other: LoadReport) -> None:
        self.lags += other.lags
        self.lateness += other.lateness
        self.frames_sent += other.frames_sent
        self.onsets += other.onsets
        self.replies += other.replies
        self.failed += other.failed
        self.cpu_s += other.cpu_s


def _client_frame(opcode: Opcode, data: bytes) -> bytes:
    """A masked client frame; its mask key is drawn once and reused for every send, which RFC 6455 allows
    of a client whose frames are not chosen by a page's script."""
    return Frame(opcode, data).serialize(mask=True)


@dataclass(frozen=True)
class Wire:
    """Every frame a caller sends, serialised once per process."""

    settings: bytes
    audio: list[bytes]
    probe: bytes
    close: bytes

    @classmethod
    def build(cls) -> Wire:
        from voicewire.protocol import SettingsConfigurationOptions, encode

        return cls(
            settings=_client_frame(Opcode.TEXT, encode(SettingsConfigurationOptions()).encode()),
            audio=[_client_frame(Opcode.BINARY, frame) for frame in frames(load_speech())],
            probe=_client_frame(Opcode.TEXT, PROBE.encode()),
            close=_client_frame(Opcode.CLOSE, Close(CloseCode.NORMAL_CLOSURE, "").serialize()),
        )


class Caller(asyncio.Protocol):
    """One session: the upgrade, then frames written by the generator's timer and server frames counted."""

    def __init__(self, host: str, path: str, wire: Wire, report: LoadReport, start: int) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self._wire = wire
        self._report = report
        self.index = start
        self.due = 0.0
        #: Probes whose answer counts: sent after the warm-up.
        self.measure_from = 0.0
        self._probes: collections.deque[float] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._skip = 0  # payload bytes of a binary frame still to pass over
        self._closing = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.opened.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[: self._buffer.find(b"\r\n")])
            del self._buffer[: end + 4]
            if status.split(b" ", 2)[1:2] != [b"101"]:
                refused = status.decode(errors="replace")
                self.opened.set_exception(ConnectionError(f"upgrade refused: {refused}"))
                self.abort()
                return
            self.opened.set_result(None)
            self.write(self._wire.settings)
        self._read_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("connection closed during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- frames

    def _read_frames(self) -> None:
        buffer, position = self._buffer, 0
        while True:
            if self._skip:
                passed = min(self._skip, len(buffer) - position)
                position += passed
                self._skip -= passed
                if self._skip:
                    break
            if len(buffer) - position < 2:
                break
            opcode, length, head = buffer[position] & 0x0F, buffer[position + 1] & 0x7F, 2
            if length == 126:
                if len(buffer) - position < 4:
                    break
                length, head = int.from_bytes(buffer[position + 2 : position + 4]), 4
            elif length == 127:
                if len(buffer) - position < 10:
                    break
                length, head = int.from_bytes(buffer[position + 2 : position + 10]), 10
            if opcode not in (Opcode.TEXT, Opcode.PING, Opcode.CLOSE):
                position += head  # agent audio (or a continuation): only its length matters
                self._skip = length
                continue
            if len(buffer) - position < head + length:
                break
            payload = bytes(buffer[position + head : position + head + length])
            position += head + length
            self._server_frame(opcode, payload)
        del buffer[:position]

    def _server_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == Opcode.TEXT:
            if b'"InstructionsUpdated"' in payload:
                sent = self._probes.popleft()
                if sent >= self.measure_from:
                    self._report.lags.append(time.monotonic() - sent)
            elif b'"UserStartedSpeaking"' in payload:
                self._report.onsets += 1
            elif b'"AgentStartedSpeaking"' in payload:
                self._report.replies += 1
        elif opcode == Opcode.PING:
            self.write(_client_frame(Opcode.PONG, payload))
        else:  # the server closes: answer, and let it end the TCP connection
            self.close()

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def send_due_frame(self, now: float, measured: bool) -> None:
        """The frame due at `self.due`, then the probe on every `PROBE_EVERY`-th frame."""
        if measured:
            self._report.lateness.append(max(0.0, now - self.due))
        wire = self._wire
        self.write(wire.audio[self.index % len(wire.audio)])
        self._report.frames_sent += 1
        if self.index % PROBE_EVERY == 0:
            self._probes.append(time.monotonic())
            self.write(wire.probe)
        self.index += 1
        self.due += PERIOD_S

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self.write(self._wire.close)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class Pacer:
    """One timer for every caller of the process: callers sorted by phase form a ring that the timer walks,
    writing each caller's frame when it is due. Every caller has the same period, so after a caller's frame
    its next one is due after those of all the others: the ring's order never changes."""

    def __init__(self, callers: list[Caller], t0: float, warmup: float, stop: float) -> None:
        self._ring = sorted(callers, key=lambda caller: caller.due)
        self._next = 0
        self._measure_from = t0 + warmup
        self._stop = stop
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self._loop.create_future()

    def start(self) -> None:
        self._loop.call_at(self._ring[0].due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        horizon = now + TICK_SLACK_S
        ring, count = self._ring, len(self._ring)
        caller = ring[self._next]
        while caller.due <= horizon:
            if caller.due >= self._stop:
                self.done.set_result(None)
                return
            caller.send_due_frame(now, caller.due >= self._measure_from)
            self._next = (self._next + 1) % count
            caller = ring[self._next]
        self._loop.call_at(caller.due, self._tick)


async def generate(url: str, sessions: int, seconds: float, warmup: float, seed: int) -> LoadReport:
    """Connect `sessions` callers, stream for `warmup + seconds`, and report what was measured."""
    rng = random.Random(seed)
    wire = Wire.build()
    report = LoadReport()
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    cpu0 = time.process_time()  # after the audio is loaded and framed, as before any caller connects
    callers = [
        Caller(f"{host}:{port}", parts.path or "/", wire, report, rng.randrange(len(wire.audio)))
        for _ in range(sessions)
    ]
    connected: list[Caller] = []
    for caller, outcome in zip(
        callers,
        await asyncio.gather(
            *(_connect(loop, caller, host, port) for caller in callers), return_exceptions=True
        ),
        strict=True,
    ):
        if isinstance(outcome, BaseException):
            report.failed += 1
            print(f"load session failed: {outcome!r}", file=sys.stderr)
        else:
            connected.append(caller)
    if connected:
        # Sessions start at random phases of the 20 ms grid, as independent callers would. loop.time() is the
        # monotonic clock (the default event loop), the same clock the probes are stamped with.
        t0 = loop.time() + 0.1
        for caller in connected:
            caller.due = t0 + rng.random() * PERIOD_S
            caller.measure_from = t0 + warmup
        pacer = Pacer(connected, t0, warmup, t0 + warmup + seconds)
        pacer.start()
        await pacer.done
        for caller in connected:
            caller.close()
        closing = asyncio.gather(*(caller.closed for caller in connected))
        try:
            await asyncio.wait_for(asyncio.shield(closing), CLOSE_TIMEOUT_S)
        except TimeoutError:
            for caller in connected:
                caller.abort()
            await closing
    report.cpu_s = time.process_time() - cpu0
    return report


async def _connect(loop: asyncio.AbstractEventLoop, caller: Caller, host: str, port: int) -> None:
    await loop.create_connection(lambda: caller, host, port)
    await asyncio.wait_for(asyncio.shield(caller.opened), CONNECT_TIMEOUT_S)


def run(url: str, sessions: int, seconds: float, warmup: float, seed: int) -> LoadReport:
    """A generator process's whole run, on the default event loop (its clock is `time.monotonic`)."""
    return asyncio.run(generate(url, sessions, seconds, warmup, seed))
