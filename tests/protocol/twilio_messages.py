"""Twilio Media Streams messages exactly as Twilio documents them (twilio.com/docs/voice/media-streams/
websocket-messages): what a scripted Twilio peer sends, and readers for what it gets back."""

from __future__ import annotations

import base64
import json
from typing import Any

ACCOUNT_SID = "AC" + "0" * 32
CALL_SID = "CA" + "1" * 32
STREAM_SID = "MZ" + "2" * 32
#: 20 ms of 8 kHz mu-law, the size of every media message Twilio sends.
FRAME_BYTES = 160


class TwilioPeer:
    """Numbers messages as Twilio does: `sequenceNumber` counts every message after `connected`, `chunk`
    counts media messages, `timestamp` is milliseconds since the stream started (all strings)."""

    def __init__(self, stream_sid: str = STREAM_SID, call_sid: str = CALL_SID) -> None:
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self._sequence = 0
        self._chunk = 0

    def _next(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self, parameters: dict[str, str] | None = None, **media_format: Any) -> str:
        return json.dumps(
            {
                "event": "start",
                "sequenceNumber": self._next(),
                "start": {
                    "accountSid": ACCOUNT_SID,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
                    | media_format,
                    "customParameters": parameters or {},
                },
                "streamSid": self.stream_sid,
            }
        )

    def media(self, mulaw: bytes, *, payload: str | None = None) -> str:
        self._chunk += 1
        return json.dumps(
            {
                "event": "media",
                "sequenceNumber": self._next(),
                "media": {
                    "track": "inbound",
                    "chunk": str(self._chunk),
                    "timestamp": str((self._chunk - 1) * 20),
                    "payload": base64.b64encode(mulaw).decode() if payload is None else payload,
                },
                "streamSid": self.stream_sid,
            }
        )

    def mark(self, name: str) -> str:
        return json.dumps(
            {
                "event": "mark",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    def dtmf(self, digit: str) -> str:
        return json.dumps(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    def stop(self) -> str:
        return json.dumps(
            {
                "event": "stop",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid},
            }
        )


def media_payload(message: dict[str, Any]) -> bytes:
    """The audio of a `media` message sent to Twilio: exactly event, streamSid and media.payload."""
    assert set(message) == {"event", "streamSid", "media"} and set(message["media"]) == {"payload"}, message
    return base64.b64decode(message["media"]["payload"], validate=True)
