"""The capacity benchmark's bare-socket caller: what it writes and how it reads the server's frames.

Its end-to-end use against the real server is the capacity smoke test in test_benchmarks.py.
"""

from __future__ import annotations

import asyncio

import pytest
from benchmarks.capacity_load import PROBE, Caller, LoadReport, Wire
from benchmarks.common import _frame
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


def client_frames(data: bytes) -> list[Frame]:
    """Parse what a caller wrote as a server would (masked frames required)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while True:
        parser = Frame.parse(reader.read_exact, mask=True, max_size=None)
        try:
            while True:
                next(parser)
        except StopIteration as done:
            frames.append(done.value)
        except EOFError:  # every frame read
            break
    return frames


WIRE = Wire(
    settings=Frame(Opcode.TEXT, b'{"type":"SettingsConfiguration"}').serialize(mask=True),
    audio=[Frame(Opcode.BINARY, bytes([i]) * 640).serialize(mask=True) for i in range(3)],
    probe=Frame(Opcode.TEXT, PROBE.encode()).serialize(mask=True),
    close=Frame(Opcode.CLOSE, b"\x03\xe8").serialize(mask=True),
)


async def opened_caller(report: LoadReport, start: int = 0) -> tuple[Caller, RecordingTransport]:
    caller = Caller("127.0.0.1:1", "/agent", WIRE, report, start)
    transport = RecordingTransport()
    caller.connection_made(transport)
    assert transport.written.startswith(b"GET /agent HTTP/1.1\r\n")
    assert b"Upgrade: websocket\r\n" in transport.written
    transport.written.clear()
    caller.data_received(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    assert caller.opened.done() and caller.opened.exception() is None
    (settings,) = client_frames(bytes(transport.written))  # the settings go first, once upgraded
    assert (settings.opcode, settings.data) == (Opcode.TEXT, b'{"type":"SettingsConfiguration"}')
    transport.written.clear()
    return caller, transport


async def test_caller_sends_looped_frames_and_a_probe_after_every_tenth() -> None:
    report = LoadReport()
    caller, transport = await opened_caller(report, start=8)
    for _ in range(3):
        caller.send_due_frame(now=caller.due, measured=True)
    sent = client_frames(bytes(transport.written))
    assert [frame.opcode for frame in sent] == [*[Opcode.BINARY] * 3, Opcode.TEXT]
    assert [frame.data[0] for frame in sent if frame.opcode is Opcode.BINARY] == [2, 0, 1]  # looped audio
    assert sent[3].data == PROBE.encode()  # right after frame 10
    assert report.frames_sent == 3 and len(report.lateness) == 3
    assert caller.due == pytest.approx(3 * 0.020)


async def test_caller_reads_server_frames_split_anywhere() -> None:
    report = LoadReport()
    caller, transport = await opened_caller(report, start=0)
    caller.send_due_frame(now=0.0, measured=True)  # sends a probe
    transport.written.clear()
    stream = b"".join(
        [
            _frame(b'{"type":"Welcome"}', 0x1),
            _frame(b"\x00" * 70_000, 0x2),  # agent audio with a 64-bit length
            _frame(b'{"type":"UserStartedSpeaking"}', 0x1),
            _frame(b"\x01" * 300, 0x2),  # a 16-bit length
            _frame(b"ping!", 0x9),
            _frame(b'{"type":"InstructionsUpdated"}', 0x1),
            _frame(b'{"type":"AgentStartedSpeaking","total_latency":0.1}', 0x1),
        ]
    )
    for i in range(0, len(stream), 7):
        caller.data_received(stream[i : i + 7])
    assert (report.onsets, report.replies, len(report.lags)) == (1, 1, 1)
    (pong,) = client_frames(bytes(transport.written))
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"ping!")


async def test_caller_answers_a_close_once_and_refused_upgrades_fail() -> None:
    caller, transport = await opened_caller(LoadReport())
    caller.close()
    caller.data_received(_frame(b"\x03\xe8", 0x8))
    assert [frame.opcode for frame in client_frames(bytes(transport.written))] == [Opcode.CLOSE]

    refused = Caller("127.0.0.1:1", "/agent", WIRE, LoadReport(), 0)
    refused_transport = RecordingTransport()
    refused.connection_made(refused_transport)
    refused.data_received(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(refused.opened.exception(), ConnectionError)
    assert refused_transport.aborted
