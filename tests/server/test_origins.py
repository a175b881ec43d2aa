"""The Origin and Host checks over real sockets: what a page on another site, or a DNS-rebound one, sends."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus

from tests.server.net import client, fast_config, receive, running
from voicewire.server import AgentServer, ConfigError
from voicewire.server.origins import refusal


async def status_of_upgrade(server: AgentServer, url: str | None = None, **kwargs: Any) -> int:
    """101 when the upgrade succeeded (and a Welcome came), else the HTTP status of the refusal."""
    try:
        async with client(url or server.url, **kwargs) as ws:
            assert (await receive(ws))["type"] == "Welcome"  # type: ignore[index]
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@contextlib.contextmanager
def socket_to(server: AgentServer) -> Iterator[socket.socket]:
    """A TCP connection to the server, so the URL (and with it the Host header) can name anything."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        yield sock


class TestOrigin:
    async def test_programs_send_no_origin_and_are_unaffected(self) -> None:
        async with running() as server:
            assert await status_of_upgrade(server) == 101

    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
    async def test_the_servers_own_pages_may_connect(self, host: str) -> None:
        """The page may have been opened as localhost and connect to 127.0.0.1, or the other way round."""
        async with running() as server:
            assert await status_of_upgrade(server, origin=f"http://{host}:{server.port}") == 101  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "origin",
        [
            "https://evil.example",
            "http://evil.example:{port}",
            "http://127.0.0.1:1",  # another local service's page
            "http://localhost",
            "null",  # sandboxed frames and file:// pages
            "http://127.0.0.1:{port}/path",
            "chrome-extension://abcdef",
        ],
    )
    async def test_other_pages_get_403_before_any_session(
        self, origin: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="voicewire")
        async with running() as server:
            origin = origin.format(port=server.port)
            assert await status_of_upgrade(server, origin=origin) == 403  # type: ignore[arg-type]
            assert server.sessions_served == 0
        assert any("cross-origin" in r.getMessage() for r in caplog.records)

    async def test_allowed_origins_may_connect(self) -> None:
        config = fast_config(allowed_origins=("https://App.Example.com/", "http://localhost:3000", "null"))
        async with running(config) as server:
            for origin in ("https://app.example.com", "http://localhost:3000", "null"):
                assert await status_of_upgrade(server, origin=origin) == 101  # type: ignore[arg-type]
            assert await status_of_upgrade(server, origin="https://app.example.com:8443") == 403  # type: ignore[arg-type]

    async def test_the_page_and_metrics_are_refused_to_other_sites_too(self) -> None:
        async with running() as server, httpx.AsyncClient(trust_env=False) as http:
            base = f"http://127.0.0.1:{server.port}"
            for path in ("/", "/metrics", "/playground.json"):
                foreign = await http.get(base + path, headers={"Origin": "https://evil.example"})
                assert foreign.status_code == 403
                own = await http.get(base + path, headers={"Origin": base})
                assert own.status_code == 200

    async def test_two_origin_headers_are_refused(self) -> None:
        headers = [("Origin", "http://127.0.0.1"), ("Origin", "https://evil.example")]
        async with running() as server:
            assert await status_of_upgrade(server, additional_headers=headers) == 403


class TestHost:
    """A loopback server answers only to loopback names; a rebound page reaches it as Host evil.example."""

    async def test_a_rebound_name_gets_403_even_from_its_own_origin(self) -> None:
        async with running() as server:
            rebound = f"rebind.example:{server.port}"
            with socket_to(server) as sock:
                status = await status_of_upgrade(
                    server, f"ws://{rebound}/agent", sock=sock, origin=f"http://{rebound}"
                )
            assert status == 403
            with socket_to(server) as sock:  # a program (no Origin) naming the wrong host is refused too
                assert await status_of_upgrade(server, f"ws://{rebound}/agent", sock=sock) == 403
            assert server.sessions_served == 0

    @pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.0.0.2", "[::1]"])
    async def test_loopback_names_with_the_servers_port_are_served(self, host: str) -> None:
        async with running() as server:
            with socket_to(server) as sock:
                url = f"ws://{host}:{server.port}/agent"
                assert await status_of_upgrade(server, url, sock=sock) == 101

    @pytest.mark.parametrize("host", ["localhost:1", "localhost", "127.0.0.1:8081"])
    async def test_a_loopback_name_on_another_port_is_a_local_proxy_and_is_served(self, host: str) -> None:
        async with running() as server, httpx.AsyncClient(trust_env=False) as http:
            response = await http.get(f"http://127.0.0.1:{server.port}/healthz", headers={"Host": host})
            assert response.status_code == 200

    @pytest.mark.parametrize(
        "host",
        [
            "localhost:port",
            "127.0.0.1:{port}.evil.example",
            "user@localhost:{port}",
            "0.0.0.0:{port}",
        ],
    )
    async def test_a_foreign_or_malformed_host_gets_403(self, host: str) -> None:
        async with running() as server, httpx.AsyncClient(trust_env=False) as http:
            response = await http.get(
                f"http://127.0.0.1:{server.port}/healthz", headers={"Host": host.format(port=server.port)}
            )
            assert response.status_code == 403
            assert "not this loopback server's address" in response.text

    async def test_allowed_hosts_name_a_tunnel_in_front_of_the_server(self) -> None:
        """A tunnel (e.g. for Twilio) forwards its public name; the page it serves is then its own origin."""
        async with running(fast_config(allowed_hosts=("voice.example.com",))) as server:
            with socket_to(server) as sock:
                url = "ws://voice.example.com/agent"
                assert (
                    await status_of_upgrade(server, url, sock=sock, origin="https://voice.example.com") == 101
                )  # type: ignore[arg-type]
            with socket_to(server) as sock:
                assert await status_of_upgrade(server, "ws://other.example.com/agent", sock=sock) == 403

    async def test_a_server_on_another_address_does_not_check_host(self) -> None:
        """It is reached under names it cannot know (and needs API keys); the Origin check still applies."""
        config = fast_config(host="0.0.0.0", api_keys=("k" * 16,))
        own = Headers({"Host": "voice.example.com", "Origin": "https://voice.example.com"})
        assert refusal(own, config, 443) is None
        assert refusal(Headers({"Host": "10.1.2.3:8080"}), config, 8080) is None
        foreign = Headers({"Host": "voice.example.com", "Origin": "https://evil.example"})
        assert refusal(foreign, config, 443) is not None


@pytest.mark.parametrize(
    "origin", ["example.com", "https://example.com/app", "ftp://example.com", "https://", "https://x:99999"]
)
def test_a_malformed_allowed_origin_is_a_config_error(origin: str) -> None:
    with pytest.raises(ConfigError, match="allowed_origins"):
        fast_config(allowed_origins=(origin,)).check()


@pytest.mark.parametrize("host", ["https://voice.example.com", "voice.example.com:443", "", "a b"])
def test_a_malformed_allowed_host_is_a_config_error(host: str) -> None:
    with pytest.raises(ConfigError, match="allowed_hosts"):
        fast_config(allowed_hosts=(host,)).check()


def test_allowed_origins_from_the_environment() -> None:
    from voicewire.server.config import load_config

    config = load_config(environ={"VOICEWIRE_ALLOWED_ORIGINS": "https://a.example, http://localhost:3000"})
    assert config.allowed_origins == ("https://a.example", "http://localhost:3000")
    config.check()
