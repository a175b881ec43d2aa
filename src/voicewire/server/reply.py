"""One agent reply as two concurrent stages: sentences → TTS → paced audio on the wire.

Whoever produces the text (the LLM loop in `thinking`, an injected message, a replayed one) calls `say` per
sentence. The synthesis stage turns each sentence into client-format frames while the sender stage is still
sending the previous one; so the LLM, TTS and the wire all overlap. Synthesis runs at most
`AUDIO_AHEAD_SECONDS` of audio ahead of the paced sender, so a long reply is never held in memory whole.

On the wire a reply is bracketed per *segment*: `ConversationText(assistant)` → `AgentStartedSpeaking` →
binary frames (with `ConversationText` before each later sentence) → `AgentAudioDone`. A reply that calls a
function closes its segment before the call, and the text after the call opens a new one.

A reply may be *held*: prepared while the user may still go on (speculatively, during the end-of-turn wait),
it runs the LLM and TTS for its first piece but nothing reaches the client, no function runs and nothing
enters the history until `release()`; what must happen at the release (the user's words sent and recorded)
is registered with `when_released`. A held reply that is never released is cancelled with no trace.

The reply keeps a log of its sentences and tool exchanges. After a barge-in, `history()` returns only what
the client actually received: a sentence counts once any of its audio was sent (so the sentence being spoken
when the user cut in is kept whole); sentences synthesised but never sent, and tool calls without results,
are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from voicewire.engines.base import ChatMessage, EngineError, FloatAudio, ToolCall
from voicewire.engines.registry import VoiceChoice
from voicewire.protocol.agent import AgentAudio, AgentAudioDone, AgentStartedSpeaking, ConversationText
from voicewire.server.audio_io import OutputFormat, Pacer, SentenceEncoder
from voicewire.server.clock import Clock
from voicewire.server.metrics import TurnMetrics
from voicewire.server.outbox import Outbox
from voicewire.server.speakable import speakable

logger = logging.getLogger(__name__)


class ReplyListener(Protocol):
    """The session's transitions that a reply triggers; each takes the reply to ignore stale ones."""

    def agent_started_speaking(self, reply: Reply) -> None: ...

    def agent_audio_done(self, reply: Reply, *, final: bool) -> None: ...

    def function_calls_started(self, reply: Reply) -> None: ...

    def function_calls_finished(self, reply: Reply) -> None: ...

    def speak_failed(self, reply: Reply, description: str) -> None: ...


@dataclasses.dataclass(eq=False)
class Sentence:
    text: str
    ready_at: float
    #: When the first frame of its audio was ready.
    audio_at: float | None = None
    #: Some of its audio was handed to the connection.
    sent: bool = False


@dataclasses.dataclass(eq=False)
class ToolExchange:
    calls: list[ToolCall]
    #: None until every call has a result.
    results: list[str] | None = None


class _Marker(enum.Enum):
    END_SEGMENT = "end_segment"
    FINISH = "finish"


#: Synthesised audio the synthesis stage may run ahead of the sender, in seconds: enough to keep the wire
#: fed while TTS makes the next piece, without holding a whole long reply in memory.
AUDIO_AHEAD_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class ReplyOptions:
    output: OutputFormat
    pacing: float
    chunk_ms: int

    @property
    def frames_ahead(self) -> int:
        return max(1, round(AUDIO_AHEAD_SECONDS * 1000 / self.chunk_ms))


