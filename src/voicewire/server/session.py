"""One client connection as an explicit state machine.

States and what moves between them (each arrow is one method below):

    AWAITING_SETTINGS --settings_applied--> LISTENING  (or THINKING: a greeting is spoken first)
    LISTENING / THINKING / SPEAKING / WAITING_FOR_FUNCTION --user_started_speaking--> USER_SPEAKING
        (a reply in flight is interrupted: its audio stops, its unsent text is forgotten)
    USER_SPEAKING --user_stopped_speaking--> THINKING      (STT, then the LLM)
    USER_SPEAKING --user_turn_discarded--> LISTENING       (too little speech: noise)
    LISTENING --inject / replay--> THINKING                (a given text is spoken)
    LISTENING / THINKING / SPEAKING --user text--> THINKING (a user turn given as text; a reply is cut short)
    THINKING --function_calls_started--> WAITING_FOR_FUNCTION --function_calls_finished--> THINKING
    THINKING / WAITING_FOR_FUNCTION --agent_started_speaking--> SPEAKING
    SPEAKING --agent_audio_done--> THINKING / WAITING_FOR_FUNCTION (more to come) or LISTENING (final)
    THINKING / WAITING_FOR_FUNCTION --reply_finished--> LISTENING  (nothing to say, or a failure)

The session speaks voicewire's own vocabulary (`protocol.agent`): typed commands in (`handle`), typed events
out (through the `Outbox`); the connection's wire format translates both, so nothing here knows a dialect.
Commands are handled as they arrive, in order, so a barge-in takes effect before the next frame is read.
A reply runs as one task (`_run_reply`) whose audio stages live in `Reply`. Nothing a client sends may escape
as an exception: each command is guarded and unexpected errors become `INTERNAL_SERVER_ERROR`, after which
the session goes on.

Injected agent text: accepted while LISTENING (spoken as its own reply) and while THINKING or
WAITING_FOR_FUNCTION (spoken in order within the reply being prepared, e.g. "one moment" during a function
call); refused with `InjectionRefused` while the user speaks or agent audio is in flight. A user turn given
as text replaces a reply in flight, as speech would, and is refused while the user speaks.

At a pause in the user's speech, STT starts on what the turn will be if the user stays silent, and a held
reply to it is prepared (`speculation`); when the turn ends, that reply is released if it still answers it.

A barge-in during STT, before the user's words reached the history, carries their audio into the next turn
(they were not answered); if that next "turn" turns out to be noise, the carried utterance is answered alone.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import functools
import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, assert_never

import numpy as np

from voicewire.engines._worker import when_model_wanted
from voicewire.engines.base import (
    ENGINE_SAMPLE_RATE,
    ChatMessage,
    EngineError,
    FloatAudio,
    SpeechToText,
    ToolCall,
    Transcript,
)
from voicewire.engines.fallback import fallback_listener
from voicewire.engines.registry import EngineRegistry, VoiceChoice
from voicewire.protocol.agent import (
    AgentSettings,
    Command,
    CommandError,
    Configure,
    ConversationText,
    Error,
    ErrorCode,
    FunctionCallRecord,
    FunctionResult,
    HistoryAdded,
    HistoryItem,
    InjectAgentText,
    InjectionRefused,
    InjectUserText,
    KeepAlive,
    ListenUpdated,
    PromptUpdated,
    SettingsApplied,
    SpeakUpdated,
    ThinkSettings,
    ThinkUpdated,
    UpdateListen,
    UpdatePrompt,
    UpdateSpeak,
    UpdateThink,
    UserAudio,
    UserStartedSpeaking,
    Warning,
    WarningCode,
    Welcome,
)
from voicewire.quoting import excerpt
from voicewire.server.clock import Clock, MonotonicClock
from voicewire.server.config import ServerConfig
from voicewire.server.configuration import (
    Pipeline,
    SettingsRejected,
    Thinker,
    check_function_specs,
    choose_thinker,
    choose_voice,
    configure,
    prompt_limit_text,
)
from voicewire.server.early_audio import EarlyAudio
from voicewire.server.functions import MAX_RESULT_CHARS, FunctionRunner
from voicewire.server.idle import IdleWatchdog
from voicewire.server.incremental_stt import IncrementalStt
from voicewire.server.interruptions import is_interruption
from voicewire.server.limits import inject_limit_problem, instructions_problem, result_chars
from voicewire.server.metrics import ReplyKind, SessionObserver, TurnMetrics
from voicewire.server.outbox import Outbox
from voicewire.server.reply import Reply
from voicewire.server.sentences import SentenceSplitter
from voicewire.server.speculation import PreparedReply, Speculation
from voicewire.server.thinking import think
from voicewire.server.turns import (
    ShortSoundPaused,
    SpeechCheckpoint,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnDiscarded,
    TurnEnded,
    TurnEvent,
)

logger = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Answer in one or two short sentences."


class State(enum.Enum):
    AWAITING_SETTINGS = "awaiting_settings"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    SPEAKING = "speaking"
    WAITING_FOR_FUNCTION = "waiting_for_function"


class Session:
    def __init__(
        self,
        config: ServerConfig,
        engines: EngineRegistry,
        outbox: Outbox,
        *,
        clock: Clock | None = None,
        session_id: str | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        self.id = session_id or str(uuid.uuid4())
        self.observer = observer or SessionObserver()
        self.state = State.AWAITING_SETTINGS
        #: The conversation without the system prompt, as the LLM reads it.
        self.history: list[ChatMessage] = []
        #: The most recent replies, oldest first (see `metrics.TurnMetrics`).
        self.metrics: collections.deque[TurnMetrics] = collections.deque(maxlen=config.metrics_history)
        self.instructions = DEFAULT_INSTRUCTIONS
        self._config = config
        self._engines = engines
        self._clock = clock or MonotonicClock()
        self._outbox = outbox
        self._functions = FunctionRunner(
            allowlist=config.function_call_allowlist,
            timeout=config.function_call_timeout_s,
            send=self._outbox.send,
            report=self._error,
            clock=self._clock,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = IdleWatchdog(
            self._clock, config.idle_timeout_s, self._on_idle, busy=lambda: self._reply is not None
        )
        self._early_audio = EarlyAudio(config.pre_settings_audio_bytes)
        self._early_overflowed = False
        #: Set by the settings.
        self._pipeline: Pipeline | None = None
        self._send_history = False
        # The turn in progress:
        self._speech_started_at: float | None = None
        self._reply: Reply | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._function_pending = False
        self._carry: tuple[FloatAudio, float] | None = None
        self._speculation = Speculation()
        #: A short sound over the agent in which STT heard a word: promoted at the next audio frame.
        self._promote: ShortSoundPaused | None = None
        #: The transcription of the latest short sound over the agent (one at a time: a client making noises
        #: cannot queue work for the shared STT model).
        self._word_check: asyncio.Task[None] | None = None
        self._ahead: asyncio.Task[Transcript | None] | None = None

    # -- life cycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Greet the client and start the writer and the idle watchdog."""
        # Tasks spawned from here on (turns, replies) tell this session when a remote engine fell back.
        fallback_listener.set(
            lambda text: self._outbox.send(Warning(WarningCode.REMOTE_ENGINE_FALLBACK, text))
        )
        self._outbox.send(Welcome(self.id))
        self._spawn(self._outbox.run())
        self._spawn(self._idle.run())

    async def aclose(self) -> None:
        """Cancel everything the session runs; safe to call more than once."""
        if self._reply is not None:
            self._reply.interrupt()
        self._reply = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._functions.aclose()
        await self._release_thinker()

    # -- input ---------------------------------------------------------------------------------------------

    async def handle(self, command: Command) -> None:
        """Handle one client command. The connection awaits each one, so commands take effect in order."""
        self._idle.touch()
        try:
            await self._handle(command)
        except Exception:
            self._failed(type(command).__name__)

    async def audio(self, data: bytes) -> None:
        """`handle(UserAudio(data))` without the command and its dispatch, for the frame every session
        receives 50 times a second."""
        self._idle.touch()
        try:
            await self._audio(data)
        except Exception:
            self._failed(UserAudio.__name__)

    def _failed(self, command: str) -> None:
        """In an `except` block: a bug met while handling a client's command; the session goes on."""
        logger.exception("session %s: unexpected error handling %s", self.id, command)
        self._error(ErrorCode.INTERNAL_SERVER_ERROR, "The server failed to handle the last message")

    def reject(self, problem: CommandError) -> None:
        """A client frame that could not be read: the client is told, and the session goes on."""
        self._idle.touch()
        self._error(problem.code, problem.description)

    async def _handle(self, command: Command) -> None:
        pipeline = self._pipeline
        if pipeline is None and not isinstance(command, Configure | KeepAlive | UserAudio):
            self._error(
                ErrorCode.NON_SETTINGS_MESSAGE_BEFORE_SETTINGS,
                f"{type(command).__name__} arrived before the settings; send the settings first",
            )
            return
        match command:
            case UserAudio(data):
                await self._audio(data)
            case Configure(settings):
                self._apply_settings(settings)
                if self._early_audio and self._pipeline is not None:
                    for frame in self._early_audio.take():
                        await self.handle(UserAudio(frame))
            case KeepAlive():
                pass
            case UpdatePrompt(text):
                prompt = f"{self.instructions}\n{text}".strip()
                if self._prompt_fits(prompt):
                    self.instructions = prompt
                    self._outbox.send(PromptUpdated())
            case UpdateSpeak(providers):
                assert pipeline is not None
                try:
                    pipeline.voice = choose_voice(providers, self._engines)
                except SettingsRejected as exc:
                    self._error(exc.code, f"{exc.description}; the voice was not changed")
                    return
                self._outbox.send(SpeakUpdated())
            case UpdateThink(think_settings):
                await self._update_think(think_settings)
            case UpdateListen(listen):
                assert pipeline is not None
                pipeline.stt = IncrementalStt(self._engines.stt_for(listen.model))
                pipeline.keyterms = listen.keyterms
                self._outbox.send(ListenUpdated())
            case InjectAgentText(text):
                self._inject(text)
            case InjectUserText(text):
                self._user_text(text)
            case FunctionResult(call_id, content):
                if not self._functions.resolve(call_id, content):
                    self._error(
                        ErrorCode.UNKNOWN_FUNCTION_CALL_ID,
                        f"No function call with id {excerpt(call_id)} is waiting for a response",
                    )
            case _:
                assert_never(command)

    async def _audio(self, data: bytes) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            if self._early_audio.add(data) and not self._early_overflowed:
                self._early_overflowed = True
                self._outbox.send(
                    Warning(
                        WarningCode.AUDIO_BUFFER_OVERFLOW,
                        f"Over {self._early_audio.limit} bytes of audio arrived before the settings; "
                        "the oldest was dropped",
                    )
                )
            return
        samples = pipeline.decoder.feed(data)  # whole VAD windows: none from 2 in 5 frames of 20 ms
        if not len(samples):
            return
        pipeline.detector.agent_speaking = self.state is State.SPEAKING  # barge-in needs more speech
        arrived = self._clock.now()  # before the push, which may await the end-of-turn model
        if self._promote is not None:  # between pushes: the detector is never changed inside one
            sound, self._promote = self._promote, None
            for event in pipeline.detector.interrupt_now(sound):
                self._on_turn_event(event, arrived)
        for event in await pipeline.detector.push(samples):
            self._on_turn_event(event, arrived)

    def _time_at(self, position: int, arrived: float) -> float:
        """The clock time at which sample `position` arrived, the latest having arrived at `arrived`."""
        assert self._pipeline is not None
        latest = self._pipeline.detector.position + self._pipeline.decoder.held
        return arrived - (latest - position) / ENGINE_SAMPLE_RATE

    def _on_turn_event(self, event: TurnEvent, arrived: float) -> None:
        if isinstance(event, SpeechStarted):
            self.user_started_speaking(self._time_at(event.position, arrived))
        elif isinstance(event, SpeechPaused):
            self.user_paused(event.utterance)
        elif isinstance(event, SpeechResumed):
            self._speculation.cancel()
        elif isinstance(event, SpeechCheckpoint):
            self._transcribe_ahead(event.utterance)
        elif isinstance(event, ShortSoundPaused):
            if self._word_check is not None:
                self._word_check.cancel()
            self._word_check = self._spawn(self._listen_for_a_word(event))
        elif isinstance(event, TurnEnded):
            self.user_stopped_speaking(event.utterance, self._time_at(event.speech_end, arrived))
        elif isinstance(event, TurnDiscarded):
            self.user_turn_discarded()

    # -- settings and mid-conversation updates -------------------------------------------------------------

    def _apply_settings(self, settings: AgentSettings) -> None:
        if self._pipeline is not None:
            self._error(ErrorCode.SETTINGS_ALREADY_APPLIED, "Settings were already applied to this session")
            return
        try:
            pipeline = configure(settings, self._engines, self._config)
        except SettingsRejected as exc:
            self._error(exc.code, exc.description)
            return
        self._pipeline = pipeline
        self._functions.max_result_chars = result_chars(pipeline.thinker.llm, MAX_RESULT_CHARS)
        self._send_history = settings.history
        if settings.think.prompt:
            self.instructions = settings.think.prompt
        self._functions.set_functions(settings.think.functions)
        self.history = _bounded(list(_chat_messages(settings.context)), self._config.max_history_messages)
        self._outbox.send(SettingsApplied())
        for notice in pipeline.warnings:
            self._outbox.send(notice)
        self._to(State.LISTENING)
        logger.info(
            "session %s: configured (voice %s, %d functions)",
            self.id,
            pipeline.voice.voice,
            len(settings.think.functions),
        )
        if settings.replay and self.history and self.history[-1].role == "assistant":
            self._speak("replay", self.history[-1].content, record=False)
        elif settings.greeting:
            self._speak("greeting", settings.greeting, record=True)

    async def _update_think(self, think: ThinkSettings) -> None:
        assert self._pipeline is not None
        try:
            check_function_specs(think.functions)
            thinker = choose_thinker(think.providers, self._engines, self._config)
        except SettingsRejected as exc:
            self._error(exc.code, f"{exc.description}; think was not changed")
            return
        if think.prompt is not None and not self._prompt_fits(think.prompt, thinker):
            if thinker.owned:
                await _close(thinker)
            return
        await self._release_thinker()
        self._pipeline.thinker = thinker
        self.instructions = think.prompt or self.instructions
        self._functions.max_result_chars = result_chars(thinker.llm, MAX_RESULT_CHARS)
        self._functions.set_functions(think.functions)
        self._outbox.send(ThinkUpdated())
        if thinker.fallback_notice is not None:
            self._outbox.send(Warning(WarningCode.PROVIDER_FALLBACK, thinker.fallback_notice))

    def _prompt_fits(self, prompt: str, thinker: Thinker | None = None) -> bool:
        """Each message is bounded by the frame limit, but appended updates would grow the prompt forever;
        and a prompt the model's context cannot hold would fail every later turn."""
        if len(prompt.encode("utf-8")) > self._config.max_instructions_bytes:
            self._error(ErrorCode.INVALID_SETTINGS, prompt_limit_text(self._config))
            return False
        thinker = thinker or (self._pipeline.thinker if self._pipeline is not None else None)
        if thinker is not None and (problem := instructions_problem(thinker.llm, prompt)):
            self._error(ErrorCode.INVALID_SETTINGS, problem)
            return False
        return True

    def _inject(self, text: str) -> None:
        if not text.strip():
            self._error(ErrorCode.UNPARSABLE_CLIENT_MESSAGE, "InjectAgentMessage.message is empty")
        elif problem := inject_limit_problem("InjectAgentMessage.message", text, self._config):
            self._error(ErrorCode.UNPARSABLE_CLIENT_MESSAGE, problem)
        elif self.state is State.LISTENING:
            self._speak("inject", text, record=True)
        elif (
            self.state in (State.THINKING, State.WAITING_FOR_FUNCTION)
            and self._reply
            and self._reply.accepting
        ):
            for sentence in _sentences(text):
                self._reply.say(sentence)
        else:
            speaker = "user" if self.state is State.USER_SPEAKING else "agent"
            self._outbox.send(InjectionRefused(f"The {speaker} is speaking; try again when they stop"))

    def _user_text(self, text: str) -> None:
        """A user turn given as text: answered like a transcript (see the module docstring)."""
        if not text.strip():
            self._error(ErrorCode.UNPARSABLE_CLIENT_MESSAGE, "InjectUserMessage.content is empty")
            return
        if problem := inject_limit_problem("InjectUserMessage.content", text, self._config):
            self._error(ErrorCode.UNPARSABLE_CLIENT_MESSAGE, problem)
            return
        if self.state is State.USER_SPEAKING:
            self._outbox.send(InjectionRefused("The user is speaking; try again when they stop"))
            return
        if self._reply is not None:
            self._interrupt_reply()
        now = self._clock.now()
        reply = self._new_reply(TurnMetrics("text", transcript_ready=now, transcript=text), origin=now)
        self._to(State.THINKING)
        self._start_reply(reply, functools.partial(self._answer_text, reply, text.strip()))

    # -- transitions -------------------------------------------------------------------------------------

    def _to(self, state: State) -> None:
        if state is not self.state:
            logger.debug("session %s: %s -> %s", self.id, self.state.value, state.value)
            self.state = state

    def user_started_speaking(self, at: float) -> None:
        self._outbox.send(UserStartedSpeaking())
        self._speech_started_at = at
        if self._reply is not None:
            self._interrupt_reply()
        self._to(State.USER_SPEAKING)

    def user_paused(self, utterance: FloatAudio) -> None:
        """Speculative STT: transcribe what the turn will be if the user stays silent; and answer it, held."""
        if not self._config.turns.speculative_stt or self._carry is not None or self._pipeline is None:
            return
        speculation = self._speculation
        speculation.cancel()
        speculation.transcript = self._spawn(self._speculate(self._pipeline.stt, utterance))
        if self._config.turns.speculative_reply:
            reply = self._make_reply(TurnMetrics("user"), origin=self._clock.now(), held=True)
            reply.utterance = utterance
            body = functools.partial(self._answer_user, reply, utterance, speculation.transcript)
            task = self._spawn(self._run_reply(reply, body))
            speculation.prepared = PreparedReply(reply, task, self._basis())

    def _transcribe_ahead(self, utterance: FloatAudio) -> None:
        """Long speech without a pause: STT finishes a segment of it now (`incremental_stt`), so the end of
        the turn transcribes only the rest. One at a time; the result waits in the session's recogniser."""
        if self._pipeline is None or (self._ahead is not None and not self._ahead.done()):
            return
        self._ahead = self._spawn(self._speculate(self._pipeline.stt, utterance))

    def _basis(self) -> tuple[object, ...]:
        """What a prepared reply reads, which must not be replaced before it is released."""
        assert self._pipeline is not None
        return (self.history, self.instructions, self._pipeline.voice, self._pipeline.thinker)

    def _release_prepared(self, prepared: PreparedReply, speech_end: float) -> None:
        """The turn ended as the reply prepared at its last pause assumed: it becomes the turn's reply."""
        reply = prepared.reply
        metrics = reply.metrics
        metrics.speech_started = self._speech_started_at
        metrics.speech_ended = speech_end
        metrics.turn_ended = self._clock.now()
        metrics.speculative_reply_used = True
        reply.origin = speech_end
        self.metrics.append(metrics)
        self._reply, self._reply_task = reply, prepared.task
        self._to(State.THINKING)
        reply.release(not_before=speech_end + self._config.turns.speculative_reply_delay_ms / 1000)

    def user_stopped_speaking(self, utterance: FloatAudio, speech_end: float) -> None:
        if self._carry is None:
            if prepared := self._speculation.take_prepared(utterance, self._basis()):
                self._release_prepared(prepared, speech_end)
                return
            speculative = self._speculation.take_transcript()
        else:  # the carried audio comes first: what was transcribed at the pause is not the turn
            self._speculation.cancel()
            speculative = None
            carried, _ = self._carry
            self._carry = None
            longest = self._config.turns.max_utterance_ms * ENGINE_SAMPLE_RATE // 1000
            utterance = np.concatenate((carried, utterance))[-longest:]
        metrics = TurnMetrics(
            "user",
            speech_started=self._speech_started_at,
            speech_ended=speech_end,
            turn_ended=self._clock.now(),
        )
        reply = self._new_reply(metrics, origin=speech_end)
        reply.utterance = utterance
        self._to(State.THINKING)
        self._start_reply(reply, functools.partial(self._answer_user, reply, utterance, speculative))

    def user_turn_discarded(self) -> None:
        self._speculation.cancel()
        if self._carry is not None:
            utterance, speech_end = self._carry
            self._carry = None
            self.user_stopped_speaking(utterance, speech_end)
        else:
            self._to(State.LISTENING)

    def agent_started_speaking(self, reply: Reply) -> None:
        if reply is self._reply:
            self._to(State.SPEAKING)

    def agent_audio_done(self, reply: Reply, *, final: bool) -> None:
        if reply is not self._reply:
            return
        if final:
            self.reply_finished(reply)
        else:
            self._to(State.WAITING_FOR_FUNCTION if self._function_pending else State.THINKING)

    def function_calls_started(self, reply: Reply) -> None:
        if reply is self._reply:
            self._function_pending = True
            if self.state is State.THINKING:
                self._to(State.WAITING_FOR_FUNCTION)

    def function_calls_finished(self, reply: Reply) -> None:
        if reply is self._reply:
            self._function_pending = False
            if self.state is State.WAITING_FOR_FUNCTION:
                self._to(State.THINKING)

    def speak_failed(self, reply: Reply, description: str) -> None:
        self._reply_error(reply, ErrorCode.SPEAK_REQUEST_FAILED, description)

    def _reply_error(self, reply: Reply, code: ErrorCode, description: str) -> None:
        """An error of `reply`, told the client if it is the current reply (once released, if held)."""

        def report() -> None:
            if reply is self._reply:
                self._error(code, description)

        reply.when_released(report)

    def reply_finished(self, reply: Reply) -> None:
        if reply is self._reply:
            self._reply = None
            self._reply_task = None
            self._function_pending = False
            self._to(State.LISTENING)

    # -- replies -------------------------------------------------------------------------------------------

    def _new_reply(self, metrics: TurnMetrics, *, origin: float, record: bool = True) -> Reply:
        self.metrics.append(metrics)
        return self._make_reply(metrics, origin=origin, record=record)

    def _make_reply(
        self, metrics: TurnMetrics, *, origin: float, record: bool = True, held: bool = False
    ) -> Reply:
        """A reply not (yet) in `metrics`: a held one joins them if it is released."""
        assert self._pipeline is not None
        return Reply(
            metrics,
            origin=origin,
            clock=self._clock,
            outbox=self._outbox,
            options=self._pipeline.reply_options,
            voice=self._current_voice,
            listener=self,
            record=record,
            held=held,
        )

    def _current_voice(self) -> VoiceChoice:
        assert self._pipeline is not None
        return self._pipeline.voice

    def _start_reply(self, reply: Reply, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """`body` is a factory, not a coroutine: a task cancelled before it starts must not leak one."""
        self._reply = reply
        self._reply_task = self._spawn(self._run_reply(reply, body))

    def _interrupt_reply(self) -> None:
        reply, task = self._reply, self._reply_task
        assert reply is not None and task is not None
        self._reply = None
        self._reply_task = None
        self._function_pending = False
        reply.interrupt()
        self.observer.barge_in(self.id)
        if reply.metrics.kind == "user" and not reply.transcript_committed and reply.utterance is not None:
            self._carry = (reply.utterance, reply.origin)
        self._commit(reply)
        task.cancel()

    def _speak(self, kind: ReplyKind, text: str, *, record: bool) -> None:
        now = self._clock.now()
        reply = self._new_reply(TurnMetrics(kind), origin=now, record=record)
        self._to(State.THINKING)
        self._start_reply(reply, functools.partial(self._say_all, reply, text))

    async def _say_all(self, reply: Reply, text: str) -> None:
        async with reply.running():
            for sentence in _sentences(text):
                reply.say(sentence)

    async def _run_reply(self, reply: Reply, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await body()
        except Exception:
            logger.exception("session %s: reply failed", self.id)
            self._reply_error(
                reply, ErrorCode.INTERNAL_SERVER_ERROR, "The server failed while preparing a reply"
            )
        finally:
            if reply.released:  # a held reply never released leaves no trace
                self._commit(reply)
                logger.debug("session %s: turn metrics %s", self.id, json.dumps(reply.metrics.to_dict()))
                self.observer.turn_finished(self.id, reply.metrics)
                self.reply_finished(reply)

    def _commit(self, reply: Reply) -> None:
        """Add what the client received to the history, once."""
        if not reply.committed:
            reply.committed = True
            self._remember(reply.history())

    def _remember(self, messages: list[ChatMessage]) -> None:
        self.history = _bounded([*self.history, *messages], self._config.max_history_messages)
        if self._send_history:
            for item in _history_items(messages, self._functions.client_side):
                self._outbox.send(HistoryAdded(item))

    async def _answer_user(
        self,
        reply: Reply,
        utterance: FloatAudio,
        speculative: asyncio.Task[Transcript | None] | None,
    ) -> None:
        assert self._pipeline is not None
        pipeline = self._pipeline
        async with reply.running():
            try:
                transcript = await speculative if speculative is not None else None
                reply.metrics.speculative_stt_used = transcript is not None
                if transcript is None:
                    transcript = await pipeline.stt.transcribe(utterance, keyterms=pipeline.keyterms)
            except EngineError as exc:
                self._reply_error(reply, ErrorCode.INTERNAL_SERVER_ERROR, f"Speech recognition failed: {exc}")
                return
            finally:
                if speculative is not None and not speculative.done():
                    speculative.cancel()
            now = self._clock.now()
            text = transcript.text.strip()
            reply.metrics.transcript_ready = now
            reply.metrics.transcript = text
            if not text:
                return
            reply.text_origin = now
            await self._respond(reply, text, pipeline.thinker)

    async def _answer_text(self, reply: Reply, text: str) -> None:
        assert self._pipeline is not None
        async with reply.running():
            await self._respond(reply, text, self._pipeline.thinker)

    async def _respond(self, reply: Reply, text: str, thinker: Thinker) -> None:
        """The user said `text`: the LLM answers into `reply`; the words enter the history at its release."""
        messages = [ChatMessage("system", self.instructions), *self.history, ChatMessage("user", text)]
        reply.when_released(functools.partial(self._user_said, reply, text))
        if not reply.released:
            when_model_wanted.set(functools.partial(self._give_up_prepared, reply))
        try:
            await think(
                reply,
                llm=thinker.llm,
                model=thinker.model,
                messages=messages,
                tools=self._functions.tools,
                functions=self._functions,
                clock=self._clock,
                max_rounds=self._config.max_tool_rounds,
            )
        except EngineError as exc:
            self._reply_error(reply, ErrorCode.THINK_REQUEST_FAILED, f"The language model failed: {exc}")

    def _give_up_prepared(self, reply: Reply) -> None:
        """Another call waits for the LLM that `reply`, prepared and held, keeps paused (`speculation`)."""
        prepared = self._speculation.prepared
        if prepared is not None and prepared.reply is reply and not reply.released:
            self._speculation.drop_prepared()
            logger.debug("session %s: a prepared reply gave the LLM up to another call", self.id)

    def _user_said(self, reply: Reply, text: str) -> None:
        reply.transcript_committed = True
        self._outbox.send(ConversationText("user", text))
        self._remember([ChatMessage("user", text)])
        logger.info("session %s: user turn (%d characters)", self.id, len(text))

    async def _speculate(self, stt: SpeechToText, utterance: FloatAudio) -> Transcript | None:
        """A transcript that may be thrown away; a failure just means STT runs again at the end of turn."""
        assert self._pipeline is not None
        try:
            return await stt.transcribe(utterance, keyterms=self._pipeline.keyterms)
        except EngineError as exc:
            logger.debug("session %s: speculative STT failed: %s", self.id, exc)
            return None

    async def _listen_for_a_word(self, sound: ShortSoundPaused) -> None:
        """A sound over the agent too short to interrupt it by its length interrupts it if STT hears in it
        a word people cut in with ("Stop." does, "Mm-hmm." does not: `interruptions`)."""
        assert self._pipeline is not None
        try:
            transcript = await self._pipeline.stt.transcribe(sound.utterance)
        except EngineError as exc:
            logger.debug("session %s: STT of a short sound failed: %s", self.id, exc)
            return
        if is_interruption(transcript.text) and self.state is State.SPEAKING:
            logger.debug("session %s: %r over the agent interrupts it", self.id, transcript.text)
            self._promote = sound

    async def _release_thinker(self) -> None:
        """Close an LLM engine made for this session (a client's own endpoint)."""
        thinker = self._pipeline.thinker if self._pipeline is not None else None
        if thinker is not None and thinker.owned:
            await _close(thinker)

    # -- plumbing ------------------------------------------------------------------------------------------

    def _error(self, code: ErrorCode, description: str) -> None:
        logger.info("session %s: %s: %s", self.id, code.value, description)
        self._outbox.send(Error(code, description))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _remote_engine_fell_back(self, description: str) -> None:
        self._outbox.send(Warning(WarningCode.REMOTE_ENGINE_FALLBACK, description))

    def _on_idle(self) -> None:
        self._error(
            ErrorCode.CLIENT_MESSAGE_TIMEOUT,
            f"No audio or message for {self._idle.timeout:g} s; send KeepAlive while there is no audio",
        )
        self._outbox.close(1000, "idle timeout")


async def _close(thinker: Thinker) -> None:
    close = getattr(thinker.llm, "aclose", None)
    if close is not None:
        await close()


def _bounded(history: list[ChatMessage], limit: int) -> list[ChatMessage]:
    """The newest `limit` messages at most, starting at a user message, so no tool result loses its call.

    A client can add to the history without end (injected turns, replies); the LLM only ever reads the end
    of it that fits its context, so older messages are dropped rather than kept in memory.
    """
    if len(history) <= limit:
        return history
    kept = history[-limit:]
    start = next((i for i, message in enumerate(kept) if message.role == "user"), len(kept))
    return kept[start:]


def _chat_messages(items: Iterable[HistoryItem]) -> Iterable[ChatMessage]:
    """Restored history as the LLM reads it: function calls become an assistant tool call and its results."""
    for item in items:
        if not item.function_calls:
            yield ChatMessage("user" if item.role == "user" else "assistant", item.content)
            continue
        calls = [ToolCall(c.id, c.name, c.arguments) for c in item.function_calls]
        yield ChatMessage("assistant", "", tool_calls=calls)
        for record in item.function_calls:
            yield ChatMessage("tool", record.response, tool_call_id=record.id)


def _history_items(messages: list[ChatMessage], client_side: Callable[[str], bool]) -> Iterable[HistoryItem]:
    """The inverse of `_chat_messages`, for `History` events."""
    results = {m.tool_call_id: m.content for m in messages if m.role == "tool"}
    for message in messages:
        if message.role == "tool":
            continue
        if message.content:
            yield HistoryItem(message.role, message.content)
        if message.tool_calls:
            yield HistoryItem(
                function_calls=tuple(
                    FunctionCallRecord(c.id, c.name, c.arguments, results.get(c.id, ""), client_side(c.name))
                    for c in message.tool_calls
                )
            )


def _sentences(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return [*splitter.push(text), *splitter.flush()]
