"""Server → client classes: required fields, defaults and the fixes over the seed."""

import json
from typing import Any

import pytest

from voicewire.protocol import (
    AgentAudioDoneResponse,
    AgentStartedSpeakingResponse,
    AgentThinkingResponse,
    CloseResponse,
    ConversationTextResponse,
    ErrorResponse,
    FunctionCalling,
    FunctionCallRequest,
    InjectionRefusedResponse,
    InstructionsUpdatedResponse,
    MissingFieldError,
    OpenResponse,
    SettingsAppliedResponse,
    SpeakUpdatedResponse,
    UnhandledResponse,
    UserStartedSpeakingResponse,
    WarningResponse,
    WelcomeResponse,
)
from voicewire.protocol.base import InvalidFieldError, Model


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (WelcomeResponse(session_id="s1"), {"type": "Welcome", "session_id": "s1"}),
        (SettingsAppliedResponse(), {"type": "SettingsApplied"}),
        (
            ConversationTextResponse(role="user", content="hi"),
            {"type": "ConversationText", "role": "user", "content": "hi"},
        ),
        (UserStartedSpeakingResponse(), {"type": "UserStartedSpeaking"}),
        (AgentThinkingResponse(content="hmm"), {"type": "AgentThinking", "content": "hmm"}),
        (FunctionCalling(), {"type": "FunctionCalling"}),
        (
            FunctionCallRequest(function_name="f", function_call_id="c", input="{}"),
            {"type": "FunctionCallRequest", "function_name": "f", "function_call_id": "c", "input": "{}"},
        ),
        (
            AgentStartedSpeakingResponse(1.25, 0.25, 0.5),
            {"type": "AgentStartedSpeaking", "total_latency": 1.25, "tts_latency": 0.25, "ttt_latency": 0.5},
        ),
        (AgentAudioDoneResponse(), {"type": "AgentAudioDone"}),
        (InjectionRefusedResponse(), {"type": "InjectionRefused"}),
        (InstructionsUpdatedResponse(), {"type": "InstructionsUpdated"}),
        (SpeakUpdatedResponse(), {"type": "SpeakUpdated"}),
        (
            WarningResponse(description="soon", code="API_CUTOVER_SOON"),
            {"type": "Warning", "description": "soon", "code": "API_CUTOVER_SOON"},
        ),
        (OpenResponse(type="Open"), {"type": "Open"}),
        (CloseResponse(type="Close"), {"type": "Close"}),
        (UnhandledResponse(type="Unhandled", raw="{}"), {"type": "Unhandled", "raw": "{}"}),
        (ErrorResponse("d", "m", "Error"), {"description": "d", "message": "m", "type": "Error"}),
        (
            ErrorResponse("d", "m", "Error", code="INVALID_SETTINGS"),
            {"description": "d", "message": "m", "type": "Error", "code": "INVALID_SETTINGS"},
        ),
    ],
)
def test_response_round_trip(obj: Model, expected: dict[str, Any]) -> None:
    assert obj.to_dict() == expected
    assert type(obj).from_json(json.dumps(expected)) == obj


@pytest.mark.parametrize(
    ("cls", "data", "missing"),
    [
        (WelcomeResponse, {"type": "Welcome", "request_id": "v1-style"}, "session_id"),
        (ConversationTextResponse, {"type": "ConversationText", "role": "user"}, "content"),
        (AgentThinkingResponse, {"type": "AgentThinking"}, "content"),
        (
            FunctionCallRequest,
            {"type": "FunctionCallRequest", "function_name": "f", "input": "{}"},
            "function_call_id",
        ),
        (
            AgentStartedSpeakingResponse,
            {"type": "AgentStartedSpeaking", "total_latency": 1, "tts_latency": 1},
            "ttt_latency",
        ),
    ],
)
def test_missing_required_field_is_a_typed_error_naming_it(
    cls: type[Model], data: dict[str, Any], missing: str
) -> None:
    with pytest.raises(MissingFieldError) as info:
        cls.from_dict(data)
    assert info.value.field_name == missing
    assert missing in str(info.value)


@pytest.mark.parametrize("arguments", [{"location": "SF"}, '{"location": "SF"}'])
def test_function_call_input_is_json_text_for_objects_and_strings(arguments: Any) -> None:
    request = FunctionCallRequest.from_dict(
        {"type": "FunctionCallRequest", "function_name": "w", "function_call_id": "c", "input": arguments}
    )
    assert json.loads(request.input) == {"location": "SF"}


def test_latencies_must_be_numbers() -> None:
    with pytest.raises(InvalidFieldError, match="total_latency"):
        AgentStartedSpeakingResponse.from_dict({"total_latency": "slow", "tts_latency": 0, "ttt_latency": 0})
    assert (
        AgentStartedSpeakingResponse.from_dict(
            {"total_latency": 1, "tts_latency": 0, "ttt_latency": 0}
        ).total_latency
        == 1.0
    )


def test_function_calling_keeps_provider_specific_keys() -> None:
    notice = FunctionCalling.from_dict({"type": "FunctionCalling", "function_name": "w", "url": "http://x"})
    assert notice.extra == {"function_name": "w", "url": "http://x"}
    assert notice.to_dict() == {"type": "FunctionCalling", "function_name": "w", "url": "http://x"}


def test_non_ascii_is_escaped_like_the_seed() -> None:
    assert ConversationTextResponse(role="assistant", content="é").to_json() == (
        '{"type": "ConversationText", "role": "assistant", "content": "\\u00e9"}'
    )


def test_required_text_fields_reject_null() -> None:
    with pytest.raises(InvalidFieldError, match=r"WelcomeResponse\.session_id"):
        WelcomeResponse.from_dict({"type": "Welcome", "session_id": None})
    with pytest.raises(InvalidFieldError, match="content"):
        ConversationTextResponse.from_dict({"type": "ConversationText", "role": "user", "content": None})
