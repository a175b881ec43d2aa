"""What every benchmark shares: the flood peer, stats, tables, JSON output, speech cutting, process probes.

Kept in one module so that the three benchmarks measure with the same ruler: the same percentile definition,
the same speech-onset/offset threshold, the same peer.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import multiprocessing
import os
import re
import socket
import struct
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from voicewire.audio import read_wav, resample

SHARED_AUDIO: Final = Path(
    os.environ.get("VOICEWIRE_SHARED_AUDIO", Path(__file__).resolve().parents[1] / "tests" / "data" / "audio")
)
PREAMBLE: Final = SHARED_AUDIO / "preamble-22k-linear16.wav"
TESTING: Final = SHARED_AUDIO / "testing-8k-mulaw.wav"

RATE: Final = 16_000
FRAME_MS: Final = 20
FRAME_SAMPLES: Final = RATE * FRAME_MS // 1000

Pcm = npt.NDArray[np.int16]


# --------------------------------------------------------------------------------------------------- CLI


def parser(description: str) -> argparse.ArgumentParser:
    """Every benchmark takes `--json PATH` and `--quick` (the tiny run the smoke test uses)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to this JSON file")
    p.add_argument("--quick", action="store_true", help="a tiny run that only checks the benchmark works")
    return p


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    payload = {"machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def machine() -> dict[str, Any]:
    """Figures are meaningless without the box: record cores, CPU model and Python."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": sys.version.split()[0]}


# --------------------------------------------------------------------------------------------------- stats


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), NaN when there is nothing to rank."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


# --------------------------------------------------------------------------------------------------- tables


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 1
) -> None:
    """A plain aligned table: the output is meant to be pasted into issues and commit messages."""
    cells = [[fmt(v, digits) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    first = [True] + [False] * (len(headers) - 1)
    print(f"\n{title}")
    print(
        "  ".join(
            h.ljust(w) if left else h.rjust(w) for h, w, left in zip(headers, widths, first, strict=True)
        )
    )
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(
            "  ".join(
                c.ljust(w) if left else c.rjust(w) for c, w, left in zip(row, widths, first, strict=True)
            )
        )


# --------------------------------------------------------------------------------------------------- peer

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFLATE_RESPONSE: Final = (
    b"Sec-WebSocket-Extensions: permessage-deflate; "
    b"server_no_context_takeover; client_no_context_takeover\r\n"
)
AUDIO_FRAME_BYTES: Final = 3_200


def server_text_messages() -> list[str]:
    """One of each message a 3.11-dialect server sends, with realistic field sizes."""
    messages: list[dict[str, Any]] = [
        {"type": "Welcome", "session_id": "8b6a6f2e-3c1d-4e52-9f4e-2f0c1d5b7a90"},
        {"type": "SettingsApplied"},
        {"type": "UserStartedSpeaking"},
        {
            "type": "ConversationText",
            "role": "user",
            "content": "Hi, my internet has been down since this morning.",
        },
        {"type": "AgentThinking", "content": "The user reports an outage; check the line status first."},
        {"type": "FunctionCalling"},
        {
            "type": "FunctionCallRequest",
            "function_name": "check_line_status",
            "function_call_id": "call_0f3b2a",
            "input": '{"account_id": "A-10293", "since": "08:00"}',
        },
        {"type": "AgentStartedSpeaking", "total_latency": 0.812, "tts_latency": 0.104, "ttt_latency": 0.261},
        {"type": "ConversationText", "role": "assistant", "content": "I'm sorry to hear that. Let me check."},
        {"type": "AgentAudioDone"},
        {"type": "InjectionRefused"},
        {"type": "InstructionsUpdated"},
        {"type": "SpeakUpdated"},
        {"type": "Warning", "description": "Audio arrived faster than real time.", "code": "AUDIO_FAST"},
        {"type": "Error", "message": "Unknown message type", "description": "Unknown message type 'Foo'"},
    ]
    return [json.dumps(m, separators=(",", ":")) for m in messages]


def _frame(payload: bytes, opcode: int, deflate: bool = False) -> bytes:
    if deflate:
        # permessage-deflate without context takeover: each message is compressed on its own (RFC 7692 7.2.1).
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        payload = (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    first = 0x80 | (0x40 if deflate else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + payload


def speech_like_audio(size: int) -> bytes:
    """Noisy int16 samples: agent audio compresses about as badly as this, which matters with deflate."""
    rng = np.random.default_rng(0)
    tone = 3000 * np.sin(np.arange(size // 2) * 2 * np.pi * 220 / RATE)
    return (tone + rng.normal(0, 300, size // 2)).astype(np.int16).tobytes()


def flood_blob(count: int, deflate: bool = False) -> bytes:
    """`count` server frames: alternately a text message (every type in turn) and 3,200 audio bytes."""
    texts = [_frame(t.encode(), 0x1, deflate) for t in server_text_messages()]
    audio = _frame(speech_like_audio(AUDIO_FRAME_BYTES), 0x2, deflate)
    return b"".join(texts[(i // 2) % len(texts)] if i % 2 == 0 else audio for i in range(count))


def _recv_until(conn: socket.socket, marker: bytes) -> tuple[bytes, bytes]:
    data = b""
    while marker not in data:
        chunk = conn.recv(65_536)
        if not chunk:
            raise ConnectionError("client left during the handshake")
        data += chunk
    head, _, rest = data.partition(marker)
    return head, rest


def _serve_flood(listener: socket.socket, blobs: dict[bool, bytes]) -> None:
    close = _frame(struct.pack("!H", 1000), 0x8)
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                request, rest = _recv_until(conn, b"\r\n\r\n")
                key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", request)
                if key is None:
                    continue
                accept = base64.b64encode(hashlib.sha1(key.group(1) + _GUID).digest())
                deflate = len(blobs) > 1 and re.search(
                    rb"(?im)^sec-websocket-extensions:.*permessage-deflate", request
                )
                extension = _DEFLATE_RESPONSE if deflate else b""
                conn.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept + b"\r\n" + extension + b"\r\n"
                )
                blob = blobs[bool(deflate)]
                # The client's first frame (its settings) is the start signal, as for a real server.
                if not rest and not conn.recv(65_536):
                    continue
                conn.sendall(blob)
                conn.sendall(close)
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(10)
                while conn.recv(65_536):
                    pass
            except OSError:
                continue


def _flood_main(port_pipe: Any, count: int, deflate: bool, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    blobs = {False: flood_blob(count)}
    if deflate:
        blobs[True] = flood_blob(count, deflate=True)
    listener = socket.create_server(("127.0.0.1", 0))
    port_pipe.send(listener.getsockname()[1])
    _serve_flood(listener, blobs)


class FloodPeer:
    """A WebSocket peer in its own process that writes pre-encoded frames as fast as the client reads them.

    It speaks just enough RFC 6455 (handshake, unmasked server frames, a 1000 close) for any client: the
    frames are built once, so the peer costs next to nothing per message and never throttles the client.
    By default it negotiates no extension, so no client pays for zlib; with `deflate` it accepts the
    permessage-deflate offer of clients that make one (as a default websockets server would), and then every
    client also pays for inflating each message.
    """

    def __init__(self, count: int, deflate: bool = False, cpu: int | None = None) -> None:
        self.count = count
        self.deflate = deflate
        ctx = multiprocessing.get_context("spawn")
        receiver, sender = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_flood_main, args=(sender, count, deflate, cpu), daemon=True)
        self._process.start()
        self.port: int = receiver.recv()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agent"

    def close(self) -> None:
        self._process.terminate()
        self._process.join()

    def __enter__(self) -> FloodPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------- audio


def load_speech(path: Path = PREAMBLE) -> Pcm:
    """A recording as 16 kHz mono int16, the rate the engines run at."""
    wav = read_wav(path)
    return resample(wav.pcm16(), wav.sample_rate, RATE)


def frame_levels(pcm: Pcm) -> npt.NDArray[np.float64]:
    """dBFS of each 20 ms frame; a partial last frame is dropped."""
    frames = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1)) / 32768.0
    levels: npt.NDArray[np.float64] = 20 * np.log10(rms + 1e-9)
    return levels


# Speech in these recordings sits at -20..-35 dBFS, room noise at -50..-60 dBFS.
SPEECH_DBFS: Final = -42.0


@dataclass(frozen=True)
class Utterance:
    """Speech plus where, in seconds from its first sample, the speaker really stops talking."""

    name: str
    pcm: Pcm
    speech_end: float

    @property
    def duration(self) -> float:
        return len(self.pcm) / RATE


def speech_bounds(pcm: Pcm) -> tuple[float, float]:
    """First and last loud frame, in seconds: the ground truth that latency is measured from."""
    loud = np.flatnonzero(frame_levels(pcm) > SPEECH_DBFS)
    if loud.size == 0:
        return 0.0, 0.0
    return loud[0] * FRAME_MS / 1000, (loud[-1] + 1) * FRAME_MS / 1000


def cut_phrases(pcm: Pcm, min_pause: float = 0.3, min_length: float = 1.0, margin: float = 0.1) -> list[Pcm]:
    """Cut a recording at pauses of at least `min_pause` s into phrases of at least `min_length` s.

    Each phrase keeps `margin` s of the original room tone on both sides, so a VAD sees a natural onset.
    """
    loud = frame_levels(pcm) > SPEECH_DBFS
    pause_frames = round(min_pause * 1000 / FRAME_MS)
    spans: list[list[int]] = []
    quiet = pause_frames
    for i, is_loud in enumerate(loud):
        if is_loud:
            if quiet >= pause_frames or not spans:
                spans.append([i, i + 1])
            else:
                spans[-1][1] = i + 1
            quiet = 0
        else:
            quiet += 1
    merged: list[list[int]] = []
    for span in spans:
        if merged and (merged[-1][1] - merged[-1][0]) * FRAME_MS / 1000 < min_length:
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    pad = round(margin * RATE)
    return [
        pcm[max(0, a * FRAME_SAMPLES - pad) : min(len(pcm), b * FRAME_SAMPLES + pad)]
        for a, b in merged
        if (b - a) * FRAME_MS / 1000 >= min_length
    ]


def frames(pcm: Pcm) -> Iterator[bytes]:
    """20 ms linear16 frames, the last one zero-padded, as a client streams them."""
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % FRAME_SAMPLES, dtype=np.int16)])
    for start in range(0, len(padded), FRAME_SAMPLES):
        yield padded[start : start + FRAME_SAMPLES].tobytes()


# ------------------------------------------------------------------------------------------------- processes


def rss_bytes(pid: int) -> int:
    """Resident set size from /proc, so that no psutil dependency is needed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a whole process (all threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin_apart() -> tuple[int | None, int | None]:
    """Pin this process to the first allowed CPU and return (its CPU, one for a peer process).

    A thread client's I/O thread and listener hand the GIL back and forth; when the scheduler moves them
    between cores the cost per message doubles from one run to the next. One core per side makes the
    figures repeatable. With a single CPU nothing is pinned.
    """
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    os.sched_setaffinity(0, {allowed[0]})
    return allowed[0], allowed[-1]


class Stopwatch:
    """Wall and process-CPU time over a block; the CPU covers every thread of this process."""

    def __enter__(self) -> Stopwatch:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


# --------------------------------------------------------------------------------------------------- callers

QUESTIONS: Final = (
    "Hi, my internet has been down since this morning. What should I do?",
    "I was charged twice on my bill this month. Can you fix that?",
    "What are your opening hours on Saturday?",
    "Can I change the address on my account?",
)


def _utterance(name: str, pcm: Pcm) -> Utterance:
    return Utterance(name, pcm, speech_bounds(pcm)[1])


async def _espeak(text: str) -> Pcm:
    from voicewire.engines.tts_espeak import EspeakTts

    tts = EspeakTts()
    chunks = [chunk async for chunk in tts.synthesize(text)]
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return resample(pcm, tts.sample_rate, RATE)


def espeak_utterance(name: str, text: str) -> Utterance:
    """`text` spoken by eSpeak NG (not the agent's Piper voice), with 200 ms of silence on either side."""
    import asyncio

    quiet = np.zeros(RATE // 5, dtype=np.int16)
    return _utterance(name, np.concatenate([quiet, asyncio.run(_espeak(text)), quiet]))


def test_utterances(espeak: bool = True) -> list[Utterance]:
    """Real speech: the preamble cut at its pauses, "testing 123", and questions in eSpeak NG's voice.

    eSpeak is a different synthesiser from the agent's Piper voice, so the agent does not hear itself.
    """
    preamble = cut_phrases(load_speech(PREAMBLE))
    found = [_utterance(f"preamble {i + 1}", pcm) for i, pcm in enumerate(preamble)]
    found.append(_utterance("testing 123", load_speech(TESTING)))
    if espeak:
        found.extend(espeak_utterance(f"espeak q{i + 1}", question) for i, question in enumerate(QUESTIONS))
    return found


@dataclass
class TurnTiming:
    """Client clock (`time.monotonic`) marks of one turn."""

    speech_end: float = float("nan")
    first_audio: float = float("nan")
    last_audio: float = float("nan")
    user_started: float = float("nan")
    agent_started: dict[str, float] | None = None
    #: ConversationText of the turn, as (role, content): what the server heard and what the agent said;
    #: an Error's description comes as ("error", description).
    texts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return self.first_audio - self.speech_end


class Conversation:
    """One caller on voicewire's async client: speaks an utterance in real time, then silence, and times the
    agent's answer at the client, the way a user hears it.

    A frame is sent when its last sample would have been captured, so the true end of speech is the send time
    of the frame that ends at `Utterance.speech_end`.
    """

    def __init__(self, url: str, settings: Any = None, dialect: str = "early-access") -> None:
        """`settings`: the SettingsConfigurationOptions to start with (default: the defaults); `dialect`: the
        client's protocol, "early-access" (/agent) or "v1" (/v1/agent/converse)."""
        self.url = url
        self.settings = settings
        self.dialect = dialect
        self.timing = TurnTiming()
        self._audio_done: Any = None
        self._client: Any = None
        #: Arrival times of agent audio frames, AgentStartedSpeaking and UserStartedSpeaking, for barge-ins.
        self._audio_log: list[float] = []
        #: Seconds of agent audio in each frame of `_audio_log` (linear16, the output rate of the settings).
        self._audio_seconds: list[float] = []
        self._bytes_per_second = 2 * 16000
        self._started_log: list[float] = []
        self._user_log: list[float] = []

    async def __aenter__(self) -> Conversation:
        import asyncio

        from voicewire.client import AsyncAgentWebSocketClient, ClientOptions
        from voicewire.protocol import AgentWebSocketEvents as Events
        from voicewire.protocol import SettingsConfigurationOptions

        self._audio_done = asyncio.Event()
        options = ClientOptions(api_key="benchmark", url=self.url, options={"dialect": self.dialect})
        settings = self.settings or SettingsConfigurationOptions()
        self._bytes_per_second = 2 * (settings.audio.output.sample_rate or 16000)
        client = AsyncAgentWebSocketClient(options)

        async def on_audio(_: object, data: bytes, **__: object) -> None:
            now = time.monotonic()
            if self.timing.first_audio != self.timing.first_audio:
                self.timing.first_audio = now
            self.timing.last_audio = now
            self._audio_log.append(now)
            self._audio_seconds.append(len(data) / self._bytes_per_second)

        async def on_started(_: object, agent_started_speaking: Any, **__: object) -> None:
            self._started_log.append(time.monotonic())
            self._audio_done.clear()  # AgentAudioDone from now on belongs to this reply
            self.timing.agent_started = {
                "total": agent_started_speaking.total_latency,
                "tts": agent_started_speaking.tts_latency,
                "ttt": agent_started_speaking.ttt_latency,
            }

        async def on_user(_: object, **__: object) -> None:
            now = time.monotonic()
            self._user_log.append(now)
            if self.timing.user_started != self.timing.user_started:
                self.timing.user_started = now

        async def on_done(_: object, **__: object) -> None:
            self._audio_done.set()

        async def on_text(_: object, conversation_text: Any, **__: object) -> None:
            self.timing.texts.append((conversation_text.role, conversation_text.content))

        async def on_error(_: object, error: Any, **__: object) -> None:
            self.timing.texts.append(("error", str(getattr(error, "description", error))))

        client.on(Events.AudioData, on_audio)
        client.on(Events.AgentStartedSpeaking, on_started)
        client.on(Events.UserStartedSpeaking, on_user)
        client.on(Events.AgentAudioDone, on_done)
        client.on(Events.ConversationText, on_text)
        client.on(Events.Error, on_error)
        if not await client.start(settings):
            raise ConnectionError(f"cannot connect to {self.url}")
        self._client = client
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.finish()

    async def speak(self, pcm: Pcm, start: float | None = None) -> list[float]:
        """Stream `pcm` in real time; returns each frame's send time."""
        from voicewire.converse import paced

        sent: list[float] = []
        async for frame in paced(frames(pcm), FRAME_MS / 1000, start):
            await self._client.send(frame)
            sent.append(time.monotonic())
        return sent

    async def silence_until_done(self, limit: float, after: float = 0.0, tail: float = 0.3) -> bool:
        """Keep the microphone open (digital silence) until a reply started after `after` has finished
        playing, plus `tail` s."""
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        start = time.monotonic()
        i = 0
        while time.monotonic() < start + limit:
            await self.speak(silence, start + i * FRAME_MS / 1000)
            i += 1
            started = bool(self._started_log) and self._started_log[-1] > after
            quiet = bool(self._audio_log) and time.monotonic() - self._audio_log[-1] > tail
            if started and quiet and self._audio_done.is_set():
                return True
        return False

    async def _ask(self, utterance: Utterance) -> None:
        self.timing = TurnTiming()
        self._audio_done.clear()
        self._audio_log.clear()
        self._audio_seconds.clear()
        self._started_log.clear()
        self._user_log.clear()
        sent = await self.speak(utterance.pcm)
        last_frame = max(0, round(utterance.speech_end * 1000 / FRAME_MS) - 1)
        self.timing.speech_end = sent[min(last_frame, len(sent) - 1)]

    def _result(self, utterance: Utterance, answered: bool) -> dict[str, Any]:
        return {
            "utterance": utterance.name,
            "answered": answered,
            "latency": self.timing.latency,
            "speech_end_at": self.timing.speech_end,
            "first_audio_at": self.timing.first_audio,
            "agent_started": self.timing.agent_started,
            "heard": " ".join(text for role, text in self.timing.texts if role == "user"),
            "replied": " ".join(text for role, text in self.timing.texts if role == "assistant"),
            "errors": [text for role, text in self.timing.texts if role == "error"],
            "user_turns": sum(1 for role, _ in self.timing.texts if role == "user"),
            "replies_started_early": sum(1 for t in self._started_log if t < self.timing.speech_end),
            # What the caller heard of the agent while still inside the sentence (talked over).
            "agent_audio_inside_s": sum(
                seconds
                for t, seconds in zip(self._audio_log, self._audio_seconds, strict=True)
                if t < self.timing.speech_end
            ),
            "first_audio_after_end": min(
                (t - self.timing.speech_end for t in self._audio_log if t > self.timing.speech_end),
                default=float("nan"),
            ),
        }

    async def turn(self, utterance: Utterance, limit: float = 20.0) -> dict[str, Any]:
        """One user turn; the timing is from the true end of speech to the first agent audio byte."""
        await self._ask(utterance)
        # A reply that started inside the utterance (a turn ended at a pause) is not the answer to wait for.
        return self._result(utterance, await self.silence_until_done(limit, after=self.timing.speech_end))

    async def barge_in(
        self, question: Utterance, interruption: Utterance, after: float = 0.3
    ) -> dict[str, Any]:
        """Ask `question`, then speak `interruption` `after` s into the agent's audio.

        Reaction = the last agent audio byte of the interrupted reply (before the next AgentStartedSpeaking)
        minus the onset of the interrupting speech; 0 if the reply had already ended. It is the server's
        barge-in decision (UserStartedSpeaking, which waits for `turns.barge_in_min_speech_ms` of speech so a
        cough does not stop the agent) plus the stop: decision to last agent audio byte.
        """
        await self._ask(question)
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        start, i = time.monotonic(), 0
        while not self._audio_log or time.monotonic() < self._audio_log[0] + after:
            if time.monotonic() > start + 20.0:
                return {**self._result(question, False), "reaction": float("nan")}
            await self.speak(silence, start + i * FRAME_MS / 1000)
            i += 1
        result = self._result(question, True)
        still_speaking = not self._audio_done.is_set()
        sent = await self.speak(interruption.pcm)
        onset_frame = round(speech_bounds(interruption.pcm)[0] * 1000 / FRAME_MS)
        onset_at = sent[min(onset_frame, len(sent) - 1)] - FRAME_MS / 1000
        await self.silence_until_done(20.0, after=onset_at)
        next_reply = min((t for t in self._started_log if t > onset_at), default=float("inf"))
        last = max((t for t in self._audio_log if t < next_reply), default=onset_at)
        decided = min((t for t in self._user_log if t > onset_at), default=float("nan"))
        result.update(
            reaction=max(0.0, last - onset_at),
            decision=decided - onset_at,
            stop=max(0.0, last - decided),
            agent_was_speaking=still_speaking,
        )
        return result
