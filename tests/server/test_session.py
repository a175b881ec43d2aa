"""The session state machine on a virtual timeline: turns, latencies, barge-in, injection, updates."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, Sequence

import numpy as np
import pytest

from tests.server.test_session_input import FailingTts
from tests.server.timeline import (
    TEST_TURNS,
    WEATHER_CALL,
    Timeline,
    VirtualClock,
    assert_error,
    speech,
    weather_settings,
)
from voicewire.engines._worker import when_model_wanted
from voicewire.engines.base import ChatMessage, LlmEvent, ToolSpec
from voicewire.engines.scripted import Script, ScriptedLlm, ScriptedStt, ScriptedTts
from voicewire.protocol import Context, SettingsConfigurationOptions
from voicewire.server import ServerConfig, State, TurnConfig

BRACKET = ["ConversationText", "AgentStartedSpeaking", "<audio>", "AgentAudioDone"]


async def test_one_turn_produces_the_documented_message_sequence() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.say(0.5, pause=0.5)
        await t.quiet(1.0)
        assert t.summary == [
            "Welcome",
            "SettingsApplied",
            "UserStartedSpeaking",
            "ConversationText",
            *BRACKET,
        ]
        texts = t.of_type("ConversationText")
        assert texts == [
            {"type": "ConversationText", "role": "user", "content": "hello there"},
            {"type": "ConversationText", "role": "assistant", "content": "You said: hello there."},
        ]
        assert t.history() == [("user", "hello there"), ("assistant", "You said: hello there.")]
        assert t.session.state is State.LISTENING


async def test_latencies_follow_the_documented_definitions() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        stt=ScriptedStt(["what is up"], delay=0.1, sleep=clock.sleep),
        llm=ScriptedLlm(
            [["Hi there. How can I help?"]], first_token_delay=0.05, token_delay=0.01, sleep=clock.sleep
        ),
        tts=ScriptedTts(chunk_delay=0.02, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.5, pause=0.5)
        await t.quiet(2.0)
        started = t.of_type("AgentStartedSpeaking")
        assert len(started) == 1
        metrics = t.session.metrics[-1]
        assert metrics.speech_started == pytest.approx(0.0)
        # The tone ends at 0.5 s, inside the 16th 32 ms window: speech ends with that window.
        assert metrics.speech_ended == pytest.approx(16 * 0.032)
        assert metrics.stt_latency == pytest.approx(0.1)
        # First sentence "Hi there." is complete when the 3rd token (" How") shows the space after it.
        assert metrics.first_token - metrics.transcript_ready == pytest.approx(0.06)
        assert started[0]["ttt_latency"] == pytest.approx(0.08)
        assert started[0]["tts_latency"] == pytest.approx(0.02)
        end_of_turn_wait = metrics.turn_ended - metrics.speech_ended
        assert started[0]["total_latency"] == pytest.approx(end_of_turn_wait + 0.1 + 0.08 + 0.02)
        assert started[0]["total_latency"] == pytest.approx(metrics.total_latency)
        assert started[0]["ttt_latency"] == pytest.approx(metrics.ttt_latency)
        assert metrics.audio_done is not None and metrics.audio_done > metrics.first_audio
        # The assistant text is sent per sentence, just before its audio.
        assert [m["content"] for m in t.of_type("ConversationText")][1:] == ["Hi there.", "How can I help?"]


async def test_the_llm_is_not_read_while_tts_makes_the_first_audio() -> None:
    """On 2 cores a still-generating LLM slowed Piper's first piece 2.5x, so the first audio goes first."""
    clock = VirtualClock()
    pulled: list[float] = []

    def timed(messages: object) -> list[str]:
        return ["Hi there. How can I help you with your account today?"]

    class TimedLlm(ScriptedLlm):
        async def _generate(self, script: Script) -> AsyncGenerator[LlmEvent, None]:
            async for event in super()._generate(script):
                pulled.append(clock.now())
                yield event

    async with Timeline(
        clock=clock,
        llm=TimedLlm(respond=timed, token_delay=0.01, sleep=clock.sleep),
        tts=ScriptedTts(chunk_delay=0.2, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.5, pause=0.5)
        await t.quiet(3.0)
        metrics = t.session.metrics[-1]
        assert metrics.first_sentence is not None and metrics.first_audio is not None
        assert metrics.first_audio - metrics.first_sentence == pytest.approx(0.2)
        during = [when for when in pulled if metrics.first_sentence < when < metrics.first_audio]
        assert during == []
        assert len([when for when in pulled if when >= metrics.first_audio]) >= 5  # and then it goes on


async def test_states_follow_the_turn() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        stt=ScriptedStt(["hi"], delay=0.2, sleep=clock.sleep),
        llm=ScriptedLlm([["Hello to you."]], first_token_delay=0.2, sleep=clock.sleep),
        tts=ScriptedTts(seconds_per_char=0.05, sleep=clock.sleep),
    ) as t:
        assert t.session.state is State.AWAITING_SETTINGS
        await t.configure()
        assert t.session.state is State.LISTENING
        await t.feed(speech(0.1))
        assert t.session.state is State.USER_SPEAKING
        await t.feed(speech(0.3))
        await t.quiet(0.35)
        assert t.session.state is State.THINKING  # STT running
        await t.clock.advance(0.3)
        assert t.session.state is State.THINKING  # LLM running
        await t.clock.advance(0.15)
        assert t.session.state is State.SPEAKING
        await t.clock.advance(1.0)
        assert t.session.state is State.LISTENING


