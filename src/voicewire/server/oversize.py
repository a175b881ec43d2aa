"""An Error before the 1009 close of a frame beyond the WebSocket message limit.

websockets refuses a frame larger than `max_size` while reading its header, before any of it is buffered,
and closes with 1009 (message too big); that bound is what keeps a 10 MB frame from costing 10 MB. The
client would only see the close code, while smaller oversized text frames get an `Error`. This connection
class makes the two agree: it queues an `Error` in the client's dialect just ahead of the close frame.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.server import ServerProtocol

from voicewire.protocol.agent import Error, ErrorCode
from voicewire.protocol.dialects import WIRE_FORMATS

logger = logging.getLogger(__name__)


class AgentConnection(ServerConnection):
    """Pass as `create_connection=` to websockets' `serve`."""

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        fail = protocol.fail

        def fail_with_error(code: CloseCode | int, reason: str = "") -> None:
            if code == CloseCode.MESSAGE_TOO_BIG and protocol.state is State.OPEN:
                self._send_too_big(reason)
            fail(code, reason)

        protocol.fail = fail_with_error  # type: ignore[method-assign]

    def _send_too_big(self, reason: str) -> None:
        wire_format = WIRE_FORMATS.get(urlsplit(self.request.path).path) if self.request else None
        if wire_format is None:
            return
        frame = wire_format().encode(
            Error(
                ErrorCode.UNPARSABLE_CLIENT_MESSAGE,
                f"Message too big ({reason}); the connection is closed with 1009",
            )
        )
        if isinstance(frame, str):
            self.protocol.send_text(frame.encode())