class Reply:
    def __init__(
        self,
        metrics: TurnMetrics,
        *,
        origin: float,
        clock: Clock,
        outbox: Outbox,
        options: ReplyOptions,
        voice: Callable[[], VoiceChoice],
        listener: ReplyListener,
        record: bool = True,
        held: bool = False,
    ) -> None:
        self.metrics = metrics
        #: Reference point of `total_latency` (end of user speech, or when a message was injected).
        self.origin = origin
        #: Reference point of `ttt_latency` (transcript ready); until then, `origin`.
        self.text_origin = origin
        #: Whether `history()` should report this reply (a replayed message is already in the history).
        self.record = record
        #: The user's utterance this reply answers, until its words are in the history.
        self.utterance: FloatAudio | None = None
        #: The user's words are in the history; a barge-in can no longer carry them into the next turn.
        self.transcript_committed = False
        #: The session has taken `history()` into the conversation.
        self.committed = False
        self.listener = listener
        self.log: list[Sentence | ToolExchange] = []
        self._clock = clock
        self._outbox = outbox
        self._options = options
        self._voice = voice
        self._sentences: asyncio.Queue[Sentence | _Marker] = asyncio.Queue()
        self._frames: asyncio.Queue[tuple[Sentence, bytes] | _Marker] = asyncio.Queue(options.frames_ahead)
        self._finishing = False
        self._interrupted = False
        #: Set once the first piece has audio, or cannot get any (failed, interrupted, reply over).
        self._first_audio = asyncio.Event()
        self._released = asyncio.Event()
        #: When the client may first hear it: audio ready earlier waited for this.
        self._released_at = clock.now()
        self._on_release: list[Callable[[], None]] = []
        if not held:
            self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def when_released(self, action: Callable[[], None]) -> None:
        """Run `action` at the release, or now if the reply is not held (any more)."""
        if self._released.is_set():
            action()
        else:
            self._on_release.append(action)

    def release(self, *, not_before: float | None = None) -> None:
        """The turn ended as the held reply assumed: what it prepared may reach the client, its audio from
        clock time `not_before` on if that is later."""
        if self._released.is_set():
            return
        now = self._clock.now()
        self._released_at = now if not_before is None else max(now, not_before)
        self._released.set()
        actions, self._on_release = self._on_release, []
        for action in actions:
            action()

    async def wait_released(self) -> None:
        await self._released.wait()

    @property
    def accepting(self) -> bool:
        """Whether `say` will still be spoken."""
        return not self._finishing and not self._interrupted

    def say(self, text: str) -> None:
        """Speak `text` after what was said before; marks a voice cannot say are left out (`speakable`)."""
        text = speakable(text)
        if not text:
            return
        sentence = Sentence(text, self._clock.now())
        self.log.append(sentence)
        self._sentences.put_nowait(sentence)

    def end_segment(self) -> None:
        """Send `AgentAudioDone` once the audio queued so far is out (before a function call)."""
        self._sentences.put_nowait(_Marker.END_SEGMENT)

    def add_tool_exchange(self, calls: list[ToolCall]) -> ToolExchange:
        exchange = ToolExchange(calls)
        self.log.append(exchange)
        self.metrics.tool_calls += len(calls)
        return exchange

    async def first_audio(self) -> None:
        """Until the first piece has audio (at once after that), and the reply is released.

        The LLM waits here after its first piece: on 2 cores, Piper took 0.65 s instead of 0.27 s for a
        9-word piece while the model went on generating, and the first audio decides the latency. A held
        reply prepares no more than that first piece: if the user goes on, little work is thrown away.
        """
        await self._first_audio.wait()
        await self._released.wait()

    def interrupt(self) -> None:
        """Barge-in: stop sending at once, even before the tasks see their cancellation."""
        self._first_audio.set()
        self._interrupted = True
        self.metrics.interrupted = True
        self._outbox.drop_audio()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the audio stages around the body; on normal exit, wait until everything said was sent."""
        task = asyncio.create_task(self._run())
        try:
            yield
            self._finishing = True
            self._sentences.put_nowait(_Marker.FINISH)
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def history(self) -> list[ChatMessage]:
        """What the client received, as history messages (see the module docstring)."""
        if not self.record:
            return []
        messages: list[ChatMessage] = []
        spoken: list[str] = []
        for entry in self.log:
            if isinstance(entry, Sentence):
                if entry.sent:
                    spoken.append(entry.text)
            elif entry.results is not None:
                messages.append(ChatMessage("assistant", " ".join(spoken), tool_calls=list(entry.calls)))
                messages.extend(
                    ChatMessage("tool", result, tool_call_id=call.id)
                    for call, result in zip(entry.calls, entry.results, strict=True)
                )
                spoken = []
        if spoken:
            messages.append(ChatMessage("assistant", " ".join(spoken)))
        return messages

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._synthesize())
            group.create_task(self._send())

    async def _synthesize(self) -> None:
        try:
            while True:
                item = await self._sentences.get()
                if isinstance(item, Sentence):
                    if not self._interrupted:
                        await self._synthesize_sentence(item)
                    self._first_audio.set()  # spoken or failed, the first piece is through TTS
                    continue
                await self._frames.put(item)
                if item is _Marker.FINISH:
                    return
        finally:
            self._first_audio.set()

    async def _synthesize_sentence(self, sentence: Sentence) -> None:
        choice = self._voice()
        encoder = SentenceEncoder(self._options.output, choice.engine.sample_rate, self._options.chunk_ms)
        try:
            stream = choice.engine.synthesize(sentence.text, voice=choice.voice)
            try:
                async for pcm in stream:
                    await self._queue_frames(sentence, encoder.feed(pcm))
                    if self._interrupted:
                        break
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()
            await self._queue_frames(sentence, encoder.flush())
        except EngineError as exc:
            self.listener.speak_failed(self, f"Speech synthesis failed for {sentence.text!r}: {exc}")

    async def _queue_frames(self, sentence: Sentence, frames: list[bytes]) -> None:
        """Waits while `frames_ahead` frames are not yet sent, which pauses synthesis too."""
        for frame in frames:
            if sentence.audio_at is None:
                sentence.audio_at = self._clock.now()
                self._first_audio.set()
            await self._frames.put((sentence, frame))

    async def _send(self) -> None:
        await self._released.wait()
        if (early := self._released_at - self._clock.now()) > 0:
            await self._clock.sleep(early)
        pacer = Pacer(self._clock, self._options.pacing)
        output = self._options.output
        current: Sentence | None = None
        segment_open = False
        while True:
            item = await self._frames.get()
            if isinstance(item, _Marker):
                if segment_open and not self._interrupted:
                    self._outbox.send(AgentAudioDone())
                    segment_open = False
                    if item is _Marker.FINISH:
                        self.metrics.audio_done = self._clock.now()
                    self.listener.agent_audio_done(self, final=item is _Marker.FINISH)
                if item is _Marker.FINISH:
                    return
                continue
            sentence, frame = item
            if self._interrupted:
                continue
            if sentence is not current:
                current = sentence
                self._outbox.send(ConversationText("assistant", sentence.text))
                if not segment_open:
                    segment_open = True
                    self._open_segment(sentence)
            await pacer.wait()
            if self._interrupted:
                continue
            sentence.sent = True
            if not await self._outbox.send_audio(frame):
                continue
            pacer.sent(output.duration(frame))

    def _open_segment(self, sentence: Sentence) -> None:
        audio_at = sentence.audio_at if sentence.audio_at is not None else self._clock.now()
        audio_at = max(audio_at, self._released_at)  # prepared ahead, it was ready when released
        if self.metrics.first_audio is None:
            self.metrics.first_sentence = sentence.ready_at
            self.metrics.first_audio = audio_at
        self._outbox.send(
            AgentStartedSpeaking(
                total_latency=max(0.0, audio_at - self.origin),
                tts_latency=max(0.0, audio_at - sentence.ready_at),
                ttt_latency=max(0.0, sentence.ready_at - self.text_origin),
            )
        )
        header = self._options.output.header()
        if header is not None:
            self._outbox.send(AgentAudio(header))
        self.listener.agent_started_speaking(self)
