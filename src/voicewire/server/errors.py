"""Error and warning codes the server puts on the wire, and the one way to build an `Error` message.

The codes are Deepgram's v1 names where one fits (protocol.md §5), so clients written against either dialect
can branch on them. A 3.11 client only reads `message` and `description`; both carry the same text, because
the early-access docs show `message` and v1 shows `description`.
"""

from __future__ import annotations

import enum

from voicewire.protocol import ErrorResponse, WarningResponse


class ErrorCode(enum.StrEnum):
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    CLIENT_MESSAGE_TIMEOUT = "CLIENT_MESSAGE_TIMEOUT"
    #: Malformed JSON, an unknown `type`, a message too large, or a message missing a required field.
    UNPARSABLE_CLIENT_MESSAGE = "UNPARSABLE_CLIENT_MESSAGE"
    NON_SETTINGS_MESSAGE_BEFORE_SETTINGS = "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS"
    SETTINGS_ALREADY_APPLIED = "SETTINGS_ALREADY_APPLIED"
    #: Settings (or an `UpdateSpeak`) that name something this server cannot serve, or instructions beyond
    #: `max_instructions_bytes`.
    INVALID_SETTINGS = "INVALID_SETTINGS"
    USER_AUDIO_FORMAT = "USER_AUDIO_FORMAT"
    THINK_REQUEST_FAILED = "THINK_REQUEST_FAILED"
    SPEAK_REQUEST_FAILED = "SPEAK_REQUEST_FAILED"
    FUNCTION_CALL_FAILED = "FUNCTION_CALL_FAILED"
    #: A `FunctionCallResponse` whose id matches no outstanding request (not a Deepgram code).
    UNKNOWN_FUNCTION_CALL_ID = "UNKNOWN_FUNCTION_CALL_ID"


class WarningCode(enum.StrEnum):
    #: Audio sent before the settings overflowed the bounded buffer; the oldest was dropped.
    AUDIO_BUFFER_OVERFLOW = "AUDIO_BUFFER_OVERFLOW"
    #: A remote STT/TTS engine failed and the local engine served instead (not a Deepgram code).
    REMOTE_ENGINE_FALLBACK = "REMOTE_ENGINE_FALLBACK"


def error(code: ErrorCode, description: str) -> ErrorResponse:
    return ErrorResponse(description=description, message=description, type="Error", code=code.value)


def warning(code: WarningCode, description: str) -> WarningResponse:
    return WarningResponse(description=description, code=code.value)
