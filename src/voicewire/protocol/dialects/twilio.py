"""Twilio Media Streams, at `/twilio`: a phone call's audio in and out, with the agent set up by the server.

Twilio opens the WebSocket when a call reaches `<Connect><Stream>` in a number's TwiML, and sends JSON text
messages: `connected`, then `start` (the stream and call ids, the media format, and the TwiML's
`<Parameter>`s as `customParameters`), then `media` every 20 ms (base64 mu-law, 8 kHz, mono), `dtmf` on a key
press, `mark` when the audio sent before one of our marks has played, and `stop` when the call ends. We send
`media` (agent audio, which Twilio queues and plays), a `mark` after each reply, and `clear` on barge-in, so
Twilio drops the audio it has queued.

A caller cannot configure the agent: prompt, voice, functions and greeting come from the server's
`[twilio]` configuration, or from one of its named profiles that the `profile` parameter picks. A Media
Streams socket carries no signature, so the shared secret is the `token` parameter, compared in constant
time on `start`, before any audio is read. Until then the peer is a stranger, and anything but `connected`
and a `start` with the right token closes the socket (1008, policy violation) with nothing spoken. After
it, a message that cannot be read is logged and skipped: one bad frame must not end a phone call.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from voicewire.protocol import agent as a

logger = logging.getLogger(__name__)

#: Twilio's only media format, both ways.
ENCODING = "audio/x-mulaw"
SAMPLE_RATE = 8000
INPUT = a.AudioFormat("mulaw", SAMPLE_RATE)
OUTPUT = a.AudioFormat("mulaw", SAMPLE_RATE, "none")
#: 20 ms of 8 kHz mu-law: the frame size Twilio itself sends and expects.
FRAME_BYTES = SAMPLE_RATE * 20 // 1000
#: Mu-law for a zero sample, to complete a reply's last frame.
MULAW_SILENCE = b"\xff"
#: The `customParameters` that carry the shared secret and the profile name.
TOKEN_PARAMETER = "token"
PROFILE_PARAMETER = "profile"
NORMAL_CLOSURE = 1000
POLICY_VIOLATION = 1008


class _Stage(enum.Enum):
    AWAITING_START = "awaiting start"
    STREAMING = "streaming"


class TwilioMediaStreams:
    """One call's translation; `default` and `profiles` are the agents the server offers phone calls."""

    name = "twilio"
    binary_is_audio = False

    def __init__(self, token: str, default: a.AgentSettings, profiles: Mapping[str, a.AgentSettings]) -> None:
        if not token:
            raise ValueError("a Twilio stream needs a shared token")
        self._token = token.encode()
        self._default = default
        self._profiles = profiles
        self._stage = _Stage.AWAITING_START
        self._stream_sid = ""
        self._pending = bytearray()
        self._replies = 0

    @property
    def stream_sid(self) -> str:
        return self._stream_sid

    # -- Twilio → session ----------------------------------------------------------------------------------

    def decode(self, frame: str | bytes) -> a.Command | None:
        if isinstance(frame, bytes):
            raise self._unreadable("a binary frame (Twilio sends JSON text)")
        try:
            message = json.loads(frame)
        except json.JSONDecodeError:
            raise self._unreadable("a text frame that is not JSON") from None
        event = message.get("event") if isinstance(message, dict) else None
        if not isinstance(event, str):
            raise self._unreadable("a message without an event")
        if event == "connected":
            return None
        if event == "start":
            return self._start(message)
        if self._stage is _Stage.AWAITING_START:
            raise a.CloseConnection(POLICY_VIOLATION, f"{_shown(event)} before start")
        sid = message.get("streamSid")
        if sid is not None and sid != self._stream_sid:
            raise self._unreadable(f"a {_shown(event)} message for another stream")
        match event:
            case "media":
                return self._media(message)
            case "mark":
                name = _field(message, "mark", "name")
                logger.debug("twilio stream %s: mark %s played", self._stream_sid, _shown(name))
                return None
            case "dtmf":
                # The digit is the caller's (a PIN, say): it stays out of the log.
                logger.info("twilio stream %s: the caller pressed a key", self._stream_sid)
                return None
            case "stop":
                logger.info("twilio stream %s: stopped", self._stream_sid)
                raise a.CloseConnection(NORMAL_CLOSURE, "stream stopped")
        raise self._unreadable(f"an unknown event {_shown(event)}")

    def _start(self, message: Mapping[str, Any]) -> a.Configure:
        if self._stage is not _Stage.AWAITING_START:
            raise a.CommandError(
                a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE, "Twilio stream: ignored a second start message"
            )
        start = message.get("start")
        start = start if isinstance(start, dict) else {}
        parameters = start.get("customParameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        offered = parameters.get(TOKEN_PARAMETER)
        # Constant time in the secret; a missing token is compared too, so both failures look alike.
        offered_bytes = offered.encode() if isinstance(offered, str) else b""
        if not hmac.compare_digest(offered_bytes, self._token):
            logger.info("twilio: start with a missing or wrong token (call %s)", _shown(start.get("callSid")))
            raise a.CloseConnection(POLICY_VIOLATION, "missing or wrong token")
        profile = parameters.get(PROFILE_PARAMETER) or None
        if profile is None:
            settings = self._default
        elif isinstance(profile, str) and profile in self._profiles:
            settings = self._profiles[profile]
        else:
            logger.info("twilio: start names an unknown profile %s", _shown(profile))
            raise a.CloseConnection(POLICY_VIOLATION, f"unknown profile {_shown(profile)}")
        media_format = start.get("mediaFormat")
        media_format = media_format if isinstance(media_format, dict) else {}
        found = (media_format.get("encoding"), media_format.get("sampleRate"), media_format.get("channels"))
        if found != (ENCODING, SAMPLE_RATE, 1):
            raise a.CloseConnection(POLICY_VIOLATION, f"unsupported mediaFormat {_shown(found, 80)}")
        sid = message.get("streamSid") or start.get("streamSid")
        if not isinstance(sid, str) or not sid:
            raise a.CloseConnection(POLICY_VIOLATION, "start without a streamSid")
        self._stream_sid = sid
        self._stage = _Stage.STREAMING
        logger.info(
            "twilio stream %s of call %s started (profile %s)",
            sid,
            _shown(start.get("callSid")),
            profile or "default",
        )
        return a.Configure(dataclasses.replace(settings, input=INPUT, output=OUTPUT))

    def _media(self, message: Mapping[str, Any]) -> a.UserAudio | None:
        track = _field(message, "media", "track")
        if track not in (None, "inbound"):
            raise self._unreadable(f"media of track {_shown(track, 20)} (only the caller's is heard)")
        payload = _field(message, "media", "payload")
        if not isinstance(payload, str):
            raise self._unreadable("a media message without a payload")
        try:
            audio = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise self._unreadable("a media payload that is not base64") from None
        return a.UserAudio(audio) if audio else None

    def _unreadable(self, what: str) -> Exception:
        """A stranger is shown the door; a started stream just skips the message (the session logs it)."""
        if self._stage is _Stage.AWAITING_START:
            return a.CloseConnection(POLICY_VIOLATION, f"{what} before start")
        return a.CommandError(a.ErrorCode.UNPARSABLE_CLIENT_MESSAGE, f"Twilio stream: ignored {what}")

    # -- session → Twilio ----------------------------------------------------------------------------------

    def encode(self, event: a.Event) -> str | tuple[str, ...] | None:
        if self._stage is _Stage.AWAITING_START:
            return None
        match event:
            case a.AgentAudio(data):
                self._pending += data
                whole = len(self._pending) - len(self._pending) % FRAME_BYTES
                frames = self._media_frames(bytes(self._pending[:whole]))
                del self._pending[:whole]
                return frames or None
            case a.AgentAudioDone():
                # A reply's last frame is completed with silence, so every frame Twilio gets is 20 ms.
                tail = bytes(self._pending)
                tail += MULAW_SILENCE * (-len(tail) % FRAME_BYTES)
                self._pending.clear()
                self._replies += 1
                mark = self._message("mark", mark={"name": f"reply-{self._replies}"})
                return (*self._media_frames(tail), mark)
            case a.UserStartedSpeaking():
                self._pending.clear()
                return self._message("clear")
            case a.Error(code, description):
                logger.info("twilio stream %s: %s: %s", self._stream_sid, code.value, description)
                return None
        return None

    def _media_frames(self, audio: bytes) -> tuple[str, ...]:
        return tuple(
            self._message("media", media={"payload": base64.b64encode(audio[i : i + FRAME_BYTES]).decode()})
            for i in range(0, len(audio), FRAME_BYTES)
        )

    def _message(self, event: str, **body: Any) -> str:
        return json.dumps({"event": event, "streamSid": self._stream_sid, **body}, separators=(",", ":"))


def _field(message: Mapping[str, Any], section: str, key: str) -> Any:
    inner = message.get(section)
    return inner.get(key) if isinstance(inner, dict) else None


def _shown(value: Any, limit: int = 40) -> str:
    """A peer's value for a log line or close reason: short, quoted, and escaped (no forged log lines)."""
    text = value if isinstance(value, str) else repr(value)
    return ascii(text[:limit])
