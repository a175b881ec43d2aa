"""Turn-taking through a whole session: the end-of-turn model and the barge-in minimum, on a virtual clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from tests.server.timeline import TEST_TURNS, Timeline, VirtualClock, speech
from voicewire.engines.base import FloatAudio, Transcript
from voicewire.engines.scripted import ScriptedEndOfTurn, ScriptedLlm, ScriptedStt, ScriptedTts
from voicewire.server import ServerConfig, State, TurnConfig

LONG_REPLY = [["A very long answer that goes on and on and on for quite a while."]]


def over_one_second_of_speech(audio: FloatAudio) -> float:
    """A scripted model: the turn "sounds complete" once it holds over a second of loud audio."""
    return 0.9 if np.count_nonzero(np.abs(audio) > 0.05) > 16_000 else 0.1


async def test_a_pause_the_model_calls_incomplete_does_not_end_the_turn() -> None:
    model = ScriptedEndOfTurn(over_one_second_of_speech)
    turns = dataclasses.replace(
        TEST_TURNS, detector="smart-turn", eot_check_ms=160, eot_recheck_ms=320, max_eot_silence_ms=1600
    )
    async with Timeline(config=ServerConfig(turns=turns)) as t:
        t.registry.end_of_turn = model
        await t.configure()
        await t.say(0.6, pause=0.8)  # far past end_of_turn_ms, but the model hears an unfinished turn
        assert t.session.state is State.USER_SPEAKING
        assert t.of_type("ConversationText") == []
        await t.say(0.6, pause=0.3)
        assert t.summary[2:4] == ["UserStartedSpeaking", "ConversationText"]
        assert len(t.of_type("UserStartedSpeaking")) == 1
        # One utterance for STT: both halves and the pause between them.
        assert len(t.stt.utterances) == 1 and len(t.stt.utterances[0]) > 2.0 * 16_000
        assert len(model.calls) >= 2


async def test_without_a_model_the_session_ends_turns_on_silence() -> None:
    turns = dataclasses.replace(TEST_TURNS, detector="smart-turn")
    async with Timeline(config=ServerConfig(turns=turns)) as t:
        await t.configure()
        await t.say(0.6, pause=0.5)
        assert "ConversationText" in t.summary


#: Barge-in needs 300 ms of speech, except within 0.5 s of the end of the user's turn. The sounds over the
#: agent below start 0.6 s after the user's speech ended (a 0.4 s pause, then 0.2 s of the reply).
BARGE_IN_TURNS = dataclasses.replace(TEST_TURNS, barge_in_min_speech_ms=300, resume_barge_in_ms=500)


def barge_in_timeline(
    clock: VirtualClock, heard: str = "Mm-hmm.", turns: TurnConfig = BARGE_IN_TURNS
) -> Timeline:
    """The agent gives a long reply to "hello there"; STT hears `heard` in what is said over it."""
    return Timeline(
        clock=clock,
        config=ServerConfig(turns=turns),
        stt=ScriptedStt(["hello there", heard], delay=0.05, sleep=clock.sleep),
        llm=ScriptedLlm(LONG_REPLY, sleep=clock.sleep),
        tts=ScriptedTts(seconds_per_char=0.05, sleep=clock.sleep),
    )


async def test_a_short_sound_while_the_agent_speaks_does_not_interrupt_it() -> None:
    async with barge_in_timeline(VirtualClock()) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.quiet(0.2)
        assert t.session.state is State.SPEAKING
        before = len(t.audio)
        await t.feed(speech(0.2))  # a cough
        await t.quiet(0.6)
        assert t.session.state is State.SPEAKING
        assert len(t.of_type("UserStartedSpeaking")) == 1  # only the first turn's
        assert len(t.audio) > before
        assert t.tts.closed == 0
        assert len(t.stt.utterances) == 2  # it was transcribed: a backchannel


async def test_a_short_word_over_the_agent_interrupts_it_and_is_answered() -> None:
    clock = VirtualClock()
    async with barge_in_timeline(clock, heard="Stop.") as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.quiet(0.2)
        assert t.session.state is State.SPEAKING
        await t.feed(speech(0.2))  # shorter than the 300 ms a barge-in takes by length
        await t.quiet(0.4)  # the pause (tail_ms 200 here) and STT (50 ms): the word is heard
        assert len(t.of_type("UserStartedSpeaking")) == 2
        sent = t.transport.sent
        barge = sent.index('{"type":"UserStartedSpeaking"}', 3)
        answer = next(i for i, m in enumerate(sent) if i > barge and "AgentStartedSpeaking" in str(m))
        assert not any(isinstance(m, bytes) for m in sent[barge:answer])  # the agent stopped at once
        await t.quiet(1.0)
        users = [m["content"] for m in t.of_type("ConversationText") if m["role"] == "user"]
        assert users == ["hello there", "Stop."]
        assert t.history()[-2] == ("user", "Stop.")


async def test_lasting_speech_while_the_agent_speaks_stops_it_within_150_ms_of_the_decision() -> None:
    async with barge_in_timeline(VirtualClock()) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.quiet(0.2)
        onset = t.clock.now()
        await t.feed(speech(0.5))
        sent, times = t.transport.sent, t.transport.times
        barge = sent.index('{"type":"UserStartedSpeaking"}', 3)
        assert t.session.state is State.USER_SPEAKING
        # Decided after 300 ms of speech (plus the onset windows' rounding), not at the onset.
        assert 0.3 <= times[barge] - onset <= 0.4
        last_audio = max(i for i, m in enumerate(sent) if isinstance(m, bytes))
        assert last_audio < barge
        assert times[barge] - times[last_audio] <= 0.15


async def test_speech_soon_after_the_turn_stops_the_agent_after_min_speech_ms() -> None:
    """The same sound as the cough above, within `resume_barge_in_ms` of the turn's end: the user is most
    likely going on with the sentence, so it interrupts once it is `min_speech_ms` (150 ms) long."""
    turns = dataclasses.replace(BARGE_IN_TURNS, resume_barge_in_ms=2000)
    async with barge_in_timeline(VirtualClock(), turns=turns) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.quiet(0.2)
        assert t.session.state is State.SPEAKING
        onset = t.clock.now()
        await t.feed(speech(0.2))
        sent, times = t.transport.sent, t.transport.times
        barge = sent.index('{"type":"UserStartedSpeaking"}', 3)
        assert 0.15 <= times[barge] - onset <= 0.2  # 150 ms of speech, rounded up to whole windows
        assert t.tts.closed == 1
        last_audio = max(i for i, m in enumerate(sent) if isinstance(m, bytes))
        assert last_audio < barge


class CountingStt(ScriptedStt):
    """Counts transcriptions that ran to their end."""

    finished = 0

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        transcript = await super().transcribe(audio, keyterms=keyterms)
        self.finished += 1
        return transcript


async def test_only_the_latest_short_sound_over_the_agent_is_still_being_transcribed() -> None:
    clock = VirtualClock()
    async with Timeline(
        clock=clock,
        config=ServerConfig(turns=BARGE_IN_TURNS),
        stt=CountingStt(["hello there", "Mm-hmm."], delay=1.0, sleep=clock.sleep),
        llm=ScriptedLlm(LONG_REPLY, sleep=clock.sleep),
        tts=ScriptedTts(seconds_per_char=0.2, sleep=clock.sleep),  # a reply of about 13 s
    ) as t:
        await t.configure()
        await t.say(0.4, pause=0.4)
        await t.quiet(1.5)  # STT takes a second here
        assert t.session.state is State.SPEAKING and t.stt.finished == 1
        for _ in range(2):  # two hums, the second pausing while the first is still being transcribed
            await t.feed(speech(0.2))
            await t.quiet(0.35)
        await t.quiet(1.2)
        assert len(t.stt.utterances) == 3  # the turn, and each hum when it paused
        assert t.stt.finished == 2  # the turn and the last hum: the first hum's was dropped
        assert t.session.state is State.SPEAKING


async def test_long_speech_without_a_pause_is_transcribed_ahead_in_a_segment() -> None:
    """A long turn with no pause long enough to count: STT finishes its first part while the user speaks,
    and the end of turn transcribes only the rest (not the whole turn, Whisper's slow path past 20 s)."""
    clock = VirtualClock()
    turns = dataclasses.replace(TEST_TURNS, checkpoint_ms=4500)
    async with Timeline(
        clock=clock,
        config=ServerConfig(turns=turns),
        stt=ScriptedStt(["the first part", "and the rest"], delay=0.1, sleep=clock.sleep),
    ) as t:
        await t.configure()
        await t.say(7.0, pause=0.5)
        await t.quiet(1.0)
        first, rest = t.stt.utterances
        assert 4.0 <= len(first) / 16_000 <= 4.6  # the checkpoint, at its quietest last window
        assert 2.5 <= len(rest) / 16_000 <= 3.5  # the rest of the 7 s, with its pre-roll and tail
        users = [m["content"] for m in t.of_type("ConversationText") if m["role"] == "user"]
        assert users == ["the first part and the rest"]
