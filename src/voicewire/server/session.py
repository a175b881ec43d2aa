"""One client connection as an explicit state machine.

States and what moves between them (each arrow is one method below):

    AWAITING_SETTINGS --settings_applied--> LISTENING
    LISTENING / THINKING / SPEAKING / WAITING_FOR_FUNCTION --user_started_speaking--> USER_SPEAKING
        (a reply in flight is interrupted: its audio stops, its unsent text is forgotten)
    USER_SPEAKING --user_stopped_speaking--> THINKING      (STT, then the LLM)
    USER_SPEAKING --user_turn_discarded--> LISTENING       (too little speech: noise)
    LISTENING --inject / replay--> THINKING                (a given text is spoken)
    THINKING --function_calls_started--> WAITING_FOR_FUNCTION --function_calls_finished--> THINKING
    THINKING / WAITING_FOR_FUNCTION --agent_started_speaking--> SPEAKING
    SPEAKING --agent_audio_done--> THINKING / WAITING_FOR_FUNCTION (more to come) or LISTENING (final)
    THINKING / WAITING_FOR_FUNCTION --reply_finished--> LISTENING  (nothing to say, or a failure)

Client messages and audio are handled synchronously as they arrive (`on_text`, `on_audio`), so a barge-in
takes effect before the next frame is read. A reply runs as one task (`_run_reply`) whose audio stages live
in `Reply`. Nothing a client sends may escape as an exception: each message is guarded and unexpected errors
become `INTERNAL_SERVER_ERROR`, after which the session goes on.

Injection: accepted while LISTENING (spoken as its own reply) and while THINKING or WAITING_FOR_FUNCTION
(spoken in order within the reply being prepared, e.g. "one moment" during a function call); refused with
`InjectionRefused` while the user speaks or agent audio is in flight.

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
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from voicewire.audio import UnsupportedAudioFormat
from voicewire.engines.base import (
    ENGINE_SAMPLE_RATE,
    ChatMessage,
    EngineError,
    FloatAudio,
    LanguageModel,
    SpeechToText,
    Transcript,
)
from voicewire.engines.fallback import fallback_listener
from voicewire.engines.registry import EngineRegistry, UnknownModelError, VoiceChoice
from voicewire.protocol import (
    AgentKeepAlive,
    ConversationTextResponse,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    InjectionRefusedResponse,
    InstructionsUpdatedResponse,
    KeytermsNotSupportedError,
    Model,
    ProtocolError,
    SettingsAppliedResponse,
    SettingsConfigurationOptions,
    SpeakUpdatedResponse,
    UnknownMessageTypeError,
    UpdateInstructionsOptions,
    UpdateSpeakOptions,
    UserStartedSpeakingResponse,
    WelcomeResponse,
    decode_client_message,
)
from voicewire.server.audio_io import InputDecoder, InputFormat, OutputFormat
from voicewire.server.clock import Clock, MonotonicClock
from voicewire.server.config import ServerConfig
from voicewire.server.errors import ErrorCode, WarningCode, error, warning
from voicewire.server.functions import FunctionRunner
from voicewire.server.metrics import ReplyKind, TurnMetrics
from voicewire.server.outbox import Outbox, Transport
from voicewire.server.reply import Reply, ReplyOptions
from voicewire.server.sentences import SentenceSplitter
from voicewire.server.thinking import think
from voicewire.server.turns import (
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    TurnDetector,
    TurnDiscarded,
    TurnEnded,
    TurnEvent,
)

logger = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Answer in one or two short sentences."
#: What a 3.11 client sends for `context.messages` given as dicts: only the keys survived (protocol.md §1.8).
_CORRUPTED_CONTEXT_PAIR = ("role", "content")
_CONTEXT_ROLES = ("user", "assistant")


class State(enum.Enum):
    AWAITING_SETTINGS = "awaiting_settings"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    SPEAKING = "speaking"
    WAITING_FOR_FUNCTION = "waiting_for_function"


class _SettingsRejected(Exception):
    def __init__(self, code: ErrorCode, description: str) -> None:
        super().__init__(description)
        self.code = code


class Session:
    def __init__(
        self,
        config: ServerConfig,
        engines: EngineRegistry,
        transport: Transport,
        *,
        clock: Clock | None = None,
        session_id: str | None = None,
    ) -> None:
        self.id = session_id or str(uuid.uuid4())
        self.state = State.AWAITING_SETTINGS
        #: The conversation without the system prompt, as the LLM reads it.
        self.history: list[ChatMessage] = []
        #: The most recent replies, oldest first (see `metrics.TurnMetrics`).
        self.metrics: collections.deque[TurnMetrics] = collections.deque(maxlen=config.metrics_history)
        self.instructions = DEFAULT_INSTRUCTIONS
        self._config = config
        self._engines = engines
        self._clock = clock or MonotonicClock()
        self._outbox = Outbox(transport)
        self._functions = FunctionRunner(
            allowlist=config.function_call_allowlist,
            timeout=config.function_call_timeout_s,
            send=self._outbox.send,
            report=self._error,
            clock=self._clock,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_activity = self._clock.now()
        self._early_audio: collections.deque[bytes] = collections.deque()
        self._early_bytes = 0
        self._early_overflowed = False
        # Set by the settings:
        self._decoder: InputDecoder | None = None
        self._detector: TurnDetector | None = None
        self._reply_options: ReplyOptions | None = None
        self._stt: SpeechToText | None = None
        self._llm: LanguageModel | None = None
        self._llm_model: str | None = None
        self._voice: VoiceChoice | None = None
        self._keyterms: tuple[str, ...] = ()
        # The turn in progress:
        self._speech_started_at: float | None = None
        self._reply: Reply | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._function_pending = False
        self._carry: tuple[FloatAudio, float] | None = None
        self._speculative: asyncio.Task[Transcript | None] | None = None

    # -- life cycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Greet the client and start the writer and the idle watchdog."""
        self._outbox.send(WelcomeResponse(session_id=self.id))
        # Tasks spawned from here on (turns, replies) tell this session when a remote engine fell back.
        fallback_listener.set(
            lambda text: self._outbox.send(warning(WarningCode.REMOTE_ENGINE_FALLBACK, text))
        )
        self._spawn(self._outbox.run())
        self._spawn(self._watch_idle())

    async def aclose(self) -> None:
        """Cancel everything the session runs; safe to call more than once."""
        if self._reply is not None:
            self._reply.interrupt()
        self._reply = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._functions.aclose()

    # -- input ---------------------------------------------------------------------------------------------

    async def receive(self, message: str | bytes) -> None:
        """Handle one client message. The connection awaits each one, so messages take effect in order."""
        if isinstance(message, str):
            self.on_text(message)
            if self._early_audio and self._detector is not None:
                await self._replay_early_audio()
        else:
            await self.on_audio(message)

    def on_text(self, text: str) -> None:
        self._last_activity = self._clock.now()
        try:
            self._handle_text(text)
        except Exception:
            logger.exception("session %s: unexpected error handling a message", self.id)
            self._error(ErrorCode.INTERNAL_SERVER_ERROR, "The server failed to handle the last message")

    async def on_audio(self, data: bytes) -> None:
        self._last_activity = self._clock.now()
        try:
            await self._handle_audio(data)
        except Exception:
            logger.exception("session %s: unexpected error handling audio", self.id)
            self._error(ErrorCode.INTERNAL_SERVER_ERROR, "The server failed to process the last audio frame")

    def _handle_text(self, text: str) -> None:
        size = len(text.encode("utf-8"))
        if size > self._config.max_text_frame_bytes:
            self._error(
                ErrorCode.UNPARSABLE_CLIENT_MESSAGE,
                f"Text message of {size} bytes ignored (limit: {self._config.max_text_frame_bytes} bytes)",
            )
            return
        try:
            message = decode_client_message(text)
        except UnknownMessageTypeError as exc:
            self._error(ErrorCode.UNPARSABLE_CLIENT_MESSAGE, str(exc))
            return
        except ProtocolError as exc:
            settings = exc.message_type == "SettingsConfiguration"
            code = ErrorCode.INVALID_SETTINGS if settings else ErrorCode.UNPARSABLE_CLIENT_MESSAGE
            self._error(code, str(exc))
            return
        self._dispatch(message)

    def _dispatch(self, message: Model) -> None:
        if isinstance(message, SettingsConfigurationOptions):
            self._apply_settings(message)
        elif isinstance(message, AgentKeepAlive):
            pass
        elif self.state is State.AWAITING_SETTINGS:
            self._error(
                ErrorCode.NON_SETTINGS_MESSAGE_BEFORE_SETTINGS,
                f"{type(message).__name__} arrived before SettingsConfiguration; send the settings first",
            )
        elif isinstance(message, UpdateInstructionsOptions):
            instructions = f"{self.instructions}\n{message.instructions}".strip()
            if self._instructions_too_long(instructions):
                return
            self.instructions = instructions
            self._outbox.send(InstructionsUpdatedResponse())
        elif isinstance(message, UpdateSpeakOptions):
            self._update_speak(message.model)
        elif isinstance(message, InjectAgentMessageOptions):
            self._inject(message.message)
        elif isinstance(message, FunctionCallResponse):
            self._function_call_response(message)

    async def _handle_audio(self, data: bytes) -> None:
        if self._decoder is None or self._detector is None:
            self._buffer_early_audio(data)
            return
        events = await self._detector.push(self._decoder.feed(data))
        now = self._clock.now()
        for event in events:
            self._on_turn_event(event, now)

    def _buffer_early_audio(self, data: bytes) -> None:
        """Keep audio sent before the settings (the 3.11 microphone may start first), within a bound."""
        self._early_audio.append(data)
        self._early_bytes += len(data)
        limit = self._config.pre_settings_audio_bytes
        while self._early_bytes > limit and self._early_audio:
            self._early_bytes -= len(self._early_audio.popleft())
            if not self._early_overflowed:
                self._early_overflowed = True
                self._outbox.send(
                    warning(
                        WarningCode.AUDIO_BUFFER_OVERFLOW,
                        f"Over {limit} bytes of audio arrived before the settings; the oldest was dropped",
                    )
                )

    async def _replay_early_audio(self) -> None:
        """Audio that arrived before the settings, in its order, once the settings say how to decode it."""
        early, self._early_audio, self._early_bytes = self._early_audio, collections.deque(), 0
        for chunk in early:
            await self.on_audio(chunk)

    def _time_at(self, position: int, now: float) -> float:
        """The clock time at which sample `position` arrived, given that the latest one arrived `now`."""
        assert self._detector is not None
        return now - (self._detector.position - position) / ENGINE_SAMPLE_RATE

    def _on_turn_event(self, event: TurnEvent, now: float) -> None:
        if isinstance(event, SpeechStarted):
            self.user_started_speaking(self._time_at(event.position, now))
        elif isinstance(event, SpeechPaused):
            self.user_paused(event.utterance)
        elif isinstance(event, SpeechResumed):
            self._cancel_speculative()
        elif isinstance(event, TurnEnded):
            self.user_stopped_speaking(event.utterance, self._time_at(event.speech_end, now))
        elif isinstance(event, TurnDiscarded):
            self.user_turn_discarded()

    # -- settings and mid-conversation updates -------------------------------------------------------------

    def _apply_settings(self, settings: SettingsConfigurationOptions) -> None:
        if self.state is not State.AWAITING_SETTINGS:
            self._error(ErrorCode.SETTINGS_ALREADY_APPLIED, "Settings were already applied to this session")
            return
        try:
            self._configure(settings)
        except _SettingsRejected as exc:
            self._error(exc.code, str(exc))
            return
        self._outbox.send(SettingsAppliedResponse())
        self.settings_applied()
        context = settings.context
        if context is not None and context.replay and self.history and self.history[-1].role == "assistant":
            self._speak("replay", self.history[-1].content, record=False)

    def _configure(self, settings: SettingsConfigurationOptions) -> None:
        """Check everything first, then commit, so rejected settings leave the session untouched."""
        agent = settings.agent
        try:
            settings.check()
            input_format = InputFormat.from_settings(settings.audio.input)
            output_format = OutputFormat.from_settings(settings.audio.output)
        except KeytermsNotSupportedError as exc:
            raise _SettingsRejected(ErrorCode.INVALID_SETTINGS, str(exc)) from exc
        except UnsupportedAudioFormat as exc:
            raise _SettingsRejected(
                ErrorCode.USER_AUDIO_FORMAT, f"Audio format not supported: {exc}"
            ) from exc
        try:
            voice = self._engines.voice_for(agent.speak.model)
        except UnknownModelError as exc:
            raise _SettingsRejected(ErrorCode.INVALID_SETTINGS, str(exc)) from exc
        if agent.think.instructions and self._instructions_too_long(agent.think.instructions):
            raise _SettingsRejected(ErrorCode.INVALID_SETTINGS, self._instructions_limit_text())
        history = _context_history(settings)
        self._decoder = InputDecoder(input_format)
        self._detector = TurnDetector(self._engines.new_vad(), self._config.turns)
        self._reply_options = ReplyOptions(
            output_format, self._config.output_pacing, self._config.output_chunk_ms
        )
        self._stt = self._engines.stt_for(agent.listen.model)
        self._keyterms = tuple(agent.listen.keyterms or ())
        self._llm = self._engines.llm_for(agent.think.provider.type, agent.think.model)
        self._llm_model = agent.think.model
        self._voice = voice
        if agent.think.instructions:
            self.instructions = agent.think.instructions
        self._functions.set_functions(agent.think.functions or [])
        self.history = history

    def _instructions_too_long(self, instructions: str) -> bool:
        """Each message is bounded by the frame limit, but appended updates would grow the prompt forever."""
        if len(instructions.encode("utf-8")) <= self._config.max_instructions_bytes:
            return False
        if self.state is not State.AWAITING_SETTINGS:
            self._error(ErrorCode.INVALID_SETTINGS, self._instructions_limit_text())
        return True

    def _instructions_limit_text(self) -> str:
        limit = self._config.max_instructions_bytes
        return f"Instructions would exceed {limit} bytes; they were left unchanged"

    def _update_speak(self, model: str) -> None:
        try:
            self._voice = self._engines.voice_for(model or None)
        except UnknownModelError as exc:
            self._error(ErrorCode.INVALID_SETTINGS, f"{exc}; the voice was not changed")
            return
        self._outbox.send(SpeakUpdatedResponse())

    def _function_call_response(self, message: FunctionCallResponse) -> None:
        if not self._functions.resolve(message.function_call_id, message.output):
            self._error(
                ErrorCode.UNKNOWN_FUNCTION_CALL_ID,
                f"No function call with id {message.function_call_id!r} is waiting for a response",
            )

    def _inject(self, text: str) -> None:
        if not text.strip():
            self._error(ErrorCode.UNPARSABLE_CLIENT_MESSAGE, "InjectAgentMessage.message is empty")
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
            self._outbox.send(InjectionRefusedResponse())

    # -- transitions -------------------------------------------------------------------------------------

    def _to(self, state: State) -> None:
        if state is not self.state:
            logger.debug("session %s: %s -> %s", self.id, self.state.value, state.value)
            self.state = state

    def settings_applied(self) -> None:
        self._to(State.LISTENING)

    def user_started_speaking(self, at: float) -> None:
        self._outbox.send(UserStartedSpeakingResponse())
        self._speech_started_at = at
        if self._reply is not None:
            self._interrupt_reply()
        self._to(State.USER_SPEAKING)

    def user_paused(self, utterance: FloatAudio) -> None:
        """Speculative STT: transcribe what the turn will be if the user stays silent."""
        if self._config.turns.speculative_stt and self._carry is None and self._stt is not None:
            self._cancel_speculative()
            self._speculative = self._spawn(self._speculate(self._stt, utterance))

    def user_stopped_speaking(self, utterance: FloatAudio, speech_end: float) -> None:
        speculative, self._speculative = self._speculative, None
        if self._carry is not None:
            carried, _ = self._carry
            self._carry = None
            longest = self._config.turns.max_utterance_ms * ENGINE_SAMPLE_RATE // 1000
            utterance = np.concatenate((carried, utterance))[-longest:]
            if speculative is not None:
                speculative.cancel()
                speculative = None
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
        self._cancel_speculative()
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
        if reply is self._reply:
            self._error(ErrorCode.SPEAK_REQUEST_FAILED, description)

    def reply_finished(self, reply: Reply) -> None:
        if reply is self._reply:
            self._reply = None
            self._reply_task = None
            self._function_pending = False
            self._to(State.LISTENING)

    # -- replies -------------------------------------------------------------------------------------------

    def _new_reply(self, metrics: TurnMetrics, *, origin: float, record: bool = True) -> Reply:
        assert self._reply_options is not None
        self.metrics.append(metrics)
        return Reply(
            metrics,
            origin=origin,
            clock=self._clock,
            outbox=self._outbox,
            options=self._reply_options,
            voice=self._current_voice,
            listener=self,
            record=record,
        )

    def _current_voice(self) -> VoiceChoice:
        assert self._voice is not None
        return self._voice

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
            if reply is self._reply:
                self._error(ErrorCode.INTERNAL_SERVER_ERROR, "The server failed while preparing a reply")
        finally:
            self._commit(reply)
            logger.debug("session %s: turn metrics %s", self.id, json.dumps(reply.metrics.to_dict()))
            self.reply_finished(reply)

    def _commit(self, reply: Reply) -> None:
        """Add what the client received to the history, once."""
        if not reply.committed:
            reply.committed = True
            self.history.extend(reply.history())

    async def _answer_user(
        self,
        reply: Reply,
        utterance: FloatAudio,
        speculative: asyncio.Task[Transcript | None] | None,
    ) -> None:
        assert self._stt is not None and self._llm is not None
        async with reply.running():
            try:
                transcript = await speculative if speculative is not None else None
                reply.metrics.speculative_stt_used = transcript is not None
                if transcript is None:
                    transcript = await self._stt.transcribe(utterance, keyterms=self._keyterms)
            except EngineError as exc:
                self._error(ErrorCode.INTERNAL_SERVER_ERROR, f"Speech recognition failed: {exc}")
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
            reply.transcript_committed = True
            self._outbox.send(ConversationTextResponse(role="user", content=text))
            self.history.append(ChatMessage("user", text))
            messages = [ChatMessage("system", self.instructions), *self.history]
            try:
                await think(
                    reply,
                    llm=self._llm,
                    model=self._llm_model,
                    messages=messages,
                    tools=self._functions.tools,
                    functions=self._functions,
                    clock=self._clock,
                    max_rounds=self._config.max_tool_rounds,
                )
            except EngineError as exc:
                self._error(ErrorCode.THINK_REQUEST_FAILED, f"The language model failed: {exc}")

    async def _speculate(self, stt: SpeechToText, utterance: FloatAudio) -> Transcript | None:
        """A transcript that may be thrown away; a failure just means STT runs again at the end of turn."""
        try:
            return await stt.transcribe(utterance, keyterms=self._keyterms)
        except EngineError as exc:
            logger.debug("session %s: speculative STT failed: %s", self.id, exc)
            return None

    def _cancel_speculative(self) -> None:
        if self._speculative is not None:
            self._speculative.cancel()
            self._speculative = None

    # -- plumbing ------------------------------------------------------------------------------------------

    def _error(self, code: ErrorCode, description: str) -> None:
        logger.info("session %s: %s: %s", self.id, code.value, description)
        self._outbox.send(error(code, description))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _watch_idle(self) -> None:
        timeout = self._config.idle_timeout_s
        while True:
            remaining = self._last_activity + timeout - self._clock.now()
            if remaining <= 0:
                self._error(
                    ErrorCode.CLIENT_MESSAGE_TIMEOUT,
                    f"No audio or message for {timeout:g} s; send KeepAlive while there is no audio",
                )
                self._outbox.close(1000, "idle timeout")
                return
            await self._clock.sleep(remaining)


def _context_history(settings: SettingsConfigurationOptions) -> list[ChatMessage]:
    if settings.context is None:
        return []
    history: list[ChatMessage] = []
    for role, content in settings.context.turns():
        if (role, content) == _CORRUPTED_CONTEXT_PAIR:
            logger.debug("skipping a context message corrupted by deepgram-sdk 3.11")
            continue
        if role not in _CONTEXT_ROLES:
            raise _SettingsRejected(
                ErrorCode.INVALID_SETTINGS, f"context.messages: unknown role {role!r} (use user or assistant)"
            )
        history.append(ChatMessage("user" if role == "user" else "assistant", content))
    return history


def _sentences(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return [*splitter.push(text), *splitter.flush()]
