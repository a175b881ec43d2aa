"""API keys at the HTTP upgrade: which keys a request offers, and a per-address brake on guessing.

A key is accepted from `Authorization: Token <key>` / `Bearer <key>` (what SDKs send) or from the
subprotocol pair `token, <key>` (what browsers can send). Keys are compared in constant time and never
logged. A request with more than one `Authorization` header is answered 400 without looking at either.

Guessing: after `FREE_FAILURES` refused requests from one address (IPv6 addresses are grouped by /64, which
one host usually owns), that address is answered 429 with `Retry-After` for a delay that doubles with each
further failure, up to `MAX_DELAY_S`, and its keys are not even compared. A success forgets the address.
The table of addresses holds at most `MAX_ADDRESSES` entries, the least recently failed evicted first, so
many addresses cost bounded memory (each of them gets its few free guesses, as it would anyway).
"""

from __future__ import annotations

import collections
import dataclasses
import hmac
import ipaddress
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voicewire.server.clock import Clock

logger = logging.getLogger(__name__)

TOKEN_SUBPROTOCOL = Subprotocol("token")
#: Refused requests an address may make before it is slowed down.
FREE_FAILURES = 5
#: The first delay after the free failures, doubling with each further failure, up to `MAX_DELAY_S`.
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 300.0
MAX_ADDRESSES = 4096


@dataclasses.dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0


class Authenticator:
    """`check` answers a request that may not proceed (400, 401, 429), or None for one that may."""

    def __init__(self, keys: Sequence[str], clock: Clock) -> None:
        self._keys = [key.encode() for key in keys]
        self._clock = clock
        self._failures: collections.OrderedDict[str, _Failures] = collections.OrderedDict()

    def check(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self._keys:
            return None
        address = _address_group(connection.remote_address)
        record = self._failures.get(address)
        now = self._clock.now()
        if record is not None and now < record.blocked_until:
            response = connection.respond(429, "too many failed attempts; try again later\n")
            response.headers["Retry-After"] = str(math.ceil(record.blocked_until - now))
            return response
        if len(request.headers.get_all("Authorization")) > 1:
            self._failed(address, now)
            return connection.respond(400, "more than one Authorization header\n")
        if self._accepted(_offered_keys(request.headers)):
            self._failures.pop(address, None)
            return None
        self._failed(address, now)
        logger.info("rejected a request from %s: missing or wrong API key", address)
        response = connection.respond(401, "missing or invalid API key\n")
        response.headers["WWW-Authenticate"] = "Token"
        return response

    def _accepted(self, offered: Iterable[str]) -> bool:
        """Constant-time in the key contents: every offered value is compared with every key."""
        accepted = False
        for value in offered:
            candidate = value.encode("utf-8", "surrogateescape")
            for key in self._keys:
                accepted |= hmac.compare_digest(candidate, key)
        return accepted

    def _failed(self, address: str, now: float) -> None:
        record = self._failures.pop(address, None) or _Failures()
        self._failures[address] = record  # most recently failed last
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
        record.count += 1
        if record.count >= FREE_FAILURES:
            delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** min(record.count - FREE_FAILURES, 32))
            record.blocked_until = now + delay

    @property
    def tracked_addresses(self) -> int:
        return len(self._failures)


def _address_group(remote: Any) -> str:
    host = str(remote[0]) if isinstance(remote, tuple) and remote else str(remote)
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


def _offered_keys(headers: Headers) -> Iterable[str]:
    for header in headers.get_all("Authorization"):
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            yield value.strip()
    protocols = [p.strip() for header in headers.get_all("Sec-WebSocket-Protocol") for p in header.split(",")]
    if TOKEN_SUBPROTOCOL in protocols:
        yield from (p for p in protocols if p and p != TOKEN_SUBPROTOCOL)


def select_subprotocol(
    connection: ServerConnection, subprotocols: Sequence[Subprotocol]
) -> Subprotocol | None:
    return TOKEN_SUBPROTOCOL if TOKEN_SUBPROTOCOL in subprotocols else None
