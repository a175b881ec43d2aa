"""Keep API keys out of logs.

websockets logs every handshake header at DEBUG, in both directions, and the key travels in two of them
(`Authorization: Token <key>` and the `token, <key>` subprotocol); it also logs the request line (where a
client may have put `?token=<key>`) and, for a malformed header, an exception whose text quotes the header.
The server and both clients hand websockets a logger from here instead of its own: it formats each message
and its traceback itself and redacts the text before any handler sees it, so no formatter can bring the
exception's own text back.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

REDACTED = "[redacted]"
#: A secret header's value, as logged or as quoted in an exception ("... Sec-WebSocket-Protocol header: ...").
_SECRET_HEADER = re.compile(r"(?i)((?:authorization|sec-websocket-protocol)\b[^:\n]*:)[^\n]*")
#: A query parameter that may carry a key.
_SECRET_PARAMETER = re.compile(r"(?i)([?&](?:token|key|api_key|apikey|access_token|auth)=)[^&\s]*")


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """`text` without secret header values, key-like query parameters, or any of `secrets`."""
    text = _SECRET_HEADER.sub(rf"\1 {REDACTED}", text)
    text = _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger adapter that logs `redact`ed text, tracebacks included."""

    def __init__(self, logger: logging.Logger, secrets: Sequence[str] = ()) -> None:
        super().__init__(logger, {})
        self._secrets = tuple(secret for secret in secrets if secret)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        exc_info = kwargs.pop("exc_info", None)
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = f"{msg} {args}"
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            if exc_info[0] is not None:
                text += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip()
        super().log(level, "%s", redact(text, self._secrets), **kwargs)


def websockets_logger(side: str, secrets: Sequence[str] = ()) -> RedactingLogger:
    """The logger to pass as `logger=` to websockets' `serve` ("server") or `connect` ("client")."""
    return RedactingLogger(logging.getLogger(f"websockets.{side}"), secrets)
