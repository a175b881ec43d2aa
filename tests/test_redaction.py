"""API keys never reach the logs, on either side of the handshake."""

from __future__ import annotations

import asyncio
import logging

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
