"""Function calls on the virtual timeline: client-side requests, timeouts, unknown ids, tool rounds."""

from __future__ import annotations

import json

from tests.server.timeline import TEST_TURNS, WEATHER_CALL, Timeline, VirtualClock, weather_settings
from voicewire.engines.base import ToolCall
from voicewire.engines.scripted import ScriptedLlm
from voicewire.server import ServerConfig, State


async def test_client_side_function_call_round_trip() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([["Let me check.", WEATHER_CALL], ["It is sunny in Paris."]], sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        await t.clock.advance(0.5)
        (request,) = t.of_type("FunctionCallRequest")
        assert request == {
            "type": "FunctionCallRequest",
            "function_name": "get_weather",
            "function_call_id": "call_1",
            "input": '{"city": "Paris"}',
        }
        assert json.loads(request["input"]) == {"city": "Paris"}
        assert t.session.state is State.WAITING_FOR_FUNCTION
        # The request goes out at once; the text before the call is spoken as its own segment meanwhile.
        assert t.summary[3:] == [
            "ConversationText",
            "FunctionCallRequest",
            "ConversationText",
            "AgentStartedSpeaking",
            "<audio>",
            "AgentAudioDone",
        ]

        await t.send({"type": "FunctionCallResponse", "function_call_id": "call_1", "output": "sunny, 24 C"})
        await t.clock.advance(1.0)
        assert t.session.state is State.LISTENING
        assert t.of_type("Error") == []
        assert t.of_type("ConversationText")[-1]["content"] == "It is sunny in Paris."
        assert t.summary.count("AgentStartedSpeaking") == 2
        assert t.summary.count("AgentAudioDone") == 2

        _, tools = llm.requests[0]
        assert [tool.name for tool in tools] == ["get_weather"]
        assert tools[0].parameters["properties"]["city"]["type"] == "string"
        continuation, _ = llm.requests[1]
        assistant, tool = continuation[-2:]
        assert assistant.role == "assistant" and assistant.tool_calls == [WEATHER_CALL]
        assert assistant.content == "Let me check."
        assert (tool.role, tool.content, tool.tool_call_id) == ("tool", "sunny, 24 C", "call_1")

        history = t.session.history
        assert [(m.role, m.content) for m in history] == [
            ("user", "hello there"),
            ("assistant", "Let me check."),
            ("tool", "sunny, 24 C"),
            ("assistant", "It is sunny in Paris."),
        ]
        assert history[1].tool_calls == [WEATHER_CALL]
        assert t.session.metrics[-1].tool_calls == 1


async def test_a_function_call_without_response_times_out() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([[WEATHER_CALL]], sleep=clock.sleep)
    config = ServerConfig(turns=TEST_TURNS, function_call_timeout_s=5.0, idle_timeout_s=60.0)
    async with Timeline(clock=clock, llm=llm, config=config) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        await t.clock.advance(4.9)
        assert t.of_type("Error") == []
        await t.clock.advance(0.2)
        (error,) = t.of_type("Error")
        assert error["code"] == "FUNCTION_CALL_FAILED"
        assert "5 s" in error["description"]
        # The LLM was told, and answered with the error result.
        tool = llm.requests[1][0][-1]
        assert tool.role == "tool" and "error" in json.loads(tool.content)
        await t.clock.advance(1.0)
        assert t.session.state is State.LISTENING
        # A late response is then for an unknown id.
        await t.send({"type": "FunctionCallResponse", "function_call_id": "call_1", "output": "late"})
        assert t.of_type("Error")[-1]["code"] == "UNKNOWN_FUNCTION_CALL_ID"


async def test_an_unknown_function_call_id_is_an_error_and_the_call_still_waits() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([[WEATHER_CALL], ["Done."]], sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        await t.send({"type": "FunctionCallResponse", "function_call_id": "nope", "output": "x"})
        error = t.of_type("Error")[-1]
        assert error["code"] == "UNKNOWN_FUNCTION_CALL_ID"
        assert "'nope'" in error["description"]
        assert t.session.state is State.WAITING_FOR_FUNCTION
        await t.send({"type": "FunctionCallResponse", "function_call_id": "call_1", "output": "ok"})
        await t.clock.advance(1.0)
        assert t.of_type("ConversationText")[-1]["content"] == "Done."


async def test_the_model_calling_an_undeclared_function_gets_an_error_result() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([[ToolCall("c9", "launch_rockets", "{}")], ["Sorry."]], sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        await t.clock.advance(1.0)
        assert t.of_type("FunctionCallRequest") == []
        assert t.of_type("Error")[-1]["code"] == "FUNCTION_CALL_FAILED"
        assert "launch_rockets" in json.loads(llm.requests[1][0][-1].content)["error"]
        assert t.of_type("ConversationText")[-1]["content"] == "Sorry."


async def test_tool_rounds_are_limited_per_turn() -> None:
    clock = VirtualClock()
    config = ServerConfig(turns=TEST_TURNS, max_tool_rounds=2)
    calls = [[ToolCall(f"c{i}", "get_weather", "{}")] for i in range(5)]
    llm = ScriptedLlm(calls, sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm, config=config) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        for call_id in ("c0", "c1"):
            await t.send({"type": "FunctionCallResponse", "function_call_id": call_id, "output": "ok"})
        await t.clock.advance(1.0)
        assert [r["function_call_id"] for r in t.of_type("FunctionCallRequest")] == ["c0", "c1"]
        assert [len(tools) for _, tools in llm.requests] == [1, 1, 0]
        assert t.session.state is State.LISTENING


async def test_barge_in_while_waiting_for_a_function_drops_the_pending_call() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([[WEATHER_CALL]], sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        assert t.session.state is State.WAITING_FOR_FUNCTION
        await t.say(0.4, pause=0.4)
        await t.clock.advance(1.0)
        # The abandoned call left no half tool exchange in the history.
        assert [m.role for m in t.session.history] == ["user", "user", "assistant"]
        await t.send({"type": "FunctionCallResponse", "function_call_id": "call_1", "output": "late"})
        assert t.of_type("Error")[-1]["code"] == "UNKNOWN_FUNCTION_CALL_ID"
