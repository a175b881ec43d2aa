"""Keys at the upgrade: throttled guessing, malformed headers, bounded memory."""

from __future__ import annotations

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.server.net import fast_config, running
from voicewire.server.auth import FREE_FAILURES, MAX_ADDRESSES, Authenticator
from voicewire.server.config import ConfigError, ServerConfig

KEY = "a-long-enough-key-0123"


class ManualClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def now(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.now_s += seconds


async def _metrics(
    port: int, key: str | None, *, headers: list[tuple[str, str]] | None = None
) -> httpx.Response:
    sent = headers if headers is not None else ([("Authorization", f"Token {key}")] if key else [])
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(f"http://127.0.0.1:{port}/metrics", headers=sent)


async def test_guessing_is_slowed_down_with_429_and_a_doubling_retry_after() -> None:
    clock = ManualClock()
    async with running(fast_config(api_keys=(KEY,)), clock=clock) as server:
        statuses = [(await _metrics(server.port, f"guess-{n}")).status_code for n in range(FREE_FAILURES)]
        assert statuses == [401] * FREE_FAILURES
        refused = await _metrics(server.port, KEY)  # even the right key is not looked at now
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        clock.now_s += 1.0
        assert (await _metrics(server.port, "guess-again")).status_code == 401
        assert (await _metrics(server.port, KEY)).headers["Retry-After"] == "2"
        clock.now_s += 2.0
        assert (await _metrics(server.port, KEY)).status_code == 200  # a success forgets the address
        assert (await _metrics(server.port, "wrong")).status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("Authorization", f"Token {KEY}"), ("Authorization", f"Token {KEY}")], 400),
        ([("Authorization", "Token")], 401),
        ([("Authorization", "Token \u00e9\u00e9")], 401),
        ([("Sec-WebSocket-Protocol", "token")], 401),
    ],
    ids=["duplicated", "no-value", "non-ascii", "token-without-key"],
)
async def test_malformed_auth_headers_get_4xx_without_a_traceback(
    headers: list[tuple[str, str]], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(fast_config(api_keys=(KEY,))) as server:
        encoded = [(name, value.encode("utf-8")) for name, value in headers]
        response = await _metrics(server.port, None, headers=encoded)  # type: ignore[arg-type]
        assert response.status_code == status
    assert not [record for record in caplog.records if record.exc_info or record.levelname == "ERROR"]


def _request(remote: tuple[str, int], auth: Authenticator) -> int:
    class Connection:
        remote_address = remote

        def respond(self, status: int, text: str) -> Response:
            return Response(status, "", Headers(), text.encode())

    request = Request("/agent", Headers([("Authorization", "Token nope")]))
    response = auth.check(Connection(), request)  # type: ignore[arg-type]
    return 0 if response is None else response.status_code


def test_almost_every_guess_after_the_first_ten_is_refused_without_a_key_check() -> None:
    clock = ManualClock()
    auth = Authenticator([KEY], clock)
    statuses = []
    for _ in range(10_000):
        statuses.append(_request(("192.0.2.7", 1), auth))
        clock.now_s += 0.001  # a thousand guesses a second
    assert statuses[10:].count(429) / len(statuses[10:]) >= 0.999


def test_the_table_of_failing_addresses_is_bounded() -> None:
    auth = Authenticator([KEY], ManualClock())
    for n in range(MAX_ADDRESSES + 500):
        _request((f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", 1234), auth)
    assert auth.tracked_addresses == MAX_ADDRESSES


def test_ipv6_addresses_of_one_slash_64_share_a_budget() -> None:
    auth = Authenticator([KEY], ManualClock())
    statuses = [_request((f"2001:db8::{n:x}", 1), auth) for n in range(FREE_FAILURES + 1)]
    assert statuses[-1] == 429


@pytest.mark.parametrize("key", ["k", "fifteen-chars-x"])
def test_a_short_api_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigError, match="16 characters"):
        ServerConfig(api_keys=(key,)).check()
    ServerConfig(api_keys=(key + "x" * 16,)).check()
