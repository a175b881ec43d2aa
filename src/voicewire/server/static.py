"""The browser playground over plain HTTP: `/` is its page, `/static/<name>` its files, `/playground.json`
what the page must know about this server (whether it needs an API key).

Only files listed in the `voicewire.playground` package are served, looked up by exact name, so no request
path ever reaches the file system. They are read once: they are package data and do not change while the
server runs.
"""

from __future__ import annotations

import email.utils
import functools
import json
from importlib import resources

from websockets.datastructures import Headers
from websockets.http11 import Response

PLAYGROUND_PACKAGE = "voicewire.playground"
STATIC_PREFIX = "/static/"
INFO_PATH = "/playground.json"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

#: Everything the page loads comes from this server; it may not be framed by another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The files change with the installed version, not by date: revalidation is cheap, stale code is not.
    "Cache-Control": "no-cache",
}


def playground_url(host: str, port: int) -> str:
    """Where a person opens the page of a server bound to `host`:`port`."""
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def playground_response(path: str, *, api_key_required: bool) -> Response | None:
    """The response for a playground path, or None when `path` is not one (the caller answers 404)."""
    if path == INFO_PATH:
        return _response(json.dumps({"api_key_required": api_key_required}).encode(), CONTENT_TYPES[".json"])
    if path == "/":
        name = "index.html"
    elif path.startswith(STATIC_PREFIX):
        name = path.removeprefix(STATIC_PREFIX)
    else:
        return None
    asset = _assets().get(name)
    return None if asset is None else _response(*asset)


@functools.cache
def _assets() -> dict[str, tuple[bytes, str]]:
    """File name → (contents, content type) for every servable file of the playground package."""
    assets: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files(PLAYGROUND_PACKAGE).iterdir():
        content_type = CONTENT_TYPES.get("." + entry.name.rpartition(".")[2])
        if entry.is_file() and content_type is not None:
            assets[entry.name] = (entry.read_bytes(), content_type)
    return assets


def _response(body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            *SECURITY_HEADERS.items(),
        ]
    )
    return Response(200, "OK", headers, body)
