"""Turn detection: VAD windows in, speech onsets and finished utterances out.

It counts samples, never wall time, so a test drives it deterministically with synthetic audio and a live
session gets the same decisions whatever the network jitter. Positions in events are sample indexes of the
16 kHz stream since the session started; the session turns them into clock times.

* Onset: `onset_windows` consecutive windows at or above `speech_threshold` (a click or a cough of one
  window is not speech). `preroll_ms` of audio from before the onset is kept, so the first syllable
  reaches STT.
* Barge-in: while the session says agent audio is playing (`agent_speaking`), an onset is announced only
  once the utterance holds `barge_in_min_speech_ms` of speech. A shorter sound that pauses
  (`ShortSoundPaused`, after `tail_ms` of silence) may still be a word: "Stop." is shorter than that. The
  session transcribes it and, if it holds a word people cut in with, calls `interrupt_now`; otherwise
  (a cough, a click, "mm-hm") the sound is forgotten without any event once silent for `end_of_turn_ms`,
  and the agent talks on. Speech that starts within `resume_barge_in_ms` of the end of the user's last turn
  interrupts after `min_speech_ms`: the turn ended inside a sentence, and the agent yields to the rest.
* In speech, only windows below `silence_threshold` count as silence (hysteresis), so a soft syllable does not
  break an utterance in two.
* After `tail_ms` of silence the utterance STT would get is final unless speech resumes (`SpeechPaused`,
  used for speculative STT). After `checkpoint_ms` of speech with no such pause, the utterance up to its
  quietest window of the last half second is handed on (`SpeechCheckpoint`), so STT can finish that part of
  a long turn early. The turn then ends:
  - "silence" detector: after `end_of_turn_ms` of silence;
  - "smart-turn" detector: when the end-of-turn model, asked after `eot_check_ms` of silence and again every
    `eot_recheck_ms`, says the turn sounds complete, or after `max_eot_silence_ms` of silence regardless.
    The model hears the last turn before the utterance too when it ended at most `eot_context_ms` earlier:
    a turn ended too soon is then judged again with what came before it. Each such quick return also adds
    `eot_patience_step_ms` of silence before the model is first asked (up to the silence limit), and each
    utterance after a longer gap takes a step off: a speaker who pauses mid-sentence gets more time.
    The model is awaited inside `push`, so its answer applies at the same sample whatever it costs.
  Utterances with less than `min_speech_ms` of speech are discarded as noise (at the end-of-turn silence, or
  at the first check), and one reaching `max_utterance_ms` ends at once.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math

import numpy as np

from voicewire.engines import turn_smart
from voicewire.engines.base import (
    ENGINE_SAMPLE_RATE,
    EndOfTurnModel,
    EngineError,
    FloatAudio,
    VoiceActivityDetector,
)
from voicewire.server.config import TurnConfig

logger = logging.getLogger(__name__)

#: A checkpoint is cut at the quietest of this many last windows (about half a second).
_CHECKPOINT_LOOKBACK_WINDOWS = 16


@dataclasses.dataclass(frozen=True)
class SpeechStarted:
    #: First sample of the onset windows.
    position: int


@dataclasses.dataclass(frozen=True)
class SpeechPaused:
    #: Exactly what `TurnEnded.utterance` will be if speech does not resume.
    utterance: FloatAudio


@dataclasses.dataclass(frozen=True)
class SpeechResumed:
    pass


@dataclasses.dataclass(frozen=True)
class SpeechCheckpoint:
    """Long speech without a pause: the utterance so far, up to its quietest recent window (a prefix of
    what the turn's utterance will be), for STT to transcribe ahead of the end of turn."""

    utterance: FloatAudio


@dataclasses.dataclass(frozen=True)
class ShortSoundPaused:
    """A sound over the agent, too short to interrupt by its length, has paused: it may be a word."""

    utterance: FloatAudio
    #: Its onset (`SpeechStarted.position` if it is promoted), naming it for `interrupt_now`.
    onset: int
    #: The sample after its last speech window (`TurnEnded.speech_end` if it is promoted once forgotten).
    speech_end: int


@dataclasses.dataclass(frozen=True)
class TurnEnded:
    utterance: FloatAudio
    #: The sample after the last speech window: the true end of speech.
    speech_end: int


@dataclasses.dataclass(frozen=True)
class TurnDiscarded:
    pass


TurnEvent = (
    SpeechStarted
    | SpeechPaused
    | SpeechResumed
    | SpeechCheckpoint
    | ShortSoundPaused
    | TurnEnded
    | TurnDiscarded
)


class _Utterance:
    """An utterance's windows laid end to end in one growing array.

    The audio handed on at each pause is a view of that array instead of a copy of the whole utterance so far:
    in continuous speech a pause comes every few hundred milliseconds, and the copies grew with the utterance.
    Windows are only ever written past the end of any view handed out, so a view never changes. The turn's end
    gets a copy of its own, so a finished turn (kept by its reply) holds no spare capacity.
    """

    def __init__(self, windows: list[FloatAudio], window: int, max_windows: int) -> None:
        self._window = window
        self._count = len(windows)
        self._max_samples = max(max_windows, len(windows)) * window
        self._samples = np.empty(min(self._max_samples, max(len(windows), 16) * window), dtype=np.float32)
        if windows:
            self._samples[: len(windows) * window] = np.concatenate(windows)

    def __len__(self) -> int:
        return self._count

    def append(self, window: FloatAudio) -> None:
        start = self._count * self._window
        if start + self._window > len(self._samples):
            grown = np.empty(min(self._max_samples, 2 * len(self._samples)), dtype=np.float32)
            grown[:start] = self._samples[:start]
            self._samples = grown
        self._samples[start : start + self._window] = window
        self._count += 1

    def audio(self, windows: int | None = None) -> FloatAudio:
        """The first `windows` windows (all by default) as one array."""
        count = self._count if windows is None else min(windows, self._count)
        return self._samples[: count * self._window]

    def last(self, windows: int) -> list[FloatAudio]:
        """Copies of the last `windows` windows, which keep no reference to the whole utterance."""
        tail = self.audio()[-windows * self._window :] if windows > 0 else self._samples[:0]
        return list(tail.reshape(-1, self._window).copy())


class TurnDetector:
    def __init__(
        self, vad: VoiceActivityDetector, config: TurnConfig, end_of_turn: EndOfTurnModel | None = None
    ) -> None:
        self._vad = vad
        self._config = config
        #: The model that decides the end of turn; None: silence alone decides.
        self.end_of_turn = end_of_turn if config.detector == "smart-turn" else None
        #: Set by the session while agent audio is playing: onsets must then last to be a barge-in.
        self.agent_speaking = False
        self._window = vad.window_samples
        self._onset_windows = max(1, config.onset_windows)
        self._tail_windows = self._windows(config.tail_ms)
        self._end_windows = max(1, self._windows(config.end_of_turn_ms))
        self._check_windows = max(1, self._windows(config.eot_check_ms))
        self._recheck_windows = max(1, self._windows(config.eot_recheck_ms))
        self._max_silence_windows = max(1, self._windows(config.max_eot_silence_ms))
        self._barge_in_windows = self._windows(config.barge_in_min_speech_ms)
        self._min_speech_windows = self._windows(config.min_speech_ms)
        self._resume_samples = round(config.resume_barge_in_ms * ENGINE_SAMPLE_RATE / 1000)
        #: Where the user's last turn's speech ended, and the speech this utterance needs to interrupt.
        self._last_end: int | None = None
        self._needed_to_interrupt = self._barge_in_windows
        self._max_windows = max(1, self._windows(config.max_utterance_ms))
        self._checkpoint_windows = self._windows(config.checkpoint_ms) if config.checkpoint_ms > 0 else 0
        #: The utterance's length in windows at which a checkpoint is due (see `_hand_on`), the latest scores.
        self._checkpoint_due: float = math.inf
        self._recent: collections.deque[float] = collections.deque(maxlen=_CHECKPOINT_LOOKBACK_WINDOWS)
        self._pending = np.empty(0, dtype=np.float32)
        self._received = 0
        self._processed = 0
        self._preroll: collections.deque[FloatAudio] = collections.deque(
            maxlen=self._windows(config.preroll_ms)
        )
        self._onset: list[FloatAudio] = []
        self._utterance: _Utterance | None = None
        self._onset_start = 0
        self._announced = False
        self._speech_windows = 0
        self._last_speech = 0
        self._silence_run = 0
        self._next_check = 0
        self._paused = False
        self._utterance_start = 0
        self._context_samples = round(config.eot_context_ms * ENGINE_SAMPLE_RATE / 1000)
        self._patience_step = self._windows(config.eot_patience_step_ms)
        self._patience_limit = max(0, self._max_silence_windows - self._check_windows)
        #: Extra silent windows before the model is first asked, grown while this user keeps speaking again
        #: right after a turn ended (cut off mid-sentence) and shrunk after ordinary exchanges.
        self.patience = 0
        self._adapted = False
        #: The last turn's audio (its closing silence included) and the sample after it, for the model.
        self._context: tuple[FloatAudio, int] | None = None

    def _windows(self, ms: int) -> int:
        return math.ceil(ms * ENGINE_SAMPLE_RATE / 1000 / self._window)

    @property
    def position(self) -> int:
        """Samples received so far, including windows not yet scored."""
        return self._received

    @property
    def in_speech(self) -> bool:
        """The user is in a turn the session has been told about (`SpeechStarted`)."""
        return self._utterance is not None and self._announced

    async def push(self, samples: FloatAudio) -> list[TurnEvent]:
        """Score the whole windows now available; the caller awaits one push at a time, in stream order.

        Windows are kept as views of `samples` (no copy per frame): the caller must not change it afterwards.
        """
        samples = samples.astype(np.float32, copy=False)
        self._received += len(samples)
        audio = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        count = len(audio) // self._window
        self._pending = audio[count * self._window :]
        if count == 0:
            return []
        windows = audio[: count * self._window].reshape(count, self._window)
        events: list[TurnEvent] = []
        for window, probability in zip(windows, await self._vad.speech_probabilities(windows), strict=True):
            # Listening needs no await: most windows skip a coroutine of their own.
            if self._utterance is None:
                events.extend(self._listen(window, probability))
            else:
                events.extend(await self._follow(window, probability))
            self._processed += self._window
        return events

    def _listen(self, window: FloatAudio, probability: float) -> list[TurnEvent]:
        if probability < self._config.speech_threshold:
            if self._context is not None and self._processed - self._context[1] > self._context_samples:
                self._context = None  # too old to be heard with the next turn: up to 8 s of audio freed
            self._preroll.extend(self._onset)
            self._preroll.append(window)
            self._onset.clear()
            return []
        self._onset.append(window)
        if len(self._onset) < self._onset_windows:
            return []
        self._onset_start = self._processed + self._window - len(self._onset) * self._window
        self._utterance = _Utterance([*self._preroll, *self._onset], self._window, self._max_windows)
        self._utterance_start = self._processed + self._window - len(self._utterance) * self._window
        self._adapted = False
        self._hand_on(0)
        self._recent.clear()
        resumed = self._last_end is not None and self._onset_start - self._last_end <= self._resume_samples
        self._needed_to_interrupt = (
            min(self._barge_in_windows, max(self._onset_windows, self._min_speech_windows))
            if resumed
            else self._barge_in_windows
        )
        self._speech_windows = len(self._onset)
        self._last_speech = len(self._utterance)
        self._silence_run = 0
        self._paused = False
        self._announced = False
        self._preroll.clear()
        self._onset.clear()
        return self._announce()

    def _announce(self) -> list[TurnEvent]:
        """`SpeechStarted` once the speech is long enough to interrupt whatever the agent is doing."""
        if self._announced or (self.agent_speaking and self._speech_windows < self._needed_to_interrupt):
            return []
        self._announced = True
        return [SpeechStarted(self._onset_start)]

    async def _follow(self, window: FloatAudio, probability: float) -> list[TurnEvent]:
        assert self._utterance is not None
        self._utterance.append(window)
        self._recent.append(probability)
        if len(self._utterance) >= self._max_windows:
            return self._end_now(TurnEnded(self._utterance.audio().copy(), self._processed + self._window))
        if probability >= self._config.silence_threshold:
            self._speech_windows += 1
            self._last_speech = len(self._utterance)
            self._silence_run = 0
            if self._paused:
                self._paused = False
                return [SpeechResumed()]
            if len(self._utterance) >= self._checkpoint_due:
                return [*self._announce(), *self._checkpoint()]
            return self._announce()
        self._silence_run += 1
        if not self._announced:
            if self._silence_run >= self._end_windows:  # a short sound under the agent's voice: forget it
                self._finish()
            elif self._silence_run == self._tail_windows and self._speech_windows >= self._min_speech_windows:
                end = self._processed + self._window - self._silence_run * self._window
                return [ShortSoundPaused(self._trimmed(), self._onset_start, end)]
            return []
        events: list[TurnEvent] = []
        if self._silence_run == self._tail_windows:
            self._paused = True
            self._hand_on(len(self._utterance))
            events.append(SpeechPaused(self._trimmed()))
        if self.end_of_turn is None:
            if self._silence_run >= self._end_windows:
                events.append(self._end_of_speech())
        elif self._silence_run >= self._check_windows and await self._sounds_finished():
            events.append(self._end_of_speech())
        return events

    def _checkpoint(self) -> list[TurnEvent]:
        """`SpeechCheckpoint`, `checkpoint_ms` of the utterance not having been handed on, cut at the
        quietest of the last windows: most likely between words, so STT gets no half word at either side."""
        assert self._utterance is not None
        if not self._announced:
            return []
        quietest = min(range(len(self._recent)), key=self._recent.__getitem__)
        cut = len(self._utterance) - len(self._recent) + quietest + 1
        self._hand_on(cut)
        return [SpeechCheckpoint(self._utterance.audio(cut))]

    def _hand_on(self, windows: int) -> None:
        """The utterance's first `windows` went to STT: the next checkpoint is `checkpoint_ms` after them."""
        self._checkpoint_due = windows + self._checkpoint_windows if self._checkpoint_windows else math.inf

    def interrupt_now(self, sound: ShortSoundPaused) -> list[TurnEvent]:
        """Promote `sound` to a turn that interrupts the agent (the session heard a word in it). Still held,
        it goes on as a turn; already forgotten (STT took longer than `end_of_turn_ms` of silence), it is a
        whole turn at once; nothing if another utterance has begun since, or it is a turn already."""
        if self._utterance is None:
            if self._onset_start != sound.onset:  # not the last sound heard
                return []
            self._last_end = sound.speech_end
            return [SpeechStarted(sound.onset), TurnEnded(sound.utterance.copy(), sound.speech_end)]
        if self._announced or self._onset_start != sound.onset:
            return []
        self._announced = True
        self._adapted = True  # judged as it is: it did not follow a turn ended too soon
        self._next_check = max(self._check_windows, self._silence_run + 1)
        events: list[TurnEvent] = [SpeechStarted(self._onset_start)]
        if self._silence_run >= self._tail_windows:
            self._paused = True
            events.append(SpeechPaused(self._trimmed()))
        return events

    async def _sounds_finished(self) -> bool:
        """Smart Turn's verdict at this silence: whether to end the turn now."""
        assert self._utterance is not None and self.end_of_turn is not None
        if self._speech_windows < self._min_speech_windows or self._silence_run >= self._max_silence_windows:
            return True
        if self._silence_run == self._check_windows:
            self._adapt_patience()
            self._next_check = self._check_windows + self.patience
        if self._silence_run < self._next_check:
            return False
        self._next_check += self._recheck_windows
        audio = self._heard(self._utterance.audio())
        try:
            probability = await self.end_of_turn.completion_probability(audio)
        except EngineError as exc:  # the user is silent and the model cannot say more: end as silence would
            logger.warning("end-of-turn model failed, ending the turn on silence: %s", exc)
            return True
        return probability >= self._config.eot_threshold

    def _recent_context(self) -> tuple[FloatAudio, int] | None:
        """The last turn and where it ended, if this utterance began at most `eot_context_ms` after it."""
        if self._context is None:
            return None
        gap = self._utterance_start - self._context[1]
        return self._context if 0 <= gap <= self._context_samples else None

    def _adapt_patience(self) -> None:
        """Once per utterance that is speech: a user who spoke again right after a turn ended was cut off
        (the preamble's reader ends every phrase like a sentence, Smart Turn 0.95-0.99), so wait one step
        longer before asking the model; after an ordinary exchange, one step less."""
        if self._adapted:
            return
        self._adapted = True
        if self._recent_context() is not None:
            self.patience = min(self.patience + self._patience_step, self._patience_limit)
        else:
            self.patience = max(0, self.patience - self._patience_step)

    def _heard(self, utterance: FloatAudio) -> FloatAudio:
        """What the model judges: the utterance, after the last turn if that ended `eot_context_ms` or less
        before it. "ask not —" alone sounds finished; after "And so my fellow Americans —" it does not."""
        context = self._recent_context()
        if context is None:
            return utterance
        previous, previous_end = context
        gap = np.zeros(self._utterance_start - previous_end, dtype=np.float32)
        return np.concatenate((previous, gap, utterance))

    def _end_of_speech(self) -> TurnEvent:
        """The turn is over: `TurnEnded`, or `TurnDiscarded` when it held too little speech."""
        speech_end = self._processed + self._window - self._silence_run * self._window
        event: TurnEvent = TurnDiscarded()
        if self._speech_windows >= self._min_speech_windows:
            event = TurnEnded(self._trimmed().copy(), speech_end)
            self._remember()
            self._last_end = speech_end
        self._finish()
        return event

    def _end_now(self, ended: TurnEnded) -> list[TurnEvent]:
        """An utterance at the length limit ends mid-speech (announced first, if the agent was talking)."""
        events: list[TurnEvent] = [] if self._announced else [SpeechStarted(self._onset_start)]
        events.append(ended)
        self._remember()
        self._last_end = ended.speech_end
        self._finish()
        self._preroll.clear()  # it is speech the ended turn already has
        return events

    def _remember(self) -> None:
        """Keep the ended turn as context for the next one, as much of it as the model reads."""
        assert self._utterance is not None
        if self.end_of_turn is not None:
            audio = self._utterance.audio()[-turn_smart.WINDOW_SAMPLES :].copy()  # not the spare room
            self._context = (audio, self._processed + self._window)

    def _trimmed(self) -> FloatAudio:
        assert self._utterance is not None
        return self._utterance.audio(self._last_speech + self._tail_windows)

    def _finish(self) -> None:
        assert self._utterance is not None
        # Its silent end is the next utterance's pre-roll (only the windows the bounded deque keeps).
        self._preroll.extend(self._utterance.last(self._preroll.maxlen or 0))
        self._utterance = None
        self._paused = False
        self._announced = False
