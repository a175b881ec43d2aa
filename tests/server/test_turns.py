"""Turn detection by sample count: onsets, hysteresis, pre-roll, tails, end of turn, noise."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np

from voicewire.engines.base import EngineError, FloatAudio, WindowVad
from voicewire.engines.scripted import ScriptedEndOfTurn
from voicewire.server.config import TurnConfig
from voicewire.server.turns import (
    ShortSoundPaused,
    SpeechCheckpoint,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnDetector,
    TurnDiscarded,
    TurnEnded,
    TurnEvent,
)

WINDOW = 512
CONFIG = TurnConfig(
    speech_threshold=0.5, silence_threshold=0.3, onset_windows=3, end_of_turn_ms=320, min_speech_ms=150,
    preroll_ms=96, tail_ms=64,
)  # fmt: skip


class ProbabilityVad(WindowVad):
    """Reads the speech probability from the first sample of each window, so tests script it directly."""

    @property
    def window_samples(self) -> int:
        return WINDOW

    def speech_probability(self, window: FloatAudio) -> float:
        return float(window[0])

    def reset(self) -> None:
        pass


def windows(*probabilities: float) -> FloatAudio:
    return np.repeat(np.asarray(probabilities, dtype=np.float32), WINDOW)


def push(detector: TurnDetector, *chunks: FloatAudio) -> list[TurnEvent]:
    """Feed `chunks` in order on a fresh event loop; return every event."""

    async def feed() -> list[TurnEvent]:
        return [event for chunk in chunks for event in await detector.push(chunk)]

    return asyncio.run(feed())


def run(probabilities: list[float], config: TurnConfig = CONFIG) -> list[tuple[int, TurnEvent]]:
    """Feed one window at a time; return (window index, event) pairs."""
    detector = TurnDetector(ProbabilityVad(), config)
    per_window = [push(detector, windows(p)) for p in probabilities]
    return [(i, event) for i, events in enumerate(per_window) for event in events]


def test_onset_needs_consecutive_speech_windows() -> None:
    events = run([0, 1, 1, 0, 1, 1, 1, 1])
    assert [(i, type(e)) for i, e in events] == [(6, SpeechStarted)]
    assert events[0][1] == SpeechStarted(position=4 * WINDOW)


def test_windows_between_the_thresholds_keep_speech_going_but_do_not_start_it() -> None:
    assert run([0.4] * 20) == []
    events = run([1, 1, 1, *[0.4] * 20, *[0] * 10])
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechPaused, TurnEnded]
    turn = events[-1][1]
    assert isinstance(turn, TurnEnded)
    assert turn.speech_end == 23 * WINDOW


def test_end_of_turn_after_the_configured_silence_with_preroll_and_tail() -> None:
    probabilities = [0.1, 0.2, 0.0, 0.0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    events = run(probabilities)
    assert [(i, type(e)) for i, e in events] == [(6, SpeechStarted), (10, SpeechPaused), (18, TurnEnded)]
    paused, ended = events[1][1], events[2][1]
    assert isinstance(paused, SpeechPaused) and isinstance(ended, TurnEnded)
    assert ended.speech_end == 9 * WINDOW
    # 3 pre-roll windows (96 ms), 5 speech windows, 2 tail windows (64 ms).
    expected = windows(0.2, 0.0, 0.0, 1, 1, 1, 1, 1, 0, 0)
    np.testing.assert_array_equal(ended.utterance, expected)
    np.testing.assert_array_equal(paused.utterance, ended.utterance)


def test_speech_resuming_after_a_pause_continues_the_same_turn() -> None:
    events = run([1, 1, 1, 1, 1, 0, 0, 0, 1, 1, *[0] * 12])
    assert [type(e) for _, e in events] == [
        SpeechStarted,
        SpeechPaused,
        SpeechResumed,
        SpeechPaused,
        TurnEnded,
    ]
    ended = events[-1][1]
    assert isinstance(ended, TurnEnded)
    assert ended.speech_end == 10 * WINDOW


def test_too_little_speech_is_discarded() -> None:
    events = run([1, 1, 1, 1, *[0] * 12])  # 4 windows = 128 ms < 150 ms
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechPaused, TurnDiscarded]


def test_a_new_turn_after_the_first_starts_with_its_own_preroll() -> None:
    config = dataclasses.replace(CONFIG, preroll_ms=64)
    events = run([1] * 6 + [0] * 10 + [0.2, 0.3] + [1] * 6 + [0] * 10, config)
    turns = [e for _, e in events if isinstance(e, TurnEnded)]
    assert len(turns) == 2
    np.testing.assert_array_equal(turns[1].utterance[: 2 * WINDOW], windows(0.2, 0.3))


def test_audio_in_arbitrary_chunk_sizes_gives_the_same_events() -> None:
    audio = windows(0, 0, 1, 1, 1, 1, 1, 1, *[0] * 12)
    whole = push(TurnDetector(ProbabilityVad(), CONFIG), audio)
    detector = TurnDetector(ProbabilityVad(), CONFIG)
    pieces = push(detector, *(audio[start : start + 300] for start in range(0, len(audio), 300)))
    assert [type(e) for e in pieces] == [type(e) for e in whole]
    assert detector.position == len(audio)
    first, last = whole[-1], pieces[-1]
    assert isinstance(first, TurnEnded) and isinstance(last, TurnEnded)
    np.testing.assert_array_equal(first.utterance, last.utterance)


def test_an_endless_utterance_is_cut_at_the_maximum() -> None:
    config = dataclasses.replace(CONFIG, max_utterance_ms=640)  # 20 windows
    events = run([1] * 45, config)
    ended = [(i, e) for i, e in events if isinstance(e, TurnEnded)]
    # The second turn needs a new onset (windows 20-22) and repeats none of the first turn's audio.
    assert [i for i, _ in ended] == [19, 39]
    assert all(len(e.utterance) == 20 * WINDOW for _, e in ended)


# -- Smart Turn: the model decides, silence only bounds the wait ---------------------------------------------

SMART = dataclasses.replace(
    CONFIG, detector="smart-turn", eot_check_ms=160, eot_recheck_ms=320, max_eot_silence_ms=1600
)  # checks after 5 silent windows, then every 10, gives up after 50


def judge_by_last_speech(audio: FloatAudio) -> float:
    """Complete when the last speech window was scripted as 0.9 ("falling intonation"), else incomplete."""
    speech = audio[::WINDOW][audio[::WINDOW] >= 0.5]
    return 0.95 if len(speech) and speech[-1] == 0.9 else 0.05


def run_smart(
    probabilities: list[float], config: TurnConfig = SMART
) -> tuple[list[tuple[int, TurnEvent]], ScriptedEndOfTurn]:
    model = ScriptedEndOfTurn(judge_by_last_speech)
    detector = TurnDetector(ProbabilityVad(), config, model)
    per_window = [push(detector, windows(p)) for p in probabilities]
    return [(i, event) for i, events in enumerate(per_window) for event in events], model


def test_a_turn_that_sounds_complete_ends_at_the_first_check() -> None:
    events, model = run_smart([1] * 8 + [0.9] + [0] * 20)
    assert [(i, type(e)) for i, e in events] == [(2, SpeechStarted), (10, SpeechPaused), (13, TurnEnded)]
    ended = events[-1][1]
    assert isinstance(ended, TurnEnded) and ended.speech_end == 9 * WINDOW
    # The model heard the whole turn so far, its 5 silent windows included.
    assert len(model.calls) == 1 and len(model.calls[0]) == 14 * WINDOW


def test_an_incomplete_turn_waits_asking_again_until_the_silence_limit() -> None:
    events, model = run_smart([1] * 9 + [0] * 60)
    assert [(i, type(e)) for i, e in events] == [(2, SpeechStarted), (10, SpeechPaused), (58, TurnEnded)]
    # Asked after 5, 15, 25, 35 and 45 silent windows; the 50th ends the turn unasked.
    assert [len(audio) // WINDOW for audio in model.calls] == [14, 24, 34, 44, 54]


def test_a_pause_the_model_calls_incomplete_keeps_one_turn() -> None:
    events, _ = run_smart([1] * 8 + [0] * 25 + [1] * 6 + [0.9] + [0] * 10)
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, SpeechPaused, SpeechResumed, SpeechPaused, TurnEnded]
    ended = events[-1][1]
    assert isinstance(ended, TurnEnded) and ended.speech_end == 40 * WINDOW


def test_smart_turn_discards_noise_without_asking_the_model() -> None:
    events, model = run_smart([1, 1, 1, 1] + [0] * 10)
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechPaused, TurnDiscarded]
    assert model.calls == []


def test_the_silence_detector_ignores_the_model() -> None:
    events, model = run_smart([1] * 8 + [0.9] + [0] * 20, dataclasses.replace(SMART, detector="silence"))
    assert [(i, type(e)) for i, e in events] == [(2, SpeechStarted), (10, SpeechPaused), (18, TurnEnded)]
    assert model.calls == []


def test_the_model_is_awaited_so_decisions_do_not_depend_on_its_speed() -> None:
    async def slow() -> list[TurnEvent]:
        model = ScriptedEndOfTurn(judge_by_last_speech, delay=0.01)
        detector = TurnDetector(ProbabilityVad(), SMART, model)
        return [e for p in [1] * 8 + [0.9] + [0] * 20 for e in await detector.push(windows(p))]

    assert [type(e) for e in asyncio.run(slow())] == [SpeechStarted, SpeechPaused, TurnEnded]


def test_a_failing_model_ends_the_turn_at_its_first_check() -> None:
    def broken(audio: FloatAudio) -> float:
        raise EngineError("model gone")

    detector = TurnDetector(ProbabilityVad(), SMART, ScriptedEndOfTurn(broken))
    events = [(i, e) for i, p in enumerate([1] * 8 + [0] * 10) for e in push(detector, windows(p))]
    assert [(i, type(e)) for i, e in events] == [(2, SpeechStarted), (9, SpeechPaused), (12, TurnEnded)]


# -- Barge-in: while the agent speaks, only lasting speech interrupts ----------------------------------------


def run_over_agent(probabilities: list[float], config: TurnConfig = CONFIG) -> list[tuple[int, TurnEvent]]:
    detector = TurnDetector(ProbabilityVad(), dataclasses.replace(config, barge_in_min_speech_ms=300))
    detector.agent_speaking = True
    per_window = [push(detector, windows(p)) for p in probabilities]
    return [(i, event) for i, events in enumerate(per_window) for event in events]


def test_a_short_sound_under_the_agent_only_reports_its_pause() -> None:
    # A 6-window cough (192 ms), then a 4-window "mm" and 3-window "hm" with a 96 ms gap: all under 300 ms.
    events = run_over_agent([0, *[1] * 6, *[0] * 15, *[1] * 4, 0, 0, 0, *[1] * 3, *[0] * 15])
    # Each sound may be a word ("Stop."): its pause after 64 ms of silence is all that is said.
    assert [(i, type(e)) for i, e in events] == [(8, ShortSoundPaused), (33, ShortSoundPaused)]
    first = events[0][1]
    assert isinstance(first, ShortSoundPaused) and first.onset == 1 * WINDOW
    assert (
        len(first.utterance) == (1 + 6 + 2) * WINDOW
    )  # the window before it (pre-roll), the sound, its tail


def test_a_short_sound_promoted_to_a_turn_interrupts_and_then_ends_as_one() -> None:
    detector = TurnDetector(ProbabilityVad(), dataclasses.replace(CONFIG, barge_in_min_speech_ms=300))
    detector.agent_speaking = True
    (paused,) = [e for p in [0, 0, *[1] * 6, 0, 0] for e in push(detector, windows(p))]
    assert isinstance(paused, ShortSoundPaused)
    assert detector.interrupt_now(dataclasses.replace(paused, onset=paused.onset + WINDOW)) == []  # not that
    started, at_pause = detector.interrupt_now(paused)
    assert started == SpeechStarted(2 * WINDOW)
    assert isinstance(at_pause, SpeechPaused) and np.array_equal(at_pause.utterance, paused.utterance)
    assert detector.interrupt_now(paused) == []  # once
    ended = [e for p in [0] * 10 for e in push(detector, windows(p))]
    assert [type(e) for e in ended] == [TurnEnded]


def test_a_short_sound_forgotten_before_stt_answered_is_promoted_to_a_whole_turn() -> None:
    detector = TurnDetector(ProbabilityVad(), dataclasses.replace(CONFIG, barge_in_min_speech_ms=300))
    detector.agent_speaking = True
    events = [e for p in [0, *[1] * 6, *[0] * 12] for e in push(detector, windows(p))]
    assert [type(e) for e in events] == [ShortSoundPaused]
    (sound,) = events
    assert isinstance(sound, ShortSoundPaused) and sound.speech_end == 7 * WINDOW
    started, ended = detector.interrupt_now(sound)
    assert started == SpeechStarted(sound.onset)
    assert isinstance(ended, TurnEnded) and ended.speech_end == sound.speech_end
    assert np.array_equal(ended.utterance, sound.utterance)


def test_a_forgotten_short_sound_is_not_promoted_once_another_was_heard() -> None:
    detector = TurnDetector(ProbabilityVad(), dataclasses.replace(CONFIG, barge_in_min_speech_ms=300))
    detector.agent_speaking = True
    first, second = [e for p in [0, *[1] * 6, *[0] * 12] * 2 for e in push(detector, windows(p))]
    assert isinstance(first, ShortSoundPaused) and isinstance(second, ShortSoundPaused)
    assert detector.interrupt_now(first) == []
    assert [type(e) for e in detector.interrupt_now(second)] == [SpeechStarted, TurnEnded]


def test_lasting_speech_under_the_agent_barges_in_from_its_onset() -> None:
    events = run_over_agent([0, 0, *[1] * 14, *[0] * 12])
    # 300 ms is 10 windows of speech: announced at the 10th, dated from the onset.
    assert [(i, type(e)) for i, e in events] == [(11, SpeechStarted), (17, SpeechPaused), (25, TurnEnded)]
    started = events[0][1]
    assert isinstance(started, SpeechStarted) and started.position == 2 * WINDOW


def test_speech_right_after_a_turn_ended_interrupts_the_agent_sooner() -> None:
    """The turn ended inside the sentence and the agent is answering it: the rest of the sentence stops the
    agent once it is `min_speech_ms` long (5 windows), not `barge_in_min_speech_ms` (15)."""
    config = dataclasses.replace(CONFIG, barge_in_min_speech_ms=480, resume_barge_in_ms=640)  # 20 windows
    turn = [*[1] * 8, *[0] * 10]  # ends at its 10th silent window, 8 windows after its onset
    for gap, needed in ((12, 5), (19, 5), (21, 15)):  # silent windows from the end of speech to the onset
        detector = TurnDetector(ProbabilityVad(), config)
        assert [type(e) for p in turn for e in push(detector, windows(p))][-1] is TurnEnded
        detector.agent_speaking = True  # the reply to the fragment is playing
        resumed = [0] * (gap - 10) + [1] * 16
        events = [(i, e) for i, p in enumerate(resumed) for e in push(detector, windows(p))]
        onset = gap - 10
        assert [(i, type(e)) for i, e in events] == [(onset + needed - 1, SpeechStarted)], gap
        started = events[0][1]
        assert isinstance(started, SpeechStarted)
        assert started.position == (len(turn) + onset) * WINDOW


def test_without_agent_audio_an_onset_starts_the_turn_at_once() -> None:
    detector = TurnDetector(ProbabilityVad(), dataclasses.replace(CONFIG, barge_in_min_speech_ms=300))
    events = [push(detector, windows(p)) for p in [0, 1, 1, 1]]
    assert [type(e) for e in events[3]] == [SpeechStarted]


def test_the_model_hears_a_turn_that_ended_just_before_as_context() -> None:
    turn = [1] * 8 + [0.9] + [0] * 20
    events, model = run_smart(turn + turn)
    assert [type(e) for _, e in events].count(TurnEnded) == 2
    # The second call holds both turns, 0.9 marking each one's last speech window.
    assert [int(np.sum(audio[::WINDOW] == 0.9)) for audio in model.calls] == [1, 2]
    first, second = model.calls
    assert np.array_equal(second[: len(first)], first)  # the earlier turn as the model heard it


def test_a_turn_further_back_than_eot_context_ms_is_not_context() -> None:
    turn = [1] * 8 + [0.9] + [0] * 5
    gap = SMART.eot_context_ms * 16 // WINDOW + 5  # windows of silence, just over the limit
    model = ScriptedEndOfTurn(judge_by_last_speech)
    detector = TurnDetector(ProbabilityVad(), SMART, model)
    push(detector, windows(*turn), windows(*([0] * gap)))
    assert detector._context is None  # freed once too old, not kept until the next turn
    push(detector, windows(*turn))
    assert [int(np.sum(audio[::WINDOW] == 0.9)) for audio in model.calls] == [1, 1]


def test_a_user_who_speaks_again_right_after_a_turn_ended_gets_more_patience() -> None:
    turn = [1] * 8 + [0.9] + [0] * 30
    step = SMART.eot_patience_step_ms * 16 // WINDOW  # 10 windows
    far = [0] * (SMART.eot_context_ms * 16 // WINDOW + 5)
    detector = TurnDetector(ProbabilityVad(), SMART, ScriptedEndOfTurn(judge_by_last_speech))
    seen = []
    for chunk in (turn, turn, turn, far, turn, far, turn, far, turn):
        ends = [e for p in chunk for e in push(detector, windows(p)) if isinstance(e, TurnEnded)]
        seen.append((len(ends), detector.patience))
    # Each quick return adds a step (the model is then first asked after 5 + 10 or 5 + 20 silent windows,
    # so each turn still ends on the model's verdict); each turn after a long gap takes one off.
    assert seen == [
        (1, 0),
        (1, step),
        (1, 2 * step),
        (0, 2 * step),
        (1, step),
        (0, step),
        (1, 0),
        (0, 0),
        (1, 0),
    ]


def test_long_speech_without_a_pause_is_handed_on_at_its_quietest_recent_window() -> None:
    config = dataclasses.replace(CONFIG, checkpoint_ms=3200, max_utterance_ms=60_000)  # 100 windows
    speech = [1.0] * 230
    speech[90] = 0.4  # a soft window between words: still speech (above the silence threshold)
    speech[185] = 0.35
    events = run([0, *speech, *[0] * 12], config)
    checkpoints = [(i, e) for i, e in events if isinstance(e, SpeechCheckpoint)]
    # The utterance is the pre-roll window, then the speech: 100 windows long at index 99.
    (at_first, first), (at_second, second) = checkpoints
    assert at_first == 99 and len(first.utterance) == (1 + 91) * WINDOW  # cut after the soft window
    assert at_second == 191 and len(second.utterance) == (1 + 186) * WINDOW  # 100 windows after that cut
    (ended,) = [e for _, e in events if isinstance(e, TurnEnded)]
    assert np.array_equal(ended.utterance[: len(second.utterance)], second.utterance)  # prefixes of the turn


def test_no_checkpoint_when_turned_off_or_when_pauses_hand_the_audio_on() -> None:
    off = dataclasses.replace(CONFIG, checkpoint_ms=0, max_utterance_ms=60_000)
    assert not [e for _, e in run([0, *[1] * 230, *[0] * 12], off) if isinstance(e, SpeechCheckpoint)]
    on = dataclasses.replace(CONFIG, checkpoint_ms=3200, max_utterance_ms=60_000)
    # 60 windows of speech, then a pause of 3 windows (past the 64 ms tail, short of the end), and again.
    paused = [0, *([1] * 60 + [0] * 3) * 4, *[0] * 12]
    events = run(paused, on)
    assert [type(e) for _, e in events].count(SpeechPaused) >= 4
    assert not [e for _, e in events if isinstance(e, SpeechCheckpoint)]


def test_audio_handed_on_at_pauses_is_unchanged_by_the_speech_that_follows() -> None:
    # Long enough (200 windows of speech between pauses) for the utterance's array to grow several times.
    speech = [0.9] * 200
    probabilities = [0.0, *speech, 0.0, 0.0, *speech, 0.0, 0.0, *speech, *[0.0] * 10]
    audio = np.concatenate(
        [np.full(WINDOW, p + 1e-4 * i, dtype=np.float32) for i, p in enumerate(probabilities)]
    )
    detector = TurnDetector(ProbabilityVad(), CONFIG)
    events = push(detector, audio)
    pauses = [e.utterance for e in events if isinstance(e, SpeechPaused)]
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert len(pauses) == 3 and len(ended) == 1
    # Checked after the whole push: each pause's audio is still what the utterance was at that pause (the
    # pre-roll window, the speech so far and the 64 ms tail).
    np.testing.assert_array_equal(pauses[0], audio[: (1 + 200 + 2) * WINDOW])
    np.testing.assert_array_equal(pauses[1], audio[: (1 + 200 + 2 + 200 + 2) * WINDOW])
    np.testing.assert_array_equal(ended[0].utterance, pauses[-1])
    np.testing.assert_array_equal(ended[0].utterance, audio[: (1 + 3 * 200 + 4 + 2) * WINDOW])