async def test_noise_shorter_than_the_minimum_gets_no_reply() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.feed(speech(0.11))  # 3 windows: an onset, but under min_speech_ms
        await t.quiet(1.0)
        assert t.summary == ["Welcome", "SettingsApplied", "UserStartedSpeaking"]
        assert t.stt.utterances == []
        assert t.session.state is State.LISTENING


async def test_a_click_below_the_onset_is_ignored() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.feed(speech(0.05))
        await t.quiet(1.0)
        assert t.summary == ["Welcome", "SettingsApplied"]


async def test_an_empty_transcript_gets_no_reply() -> None:
    async with Timeline(stt=ScriptedStt([""])) as t:
        await t.configure()
        await t.say(0.5)
        await t.quiet(1.0)
        assert t.summary == ["Welcome", "SettingsApplied", "UserStartedSpeaking"]
        assert t.llm.requests == []
        assert t.session.state is State.LISTENING
        assert t.session.metrics[-1].transcript == ""


async def test_the_utterance_includes_preroll_and_a_short_tail() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.quiet(0.512)  # 16 windows, so the speech starts on a window boundary
        await t.say(0.512, pause=0.5)
        (utterance,) = t.stt.utterances
        window = 512
        # 7 pre-roll windows (200 ms), 16 speech windows, 7 tail windows (200 ms).
        assert len(utterance) == (7 + 16 + 7) * window
        assert np.abs(utterance[: 7 * window]).max() == 0.0
        assert np.abs(utterance[7 * window : 8 * window]).max() > 0.1


async def test_end_of_turn_silence_is_configurable() -> None:
    turns = dataclasses.replace(TEST_TURNS, end_of_turn_ms=800)
    async with Timeline(config=ServerConfig(turns=turns)) as t:
        await t.configure()
        await t.say(0.5, pause=0.7)
        assert t.of_type("ConversationText") == []
        await t.quiet(0.2)
        assert len(t.of_type("ConversationText")) >= 1


# -- barge-in --------------------------------------------------------------------------------------------


