"""Bounds on what one message may ask of the engines (see `server.limits`)."""

from __future__ import annotations

import copy

from tests.server.timeline import (
    TEST_TURNS,
    V1_SETTINGS,
    WEATHER_CALL,
    Timeline,
    VirtualClock,
    assert_error,
    weather_settings,
)
from voicewire.engines._text import MAX_PIECE_CHARS, MAX_PIECE_WORDS
from voicewire.engines.scripted import ScriptedLlm
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.protocol.dialects import V1
from voicewire.server import ServerConfig


async def test_long_injected_text_is_synthesised_in_bounded_pieces() -> None:
    async with Timeline() as t:
        await t.configure()
        text = " ".join(f"word{index}" for index in range(300))
        await t.send({"type": "InjectAgentMessage", "message": text})
        await t.clock.advance(60)
        spoken = [request for request, _ in t.tts.requests]
        assert len(spoken) > 1
        assert all(
            len(piece) <= MAX_PIECE_CHARS and len(piece.split()) <= MAX_PIECE_WORDS for piece in spoken
        )
        assert " ".join(spoken) == text


async def test_injected_text_beyond_the_limit_is_refused_and_the_session_goes_on() -> None:
    async with Timeline(config=ServerConfig(turns=TEST_TURNS, max_inject_chars=100)) as t:
        await t.configure()
        await t.send({"type": "InjectAgentMessage", "message": "x " * 60})
        assert_error(t.messages[-1], "UNPARSABLE_CLIENT_MESSAGE")
        assert "at most 100" in t.messages[-1]["description"]
        assert t.tts.requests == []
        await t.send({"type": "InjectAgentMessage", "message": "Short."})
        await t.clock.advance(5)
        assert [text for text, _ in t.tts.requests] == ["Short."]


async def test_a_greeting_beyond_the_limit_is_invalid_settings() -> None:
    async with Timeline(config=ServerConfig(turns=TEST_TURNS, max_inject_chars=100), wire=V1()) as t:
        settings = copy.deepcopy(V1_SETTINGS)
        settings["agent"]["greeting"] = "hello " * 30
        await t.send(settings)
        assert t.messages[-1]["type"] == "Error" and t.messages[-1]["code"] == "INVALID_SETTINGS"
        assert t.session.state.value == "awaiting_settings"


async def test_synthesis_runs_at_most_two_seconds_ahead_of_the_sender() -> None:
    """A client that reads slowly holds back synthesis: audio is not buffered a whole reply ahead."""
    async with Timeline() as t:
        await t.configure()
        text = " ".join(f"word{index}." for index in range(100))  # about 8 s of scripted audio each 100 chars
        await t.send({"type": "InjectAgentMessage", "message": text})
        reply = t.session._reply
        assert reply is not None
        await t.clock.advance(0.5)
        assert reply._frames.qsize() <= reply._frames.maxsize <= 20
        assert len(t.tts.requests) < 30


class SmallContextLlm(ScriptedLlm):
    """A scripted model that reads 2,048 tokens of 4 characters each, like the default local model."""

    context_tokens = 2048

    def count_tokens(self, text: str) -> int:
        return len(text) // 4


async def test_instructions_beyond_the_models_context_are_invalid_settings() -> None:
    async with Timeline(llm=SmallContextLlm()) as t:
        settings = SettingsConfigurationOptions()
        settings.agent.think.instructions = "Be brief. " * 900  # 9 KB: 2,250 tokens
        await t.configure(settings)
        assert_error(t.messages[-1], "INVALID_SETTINGS")
        assert "2048 tokens" in t.messages[-1]["description"]
        assert t.session.state.value == "awaiting_settings"


async def test_appended_instructions_beyond_the_models_context_are_refused_and_change_nothing() -> None:
    async with Timeline(llm=SmallContextLlm()) as t:
        await t.configure()
        before = t.session.instructions
        await t.send({"type": "UpdateInstructions", "instructions": "More. " * 800})
        assert_error(t.messages[-1], "INVALID_SETTINGS")
        assert t.session.instructions == before
        await t.send({"type": "UpdateInstructions", "instructions": "Be kind."})
        assert t.messages[-1]["type"] == "InstructionsUpdated"
        assert t.session.instructions.endswith("Be kind.")


async def test_a_function_result_is_cut_to_what_the_model_can_read() -> None:
    clock = VirtualClock()
    llm = SmallContextLlm([[WEATHER_CALL], ["Done."]], sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        await t.clock.advance(0.5)
        await t.send({"type": "FunctionCallResponse", "function_call_id": "call_1", "output": "x" * 7000})
        await t.clock.advance(1.0)
        (tool,) = [m for m in t.session.history if m.role == "tool"]
        assert len(tool.content) == 2048
        assert t.of_type("Error") == []
