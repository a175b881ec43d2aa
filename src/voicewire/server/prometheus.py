"""The server's counters and latency histograms in Prometheus' text format (`GET /metrics`).

Each `AgentServer` has its own `CollectorRegistry`, so servers run in one process (tests, `converse`) do not
count into each other. Latencies come from the `TurnMetrics` of each finished reply (seconds, see
`metrics.py`); errors and warnings are counted by code as sessions send them, whichever part of the server
sent them and whether or not the client's dialect has a message for them. Each finished turn is also logged
at INFO with its latencies, never with its words.
"""

from __future__ import annotations

import logging
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from voicewire.engines._worker import ENGINE_METRICS
from voicewire.protocol.agent import Error, Event, Warning
from voicewire.server.metrics import SessionObserver, TurnMetrics

logger = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

#: From a fast local turn to one queued behind other sessions on a busy 2-core machine.
LATENCY_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


class ServerMetrics(SessionObserver):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions_active = Gauge("voicewire_sessions_active", "Sessions now connected", registry=r)
        self.sessions = Counter("voicewire_sessions", "Sessions started", registry=r)
        self.sessions_closed = Counter(
            "voicewire_sessions_closed", "Sessions ended, by WebSocket close code", ["code"], registry=r
        )
        self.turns = Counter(
            "voicewire_turns", "Agent replies finished, by what started them", ["kind"], registry=r
        )
        self.barge_ins = Counter("voicewire_barge_ins", "Replies stopped because the user spoke", registry=r)
        self.errors = Counter(
            "voicewire_errors", "Error messages sent to clients, by code", ["code"], registry=r
        )
        self.warnings = Counter(
            "voicewire_warnings", "Warning messages sent to clients, by code", ["code"], registry=r
        )

        def latency(name: str, what: str) -> Histogram:
            return Histogram(name, what, buckets=LATENCY_BUCKETS, registry=r)

        self.voice_to_voice = latency(
            "voicewire_voice_to_voice_seconds", "End of the user's speech to the first agent audio ready"
        )
        self.stt = latency("voicewire_stt_seconds", "End of turn detected to transcript ready")
        self.llm_first_token = latency(
            "voicewire_llm_first_token_seconds", "Transcript ready to the LLM's first token"
        )
        self.first_sentence = latency(
            "voicewire_first_sentence_seconds", "Transcript ready to the reply's first sentence"
        )
        self.tts_first_chunk = latency(
            "voicewire_tts_first_chunk_seconds", "First sentence to its first audio ready"
        )

    def exposition(self) -> bytes:
        """This server's metrics, then the engines' queue waits (shared by every server in the process)."""
        return generate_latest(self.registry) + generate_latest(ENGINE_METRICS)

    def session_started(self, session_id: str) -> None:
        self.sessions.inc()
        self.sessions_active.inc()

    def session_ended(self, session_id: str, close_code: int | None) -> None:
        self.sessions_active.dec()
        self.sessions_closed.labels(code=str(close_code) if close_code is not None else "none").inc()

    def turn_finished(self, session_id: str, turn: TurnMetrics) -> None:
        self.turns.labels(kind=turn.kind).inc()
        first_token = (
            None
            if turn.first_token is None or turn.transcript_ready is None
            else max(0.0, turn.first_token - turn.transcript_ready)
        )
        for histogram, value in (
            (self.voice_to_voice, turn.total_latency if turn.kind == "user" else None),
            (self.stt, turn.stt_latency),
            (self.llm_first_token, first_token),
            (self.first_sentence, turn.ttt_latency if turn.kind == "user" else None),
            (self.tts_first_chunk, turn.tts_latency),
        ):
            if value is not None:
                histogram.observe(value)
        logger.info(
            "session %s turn (%s): voice-to-voice %s, stt %s, llm first token %s, first sentence %s, "
            "tts first chunk %s%s",
            session_id,
            turn.kind,
            _seconds(turn.total_latency),
            _seconds(turn.stt_latency),
            _seconds(first_token),
            _seconds(turn.ttt_latency),
            _seconds(turn.tts_latency),
            ", interrupted" if turn.interrupted else "",
        )

    def barge_in(self, session_id: str) -> None:
        self.barge_ins.inc()

    def event_sent(self, event: Event) -> None:
        if isinstance(event, Error):
            self.errors.labels(code=event.code.value).inc()
        elif isinstance(event, Warning):
            self.warnings.labels(code=event.code.value).inc()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"
