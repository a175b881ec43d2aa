"""The timestamps of one agent reply, kept on the session for benchmarks and the metrics endpoint.

All times are `Clock.now()` values of the session's clock. The latencies reported in `AgentStartedSpeaking`
are derived from them (seconds):

* `total_latency = first_audio - speech_ended`: from the user's last speech (end-of-turn silence included)
  to the first audio of the reply being ready to send;
* `ttt_latency = first_sentence - transcript_ready`: the text-to-text share, from the transcript to the first
  sentence of the reply (LLM time to first sentence, function calls included);
* `tts_latency = first_audio - first_sentence`: the text-to-speech share for that first sentence.

So `total = end-of-turn wait + STT + ttt + tts` and `total >= ttt + tts`. For an injected or replayed message
there is no user speech: the reference point is when the message was accepted, and `ttt` is 0.
`speech_ended` is the detection time minus the silence that ended the turn, i.e. the real end of speech.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from voicewire.protocol.agent import Event

#: What a reply answers: speech, text given as a user turn, or text given to speak (injected, replayed, the
#: greeting).
ReplyKind = Literal["user", "text", "inject", "replay", "greeting"]


@dataclasses.dataclass
class TurnMetrics:
    kind: ReplyKind
    speech_started: float | None = None
    speech_ended: float | None = None
    turn_ended: float | None = None
    transcript_ready: float | None = None
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    audio_done: float | None = None
    transcript: str = ""
    speculative_stt_used: bool = False
    #: The reply was prepared during the end-of-turn wait and released when the turn ended.
    speculative_reply_used: bool = False
    tool_calls: int = 0
    interrupted: bool = False

    @property
    def total_latency(self) -> float | None:
        return _span(self.speech_ended, self.first_audio)

    @property
    def ttt_latency(self) -> float | None:
        return _span(self.transcript_ready, self.first_sentence)

    @property
    def tts_latency(self) -> float | None:
        return _span(self.first_sentence, self.first_audio)

    @property
    def stt_latency(self) -> float | None:
        return _span(self.turn_ended, self.transcript_ready)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(
            total_latency=self.total_latency,
            ttt_latency=self.ttt_latency,
            tts_latency=self.tts_latency,
            stt_latency=self.stt_latency,
        )
        return data


def _span(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start)


class SessionObserver:
    """What a session reports as it goes: a finished reply, a barge-in, an event sent. Does nothing itself.

    The server hands its `ServerMetrics` to each connection; a session on its own (tests) gets this one.
    """

    def turn_finished(self, session_id: str, turn: TurnMetrics) -> None:
        """A reply ended (spoken, interrupted or failed); `turn` is final."""

    def barge_in(self, session_id: str) -> None:
        """The user spoke while a reply was being prepared or spoken, and it was stopped."""

    def event_sent(self, event: Event) -> None:
        """The session sent `event` (whether or not the client's wire format has a message for it)."""
