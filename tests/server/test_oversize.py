"""A frame beyond the WebSocket message limit: an Error in the client's dialect, then close code 1009."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.server.net import client, fast_config, receive, running


@pytest.mark.parametrize("v1", [False, True], ids=["early-access", "v1"])
async def test_a_ten_megabyte_text_frame_gets_an_error_and_then_1009(v1: bool) -> None:
    async with running(fast_config()) as server:
        ws = await client(server.v1_url if v1 else server.url)
        assert (await receive(ws))["type"] == "Welcome"
        sending = asyncio.create_task(ws.send(json.dumps({"type": "KeepAlive", "pad": "x" * 10_000_000})))
        error = await receive(ws)
        assert isinstance(error, dict) and error["type"] == "Error"
        assert error["code"] == "UNPARSABLE_CLIENT_MESSAGE" and "1009" in error["description"]
        with pytest.raises(ConnectionClosed):
            await receive(ws)
        assert ws.close_code == 1009
        with contextlib.suppress(ConnectionClosed, OSError):
            await sending
        with contextlib.suppress(Exception):  # the server dropped the TCP connection mid-frame
            ws.transport.abort()


async def test_a_text_frame_between_the_text_and_message_limits_gets_an_error_and_the_session_goes_on() -> (
    None
):
    async with running(fast_config()) as server, client(server.url) as ws:
        assert (await receive(ws))["type"] == "Welcome"
        await ws.send(json.dumps({"type": "KeepAlive", "pad": "x" * 500_000}))
        error = await receive(ws)
        assert isinstance(error, dict) and error["code"] == "UNPARSABLE_CLIENT_MESSAGE"
        await ws.send(json.dumps({"type": "Nope"}))
        assert (await receive(ws))["type"] == "Error"
