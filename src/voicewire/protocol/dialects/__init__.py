"""Wire formats: one per way a client can speak to the server, chosen per connection by the URL path.

A wire format is a pure translation layer: `decode` turns one client frame into a `Command` (or None for a
frame that means nothing to the session), and `encode` turns one `Event` into a frame, several, or None where
the format has no such message. A frame after which the connection must end raises `CloseConnection`.
Formats that need state, like the stream id of a phone call, keep it on the instance: a connection gets a
fresh one from `WIRE_FORMATS` (or, for `/twilio`, from the server, which holds its configuration).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from voicewire.protocol.agent import Command, Event
from voicewire.protocol.dialects.early_access import EarlyAccess
from voicewire.protocol.dialects.v1 import V1


class WireFormat(Protocol):
    #: For logs and errors: "early-access", "v1", ...
    name: str
    #: Whether every non-empty binary frame is user audio as it is (`decode` gives `UserAudio(frame)`): the
    #: connection then hands such frames to the session without decoding them, the path every session takes
    #: 50 times a second.
    binary_is_audio: bool

    def decode(self, frame: str | bytes) -> Command | None:
        """The command a client frame carries; raises `CommandError` for one that cannot be read."""
        ...

    def encode(self, event: Event) -> str | bytes | tuple[str | bytes, ...] | None:
        """The frame for `event` (or its frames, in order), or None when this format does not send it."""
        ...


#: URL path → the wire format a connection to it speaks. The paths are the ones each client library
#: builds: `/agent` for deepgram-sdk 3.x, `/v1/agent/converse` for everything since.
WIRE_FORMATS: dict[str, Callable[[], WireFormat]] = {
    "/agent": EarlyAccess,
    "/v1/agent/converse": V1,
    "/v1/agent": V1,
}

__all__ = ["V1", "WIRE_FORMATS", "EarlyAccess", "WireFormat"]
