"""One HTTP request of a server-side function, made safe for URLs and headers that clients choose.

* The host is resolved once, and the request goes to that address (with the original `Host` header and TLS
  server name), so a name cannot resolve to a public address for a check and to 127.0.0.1 for the
  connection. An address that is not globally routable (loopback, private, link-local, ...) is refused
  unless the operator allowlisted it as such: by that IP, or by `localhost` for a loopback address. So an
  allowlisted public name whose DNS someone else controls cannot be turned against the server's network.
* The response body is read as a stream with a byte cap on what arrives and on what it decompresses to
  (`zlib` with `max_length`, so a gzip bomb yields only the first bytes it promises); only gzip and deflate
  are accepted, since other codecs cannot be bounded this way.
* Malformed URLs and headers (a NUL, non-ASCII text) become `FunctionCallError`, not exceptions.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

#: Compressed bytes read at most, per decoded byte wanted (plus a margin for headers of the encoding).
_RAW_PER_DECODED = 4
_RAW_MARGIN = 64 * 1024
_ZLIB_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FunctionCallError(Exception):
    """A call that could not produce a result; the message is shown to the client and the LLM."""


def build_url(url: str, params: dict[str, Any] | None) -> httpx.URL:
    """`url` with `params` merged into its own query string (not replacing it)."""
    try:
        parsed = httpx.URL(url)
        return parsed.copy_merge_params(params) if params else parsed
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FunctionCallError(f"the endpoint URL is invalid ({_excerpt(str(exc))})") from exc


def check_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        text = f"{name}{value}"
        if not text.isascii() or any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text):
            raise FunctionCallError(f"header {_excerpt(name)!r} has characters HTTP does not allow")


async def pinned_address(url: httpx.URL, allowlist: Sequence[str]) -> IpAddress:
    """The one address the request will go to; `FunctionCallError` if the host may not be reached there."""
    host = url.host
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return literal  # an IP literal passed the allowlist as such
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, url.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FunctionCallError(f"cannot resolve {_excerpt(host)!r}") from exc
    if not infos:
        raise FunctionCallError(f"cannot resolve {_excerpt(host)!r}")
    address = ipaddress.ip_address(str(infos[0][4][0]).split("%")[0])
    if not _reachable(host, address, allowlist):
        raise FunctionCallError(
            f"{host!r} resolves to {address}, which is not a public address "
            "(allowlist that address itself to allow it)"
        )
    return address


def _reachable(host: str, address: IpAddress, allowlist: Sequence[str]) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    effective = mapped or address
    if effective.is_global:
        return True
    if host.lower() == "localhost":
        return effective.is_loopback
    allowed_hosts = {urlsplit("//" + entry.strip()).hostname for entry in allowlist}
    return str(effective) in allowed_hosts or str(address) in allowed_hosts


def request_parts(url: httpx.URL, address: IpAddress) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL to connect to, the `Host` header, and the TLS server name, for `url` pinned to `address`."""
    pinned = url.copy_with(host=str(address))
    host_header = url.netloc.decode("ascii")
    extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


async def read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """At most `max_bytes` of the decoded body, and whether there was more (or more than could be read)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decode = _decoder(encoding)
    max_raw = max_bytes * _RAW_PER_DECODED + _RAW_MARGIN
    body = bytearray()
    raw = 0
    async for chunk in response.aiter_raw():
        raw += len(chunk)
        body += decode(chunk, max_bytes + 1 - len(body))
        if len(body) > max_bytes or raw > max_raw:
            return bytes(body[:max_bytes]), True
    return bytes(body), False


def _decoder(encoding: str) -> Callable[[bytes, int], bytes]:
    if encoding in ("", "identity"):
        return lambda chunk, room: chunk[:room]
    wbits = _ZLIB_WBITS.get(encoding)
    if wbits is None:
        raise FunctionCallError(f"unsupported Content-Encoding {_excerpt(encoding)!r} (use gzip or deflate)")
    inflater = zlib.decompressobj(wbits)

    def inflate(chunk: bytes, room: int) -> bytes:
        try:
            return inflater.decompress(chunk, max(1, room))
        except zlib.error as exc:
            raise FunctionCallError(f"the {encoding} response body is corrupt") from exc

    return inflate


def text_of(body: bytes, response: httpx.Response) -> str:
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
