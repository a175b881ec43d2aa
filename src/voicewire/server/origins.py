"""Which web pages may use this server: the Origin check and, for loopback servers, the Host check.

A browser lets any site open a WebSocket to any address, the user's own 127.0.0.1 included, and attaches the
page's `Origin`. So a request whose `Origin` is neither this server's own origin nor in `allowed_origins` is
refused (cross-site WebSocket hijacking: without keys on loopback, any site the user visits could otherwise
talk to the agent). A request without `Origin` comes from a program, not a page, and is not affected.

DNS rebinding defeats the Origin check alone: `evil.example` re-resolved to 127.0.0.1 makes the attacker's
page same-origin with `http://evil.example:8080`. A server bound to loopback can only be reached under a
loopback name, so it refuses any `Host` that does not name `localhost`, `127.x.x.x` or `[::1]` (on any
port: a reverse proxy on the same machine forwards its own), unless `allowed_hosts` names it (a tunnel or
reverse proxy that forwards its public name). A server on another address is reached under names it cannot
know, and relies on API keys instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from websockets.datastructures import Headers

from voicewire.server.config import ServerConfig, is_loopback, normalise_origin

DEFAULT_PORTS = {"http": 80, "https": 443}


def refusal(headers: Headers, config: ServerConfig, port: int) -> str | None:
    """Why this request must be refused (HTTP 403), or None when it may go on. `port` is the bound port."""
    hosts = headers.get_all("Host")
    if len(hosts) > 1:
        return "more than one Host header"
    host = hosts[0].strip().lower() if hosts else ""
    loopback_server = is_loopback(config.host)
    if loopback_server and not (_is_loopback_authority(host) or _is_allowed_host(host, config)):
        return (
            f"Host {_quote(host)} is not this loopback server's address "
            "(localhost, 127.0.0.1 or [::1], or a name in allowed_hosts)"
        )
    origins = headers.get_all("Origin")
    if not origins:
        return None
    if len(origins) > 1:
        return "more than one Origin header"
    origin = normalise_origin(origins[0])
    if origin in {normalise_origin(o) for o in config.allowed_origins} or _is_own_origin(
        origin, host, port, loopback_server
    ):
        return None
    return (
        f"cross-origin request from {_quote(origin)} refused (allowed_origins lists pages that may connect)"
    )


def _is_own_origin(origin: str, host: str, port: int, loopback_server: bool) -> bool:
    """The page came from this server: the origin names the host the request was sent to, or (for a loopback
    server, whose Host is checked already) any loopback name with this port, since `localhost` and `127.0.0.1`
    are the same server."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if parts.scheme not in DEFAULT_PORTS or parts.path or not parts.hostname:
        return False
    if host and parts.netloc == host:
        return True
    return loopback_server and is_loopback(parts.hostname) and origin_port == port


def _is_allowed_host(host: str, config: ServerConfig) -> bool:
    """A name the configuration vouches for (a tunnel or proxy in front of the server), with any port."""
    try:
        name = (urlsplit("//" + host).hostname or "").removesuffix(".")
    except ValueError:
        return False
    return "@" not in host and name in {allowed.lower().removesuffix(".") for allowed in config.allowed_hosts}


def _is_loopback_authority(host: str) -> bool:
    """`host` is a well-formed Host header value naming a loopback address."""
    try:
        parts = urlsplit("//" + host)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    name = (parts.hostname or "").removesuffix(".")
    return bool(name) and "@" not in host and parts.netloc == host and is_loopback(name)


def _quote(value: str, limit: int = 100) -> str:
    """A client's header value for a log line or a reply: bounded, quoted, control characters escaped."""
    return repr(value[:limit] + ("..." if len(value) > limit else ""))
