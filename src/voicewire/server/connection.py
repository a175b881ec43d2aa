"""One client connection: its wire format between the transport's frames and the session's vocabulary.

Frames are decoded into commands here, never in the session, and the session's events are encoded by the
same wire format in the outbox; so a new way to connect (a browser page, a phone bridge) is a wire format
and a path, with the session untouched.
"""

from __future__ import annotations

import logging

from voicewire.engines.registry import EngineRegistry
from voicewire.protocol.agent import CloseConnection, CommandError, ErrorCode
from voicewire.protocol.dialects import WireFormat
from voicewire.server.clock import Clock
from voicewire.server.config import ServerConfig
from voicewire.server.metrics import SessionObserver
from voicewire.server.outbox import Outbox, Transport
from voicewire.server.session import Session

logger = logging.getLogger(__name__)


class Connection:
    def __init__(
        self,
        config: ServerConfig,
        engines: EngineRegistry,
        transport: Transport,
        wire: WireFormat,
        *,
        clock: Clock | None = None,
        session_id: str | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        self.wire = wire
        self._binary_is_audio = wire.binary_is_audio
        self._max_text = config.max_text_frame_bytes
        observer = observer or SessionObserver()
        self._outbox = Outbox(transport, wire, max_bytes=config.max_outbox_bytes, on_send=observer.event_sent)
        self.session = Session(
            config, engines, self._outbox, clock=clock, session_id=session_id, observer=observer
        )

    def start(self) -> None:
        self.session.start()

    async def aclose(self) -> None:
        await self.session.aclose()

    async def receive(self, frame: str | bytes) -> None:
        """Handle one frame; the caller awaits each one, so frames take effect in order."""
        if self._outbox.closed:
            return  # the connection is closing: what the client still sends can no longer be answered
        if self._binary_is_audio and type(frame) is bytes:
            if frame:  # an empty binary frame (some SDKs' keep-alive) carries nothing, as `decode` says
                await self.session.audio(frame)
            return
        if isinstance(frame, str) and len(frame) > self._max_text // 4:
            size = len(frame.encode("utf-8"))
            if size > self._max_text:
                self.session.reject(
                    CommandError(
                        ErrorCode.UNPARSABLE_CLIENT_MESSAGE,
                        f"Text message of {size} bytes ignored (limit: {self._max_text} bytes)",
                    )
                )
                return
        try:
            command = self.wire.decode(frame)
        except CommandError as problem:
            self.session.reject(problem)
            return
        except CloseConnection as close:
            logger.info("session %s: closing (%d %s)", self.session.id, close.code, close.reason)
            self._outbox.close(close.code, close.reason)
            return
        except Exception:
            logger.exception("session %s: %s decoder failed", self.session.id, self.wire.name)
            self.session.reject(
                CommandError(ErrorCode.INTERNAL_SERVER_ERROR, "The server failed to read the last message")
            )
            return
        if command is not None:
            await self.session.handle(command)
