"""Keep API keys out of logs.

websockets logs every handshake header at DEBUG, in both directions, and the key travels in two of them
(`Authorization: Token <key>` and the `token, <key>` subprotocol). The server and both clients hand websockets
a logger from here instead of its own.
"""

from __future__ import annotations

import logging
from typing import Any

_SECRET_HEADERS = ("authorization", "sec-websocket-protocol")
#: websockets' formats for a received and a sent handshake header.
_HEADER_FORMATS = ("< %s: %s", "> %s: %s")


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger adapter that replaces the values of secret handshake headers with "[redacted]"."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if msg in _HEADER_FORMATS and len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
            args = (args[0], "[redacted]")
        super().log(level, msg, *args, **kwargs)


def websockets_logger(side: str) -> RedactingLogger:
    """The logger to pass as `logger=` to websockets' `serve` ("server") or `connect` ("client")."""
    return RedactingLogger(logging.getLogger(f"websockets.{side}"))