async def test_barge_in_during_stt_carries_the_unanswered_words_into_the_next_turn() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        stt=ScriptedStt(["never used", "book a flight to Paris"], delay=0.5, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        assert t.session.state is State.THINKING
        mark = t.mark()
        await t.say(0.4, pause=0.4)
        assert t.since(mark)[0] == "UserStartedSpeaking"
        await t.quiet(1.5)
        first, second = t.stt.utterances
        assert len(second) > len(first)  # the first utterance was prepended
        users = [m["content"] for m in t.of_type("ConversationText") if m["role"] == "user"]
        assert users == ["book a flight to Paris"]
        assert [role for role, _ in t.history()] == ["user", "assistant"]


async def test_barge_in_then_noise_answers_the_carried_words() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        stt=ScriptedStt(["what time is it"], delay=0.5, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.feed(speech(0.11))  # a cough during STT: onset, then too short
        await t.quiet(2.0)
        assert len(t.stt.utterances) == 2
        assert len(t.stt.utterances[1]) == len(t.stt.utterances[0])
        assert t.history() == [("user", "what time is it"), ("assistant", "You said: what time is it.")]


async def test_barge_in_while_thinking_stops_the_llm() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        stt=ScriptedStt(["first question", "second question"], sleep=clock.sleep),
        llm=ScriptedLlm(first_token_delay=1.0, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        assert t.session.state is State.THINKING
        await t.say(0.4, pause=0.4)
        assert t.llm.closed == 1
        await t.quiet(2.0)
        assert [m["content"] for m in t.of_type("ConversationText") if m["role"] == "assistant"] == [
            "You said: second question."
        ]
        assert t.history() == [
            ("user", "first question"),
            ("user", "second question"),
            ("assistant", "You said: second question."),
        ]


async def test_barge_in_while_speaking_stops_audio_and_keeps_only_what_was_sent() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        llm=ScriptedLlm(
            [["First sentence is here. Second sentence is also here. Third one is last."]], sleep=clock.sleep
        ),
        tts=ScriptedTts(seconds_per_char=0.05, chunk_delay=0.02, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.32)
        await t.quiet(0.1)
        assert t.session.state is State.SPEAKING
        await t.feed(speech(0.2))
        sent = t.transport.sent
        barge = sent.index('{"type":"UserStartedSpeaking"}', 3)
        assert not any(isinstance(m, bytes) for m in sent[barge:])
        assert t.session.state is State.USER_SPEAKING
        assert t.tts.closed == 1  # synthesis of the first sentence was stopped
        assert len(t.tts.requests) == 1
        await t.quiet(1.5)
        assert ("assistant", "First sentence is here.") in t.history()
        assert t.history()[:2] == [("user", "hello there"), ("assistant", "First sentence is here.")]
        assert t.session.metrics[0].interrupted
        assert not t.session.metrics[1].interrupted


async def test_audio_stops_within_100_ms_of_the_onset() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        llm=ScriptedLlm(
            [["A very long answer that goes on and on and on for quite a while."]], sleep=clock.sleep
        ),
        tts=ScriptedTts(seconds_per_char=0.05, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.quiet(0.2)
        await t.feed(speech(0.3))
        sent, times = t.transport.sent, t.transport.times
        barge = sent.index('{"type":"UserStartedSpeaking"}', 3)
        last_audio = max(i for i, m in enumerate(sent) if isinstance(m, bytes))
        assert last_audio < barge
        assert times[barge] - times[last_audio] <= 0.1


# -- injection -------------------------------------------------------------------------------------------


async def test_injection_while_listening_is_spoken_and_remembered() -> None:
    async with Timeline() as t:
        await t.configure()
        mark = t.mark()
        await t.send({"type": "InjectAgentMessage", "message": "Welcome back. How can I help?"})
        await t.clock.advance(1.0)
        assert t.since(mark) == [*BRACKET[:3], "ConversationText", "<audio>", "AgentAudioDone"]
        assert t.history() == [("assistant", "Welcome back. How can I help?")]
        assert t.session.metrics[-1].kind == "inject"
        assert t.of_type("AgentStartedSpeaking")[0]["ttt_latency"] == 0.0


async def test_injection_is_refused_while_the_user_speaks() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.feed(speech(0.2))
        await t.send({"type": "InjectAgentMessage", "message": "Hi"})
        assert t.summary[-1] == "InjectionRefused"
        assert t.tts.requests == []


async def test_injection_is_refused_while_agent_audio_is_in_flight() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        tts=ScriptedTts(seconds_per_char=0.05, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.send({"type": "InjectAgentMessage", "message": "This is a fairly long announcement."})
        assert t.session.state is State.SPEAKING
        await t.send({"type": "InjectAgentMessage", "message": "Interrupting."})
        assert t.summary.count("InjectionRefused") == 1
        assert [text for text, _ in t.tts.requests] == ["This is a fairly long announcement."]
        await t.clock.advance(2.0)
        assert t.history() == [("assistant", "This is a fairly long announcement.")]


async def test_injection_during_a_function_call_is_spoken_within_the_reply() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([[WEATHER_CALL], ["The weather is fine."]], sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.4)
        assert t.session.state is State.WAITING_FOR_FUNCTION
        await t.send({"type": "InjectAgentMessage", "message": "One moment please."})
        await t.clock.advance(0.5)
        assert "One moment please." in [m["content"] for m in t.of_type("ConversationText")]
        request = t.of_type("FunctionCallRequest")[0]
        await t.send(
            {
                "type": "FunctionCallResponse",
                "function_call_id": request["function_call_id"],
                "output": "sunny",
            }
        )
        await t.clock.advance(1.0)
        roles = [(m.role, m.content) for m in t.session.history]
        # The injection was spoken after the call started, so it joins the text after the call.
        assert roles[-1] == ("assistant", "One moment please. The weather is fine.")


# -- mid-conversation updates ----------------------------------------------------------------------------


async def test_update_instructions_appends_to_the_system_prompt() -> None:
    async with Timeline() as t:
        settings = SettingsConfigurationOptions()
        settings.agent.think.instructions = "Be brief."
        await t.configure(settings)
        await t.send({"type": "UpdateInstructions", "instructions": "Speak like a pirate."})
        assert t.summary[-1] == "InstructionsUpdated"
        await t.say(0.4)
        await t.quiet(0.5)
        system = t.llm.requests[0][0][0]
        assert system.role == "system"
        assert system.content == "Be brief.\nSpeak like a pirate."


async def test_instructions_beyond_the_limit_are_refused_and_left_unchanged() -> None:
    config = ServerConfig(turns=TEST_TURNS, max_instructions_bytes=40)
    async with Timeline(config=config) as t:
        settings = SettingsConfigurationOptions()
        settings.agent.think.instructions = "x" * 41
        await t.configure(settings)
        assert_error(t.messages[-1], "INVALID_SETTINGS")
        assert "40 bytes" in t.messages[-1]["description"]
        settings.agent.think.instructions = "Be brief."
        await t.configure(settings)
        assert t.summary[-1] == "SettingsApplied"
        await t.send({"type": "UpdateInstructions", "instructions": "Speak like a pirate."})
        await t.send({"type": "UpdateInstructions", "instructions": "And rhyme, always."})
        assert t.summary[-2:] == ["InstructionsUpdated", "Error"]
        assert t.session.instructions == "Be brief.\nSpeak like a pirate."


async def test_update_speak_switches_the_voice_for_the_next_sentence() -> None:
    tts = ScriptedTts(voices=("scripted", "other"))
    async with Timeline(tts=tts) as t:
        await t.configure()
        await t.send({"type": "UpdateSpeak", "model": "other"})
        assert t.summary[-1] == "SpeakUpdated"
        await t.say(0.4)
        await t.quiet(0.5)
        assert tts.requests[-1][1] == "other"


async def test_update_speak_with_an_unknown_voice_keeps_the_old_one() -> None:
    tts = ScriptedTts(voices=("scripted",))
    async with Timeline(tts=tts) as t:
        settings = SettingsConfigurationOptions()
        settings.agent.speak.model = "scripted"
        await t.configure(settings)
        await t.send({"type": "UpdateSpeak", "model": "nonexistent-voice"})
        error = t.of_type("Error")[-1]
        assert error["code"] == "INVALID_SETTINGS"
        assert "nonexistent-voice" in error["description"]
        await t.say(0.4)
        await t.quiet(0.5)
        assert tts.requests[-1][1] == "scripted"


async def test_keepalive_is_a_silent_no_op_even_before_settings() -> None:
    async with Timeline() as t:
        await t.send({"type": "KeepAlive"})
        await t.configure()
        await t.send({"type": "KeepAlive"})
        assert t.summary == ["Welcome", "SettingsApplied"]


async def test_an_idle_session_is_closed_with_client_message_timeout() -> None:
    async with Timeline() as t:
        await t.configure()
        await t.clock.advance(9.9)
        assert t.transport.closed is None
        await t.clock.advance(0.2)
        error = t.of_type("Error")[-1]
        assert error["code"] == "CLIENT_MESSAGE_TIMEOUT"
        assert error["message"] and error["description"]
        assert t.transport.closed == (1000, "idle timeout")


async def test_a_slow_reply_does_not_count_as_idle_time() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([["This answer takes its time."]], first_token_delay=15.0, sleep=clock.sleep)
    async with Timeline(clock=clock, llm=llm) as t:
        await t.configure()
        await t.say(0.5, pause=0.5)
        await t.clock.advance(16.0)  # the client sends nothing while the agent thinks
        assert t.of_type("Error") == [] and t.transport.closed is None
        assert t.of_type("AgentAudioDone")
        await t.clock.advance(10.1)  # once the reply is over, silence counts again
        assert t.of_type("Error")[-1]["code"] == "CLIENT_MESSAGE_TIMEOUT"


async def test_keepalive_and_audio_keep_the_session_open() -> None:
    async with Timeline() as t:
        await t.configure()
        for _ in range(3):
            await t.clock.advance(5.0)
            await t.send({"type": "KeepAlive"})
        await t.quiet(9.0)
        assert t.transport.closed is None
        assert t.of_type("Error") == []


# -- context ---------------------------------------------------------------------------------------------


async def test_context_messages_seed_the_history() -> None:
    async with Timeline() as t:
        settings = SettingsConfigurationOptions(
            context=Context(messages=[("user", "My name is Ada."), ("assistant", "Hello Ada.")])
        )
        await t.configure(settings)
        await t.say(0.4)
        await t.quiet(0.5)
        sent = Timeline.chat(t.llm.requests[0][0])
        assert sent[1:] == [("user", "My name is Ada."), ("assistant", "Hello Ada."), ("user", "hello there")]


async def test_context_replay_speaks_the_last_assistant_message() -> None:
    async with Timeline() as t:
        settings = SettingsConfigurationOptions(
            context=Context(messages=[("user", "Hi"), ("assistant", "Hello again, Ada.")], replay=True)
        )
        await t.configure(settings)
        await t.clock.advance(1.0)
        assert t.summary == ["Welcome", "SettingsApplied", *BRACKET]
        assert t.of_type("ConversationText")[0]["content"] == "Hello again, Ada."
        assert t.history() == [("user", "Hi"), ("assistant", "Hello again, Ada.")]  # not repeated


async def test_context_given_as_objects_and_the_seed_corruption() -> None:
    async with Timeline() as t:
        await t.send(
            {
                "type": "SettingsConfiguration",
                "context": {
                    "messages": [{"role": "user", "content": "Hi"}, ["role", "content"]],
                    "replay": False,
                },
            }
        )
        assert t.summary[-1] == "SettingsApplied"
        assert t.history() == [("user", "Hi")]


# -- speculative STT -------------------------------------------------------------------------------------


async def test_speculative_stt_is_reused_when_the_turn_ends_unchanged() -> None:
    turns = dataclasses.replace(TEST_TURNS, speculative_stt=True, end_of_turn_ms=500)
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        config=ServerConfig(turns=turns),
        stt=ScriptedStt(["hello"], delay=0.25, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.55)
        await t.quiet(0.5)
        metrics = t.session.metrics[-1]
        assert len(t.stt.utterances) == 1
        assert metrics.speculative_stt_used
        # STT started 200 ms into the silence, so it was done before the end of turn (500 ms).
        assert metrics.stt_latency == pytest.approx(0.0)


async def test_speculative_stt_is_discarded_when_speech_resumes() -> None:
    turns = dataclasses.replace(TEST_TURNS, speculative_stt=True, end_of_turn_ms=500)
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        config=ServerConfig(turns=turns),
        stt=ScriptedStt(["partial", "complete sentence"], delay=0.25, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.3)  # a pause longer than the tail, shorter than the end of turn
        await t.say(0.4, pause=0.55)
        await t.quiet(0.5)
        users = [m["content"] for m in t.of_type("ConversationText") if m["role"] == "user"]
        assert users == ["complete sentence"]
        assert len(t.stt.utterances) == 2
        assert len(t.stt.utterances[1]) > len(t.stt.utterances[0])


# -- speculative replies ---------------------------------------------------------------------------------

SPECULATIVE_TURNS = dataclasses.replace(
    TEST_TURNS, speculative_stt=True, speculative_reply=True, end_of_turn_ms=500, speculative_reply_delay_ms=0
)


def _prepared_timeline(
    clock: VirtualClock, turns: TurnConfig = SPECULATIVE_TURNS, **engines: object
) -> Timeline:
    engines.setdefault("stt", ScriptedStt(["partial", "complete sentence"], delay=0.1, sleep=clock.sleep))
    engines.setdefault("llm", ScriptedLlm(first_token_delay=0.05, token_delay=0.01, sleep=clock.sleep))
    engines.setdefault("tts", ScriptedTts(chunk_delay=0.02, sleep=clock.sleep))
    return Timeline(clock=clock, config=ServerConfig(turns=turns), **engines)  # type: ignore[arg-type]


async def test_a_reply_prepared_in_the_end_of_turn_wait_is_sent_when_the_turn_ends() -> None:
    clock = VirtualClock()
    async with _prepared_timeline(clock, stt=ScriptedStt(["hello"], delay=0.1, sleep=clock.sleep)) as t:
        await t.configure()
        mark = t.mark()
        await t.say(0.4, pause=0.55)
        await t.quiet(1.0)
        metrics = t.session.metrics[-1]
        assert metrics.speculative_reply_used
        # STT (0.1 s), the LLM's first sentence and its audio were all done inside the 500 ms wait.
        assert metrics.first_audio == pytest.approx(metrics.turn_ended)
        assert metrics.total_latency == pytest.approx(metrics.turn_ended - metrics.speech_ended)
        assert t.since(mark) == ["UserStartedSpeaking", "ConversationText", *BRACKET]
        # Nothing after the onset went out before the turn ended.
        times = t.transport.times[mark + 1 :]
        assert min(times) == pytest.approx(metrics.turn_ended)
        assert t.history() == [("user", "hello"), ("assistant", "You said: hello.")]
        assert len(t.session.metrics) == 1 and t.session.state is State.LISTENING


async def test_a_prepared_reply_is_dropped_without_a_trace_when_the_user_goes_on() -> None:
    clock = VirtualClock()

    def two_sentences(messages: Sequence[ChatMessage]) -> Script:
        return [f"You said: {messages[-1].content}. What else?"]

    llm = ScriptedLlm(respond=two_sentences, first_token_delay=0.05, token_delay=0.01, sleep=clock.sleep)
    async with _prepared_timeline(clock, llm=llm) as t:
        await t.configure()
        await t.say(0.4, pause=0.45)  # long enough for the held reply's first audio, not for the turn
        # "You said: partial." was synthesised and held; the model waits before its second sentence.
        assert [text for text, _ in t.tts.requests] == ["You said: partial."]
        await t.say(0.4, pause=0.55)
        await t.quiet(1.0)
        assert [m["content"] for m in t.of_type("ConversationText")] == [
            "complete sentence",
            "You said: complete sentence.",
            "What else?",
        ]
        assert [t.chat(messages)[-1] for messages, _ in t.llm.requests] == [
            ("user", "partial"),
            ("user", "complete sentence"),
        ]
        assert t.llm.closed == 1  # the held generation was stopped
        assert t.history() == [
            ("user", "complete sentence"),
            ("assistant", "You said: complete sentence. What else?"),
        ]
        assert len(t.session.metrics) == 1 and t.session.metrics[0].speculative_reply_used


class SharedLlm(ScriptedLlm):
    """Keeps, per request, what its caller asked to be told when another call waits for the model."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.on_wanted: list[object] = []

    def stream(
        self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = (), model: str | None = None
    ) -> AsyncGenerator[LlmEvent, None]:
        self.on_wanted.append(when_model_wanted.get())
        return super().stream(messages, tools=tools, model=model)


async def test_a_prepared_reply_gives_the_llm_up_when_another_call_waits_for_it() -> None:
    clock = VirtualClock()
    llm = SharedLlm(first_token_delay=0.05, token_delay=0.01, sleep=clock.sleep)
    async with _prepared_timeline(
        clock, stt=ScriptedStt(["hello"], delay=0.1, sleep=clock.sleep), llm=llm
    ) as t:
        await t.configure()
        await t.feed(speech(0.4))
        await t.quiet(0.35)  # the held reply has its first piece; the turn ends only after 500 ms
        (wanted,) = llm.on_wanted
        assert callable(wanted)
        wanted()  # another session's call waits for the model
        await asyncio.sleep(0)
        assert llm.closed == 1
        await t.quiet(1.0)
        metrics = t.session.metrics[-1]
        assert not metrics.speculative_reply_used
        assert metrics.speculative_stt_used and len(t.stt.utterances) == 1  # its transcript was kept
        assert [t.chat(messages)[-1] for messages, _ in llm.requests] == [("user", "hello")] * 2
        assert llm.on_wanted[1] is None  # a reply to a turn that has ended keeps the model
        assert t.history() == [("user", "hello"), ("assistant", "You said: hello.")]
        assert t.of_type("Error") == [] and len(t.session.metrics) == 1


async def test_a_released_reply_keeps_the_llm_when_another_call_waits() -> None:
    clock = VirtualClock()

    def two_sentences(messages: Sequence[ChatMessage]) -> Script:
        return [f"You said: {messages[-1].content}. What else?"]

    llm = SharedLlm(respond=two_sentences, first_token_delay=0.05, token_delay=0.01, sleep=clock.sleep)
    async with _prepared_timeline(
        clock, stt=ScriptedStt(["hello"], delay=0.1, sleep=clock.sleep), llm=llm
    ) as t:
        await t.configure()
        await t.feed(speech(0.4))
        await t.quiet(0.55)  # the turn has ended and the prepared reply is released
        assert t.session.metrics[-1].speculative_reply_used
        (wanted,) = llm.on_wanted
        assert callable(wanted)
        wanted()
        await t.quiet(1.0)
        assert llm.closed == 0
        assert t.history() == [("user", "hello"), ("assistant", "You said: hello. What else?")]


async def test_a_prepared_reply_runs_no_function_before_its_turn_ends() -> None:
    clock = VirtualClock()
    llm = ScriptedLlm([[WEATHER_CALL]], first_token_delay=0.05, sleep=clock.sleep)
    async with _prepared_timeline(clock, llm=llm) as t:
        await t.configure(weather_settings())
        await t.say(0.4, pause=0.45)
        await t.say(0.4, pause=0.55)
        await t.quiet(1.0)
        assert t.of_type("FunctionCallRequest") == []
        assert [t.chat(messages)[-1] for messages, _ in t.llm.requests] == [
            ("user", "partial"),
            ("user", "complete sentence"),
        ]
        assert t.history()[-1] == ("assistant", "You said: complete sentence.")


async def test_a_prepared_reply_is_not_used_when_the_prompt_changed_meanwhile() -> None:
    clock = VirtualClock()
    async with _prepared_timeline(clock, stt=ScriptedStt(["hello"], delay=0.1, sleep=clock.sleep)) as t:
        await t.configure()
        await t.feed(speech(0.4))
        await t.quiet(0.35)  # the reply is being prepared with the old prompt
        await t.send({"type": "UpdateInstructions", "instructions": "Speak like a pirate."})
        await t.quiet(1.2)
        metrics = t.session.metrics[-1]
        assert not metrics.speculative_reply_used
        last_request, _ = t.llm.requests[-1]
        assert "Speak like a pirate." in last_request[0].content
        assert t.history() == [("user", "hello"), ("assistant", "You said: hello.")]
        assert len(t.session.metrics) == 1


async def test_a_prepared_reply_reports_its_failures_only_if_it_is_released() -> None:
    clock = VirtualClock()
    async with _prepared_timeline(clock, tts=FailingTts(sleep=clock.sleep)) as t:
        await t.configure()
        await t.say(0.4, pause=0.45)  # the held reply's TTS fails: nobody is told yet
        assert t.of_type("Error") == []
        await t.say(0.4, pause=0.55)  # the user went on: that reply is gone, and its failure with it
        await t.quiet(1.0)
        (error,) = t.of_type("Error")  # the reply to the whole turn failed, and said so once
        assert_error(error, "SPEAK_REQUEST_FAILED")
        assert "complete sentence" in error["description"]


async def test_a_prepared_reply_waits_out_its_delay_so_a_user_who_goes_on_hears_nothing() -> None:
    clock = VirtualClock()
    turns = dataclasses.replace(SPECULATIVE_TURNS, end_of_turn_ms=300, speculative_reply_delay_ms=900)
    stt = ScriptedStt(["partial", "complete sentence"], delay=0.05, sleep=clock.sleep)
    async with _prepared_timeline(clock, turns, stt=stt, llm=ScriptedLlm(sleep=clock.sleep)) as t:
        await t.configure()
        await t.say(0.4, pause=0.6)  # the turn ends after 300 ms of silence; its reply is ready, and waits
        assert t.session.state is State.THINKING
        assert t.audio == b""
        await t.say(0.4, pause=0.4)  # the user goes on 0.6 s into the pause, inside the 0.9 s delay
        await t.quiet(1.5)
        # As when the reply was started only at the end of turn: the words were taken, not yet answered.
        assert [m["content"] for m in t.of_type("ConversationText")] == [
            "partial",
            "complete sentence",
            "You said: complete sentence.",
        ]
        first, answer = t.session.metrics
        assert first.interrupted and first.first_audio is None  # never heard
        assert answer.first_audio is not None and answer.speech_ended is not None
        assert answer.first_audio - answer.speech_ended >= 0.9
