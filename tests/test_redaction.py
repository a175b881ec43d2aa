"""API keys never reach the logs, on either side of the handshake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from tests.server.net import fast_config, running
from voicewire.client import AgentWebSocketClient, AsyncAgentWebSocketClient, ClientOptions
from voicewire.redaction import websockets_logger

KEY = "k3y-that-must-not-leak"


@pytest.mark.parametrize("fmt", ["< %s: %s", "> %s: %s"])
@pytest.mark.parametrize("header", ["Authorization", "sec-websocket-protocol"])
def test_secret_header_values_are_redacted_both_ways(
    fmt: str, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.client")
    websockets_logger("client").debug(fmt, header, f"Token {KEY}")
    assert caplog.messages == [fmt % (header, "[redacted]")]


def test_other_headers_are_logged_as_they_are(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.server")
    websockets_logger("server").debug("< %s: %s", "Host", "127.0.0.1:8080")
    assert caplog.messages == ["< Host: 127.0.0.1:8080"]


async def test_voicewire_clients_and_server_keep_the_key_out_of_debug_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(fast_config(api_keys=(KEY,))) as server:
        options = ClientOptions(api_key=KEY, url=server.url)
        async_client = AsyncAgentWebSocketClient(options)
        assert await async_client.start({"type": "SettingsConfiguration"})
        assert await async_client.finish()
        sync_client = AgentWebSocketClient(options)
        assert await asyncio.to_thread(sync_client.start, {"type": "SettingsConfiguration"})
        assert await asyncio.to_thread(sync_client.finish)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    assert "> Authorization: [redacted]" in logs  # websockets did log the header the clients sent...
    assert KEY not in logs  # ...but nobody logged its value


class _Everything(logging.Handler):
    """What any handler could write: each record formatted, exception text and traceback included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def everything() -> Iterator[_Everything]:
    root = logging.getLogger()
    handler = _Everything()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def _raw_handshake(port: int, lines: list[str]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = "\r\n".join(
        [
            *lines,
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            "",
            "",
        ]
    )
    writer.write(request.encode())
    await writer.drain()
    answer = await reader.read(4096)
    writer.close()
    return answer


@pytest.mark.parametrize(
    "lines",
    [
        [f"GET /agent?token={KEY} HTTP/1.1"],
        ["GET /agent HTTP/1.1", f"Sec-WebSocket-Protocol: token, {KEY}, ,,(bad"],
        ["GET /agent HTTP/1.1", f"Sec-WebSocket-Protocol: token, {KEY}@"],
        ["GET /agent HTTP/1.1", f"Authorization: Token {KEY}", f"Authorization: Token {KEY}"],
        ["GET /agent HTTP/1.1", f"Authorization: Token {KEY}\x01"],
        [f"GET /metrics?key={KEY} HTTP/1.1", f"Authorization: Bearer {KEY}x"],
    ],
    ids=[
        "query-token",
        "malformed-subprotocol",
        "subprotocol-bad-char",
        "two-authorization",
        "ctl",
        "metrics",
    ],
)
async def test_no_log_line_at_any_level_carries_the_key(everything: _Everything, lines: list[str]) -> None:
    async with running(fast_config(api_keys=(KEY,))) as server:
        answer = await _raw_handshake(server.port, lines)
        await asyncio.sleep(0.05)
    assert not answer.startswith(b"HTTP/1.1 500")  # (a control character gets no answer at all)
    assert everything.lines  # the server did log the handshake...
    assert not [line for line in everything.lines if KEY in line]  # ...without the key, tracebacks included
