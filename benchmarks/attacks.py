"""What one hostile client costs the server: memory, and another session's first audio.

The server runs in its own process with the Piper voice (scripted VAD, STT and LLM). A victim session is
connected and configured; an attacker session sends one `InjectAgentMessage` of `--chars` characters of
unpunctuated words (`--max-inject-chars` is handed to the server so that the text is spoken, not refused).
While Piper works through it, the victim injects one short sentence and the time to its first audio frame is
measured; the server's resident memory is sampled every 20 ms throughout. A second phase floods the server
with text frames that each get an Error while the client reads nothing, and reports the RSS it reached and
how the connection ended (the outbox bound).

    voicewire bench attacks [--chars 20000] [--max-inject-chars 20000] [--json PATH]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from benchmarks.common import parser, rss_bytes, write_json
from benchmarks.server import ServerProcess

SETTINGS = json.dumps({"type": "SettingsConfiguration"})
VICTIM_TEXT = "Hello there, how are you today?"


class RssSampler:
    """The peak resident memory of a process, sampled on a thread."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self._pid = pid
        self._every = every
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.peak = max(self.peak, rss_bytes(self._pid))
            except OSError:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


async def _configured(url: str) -> ClientConnection:
    ws = await connect(url, proxy=None, max_size=None)
    await ws.send(SETTINGS)
    while True:
        message = await ws.recv()
        if isinstance(message, str) and json.loads(message)["type"] == "SettingsApplied":
            return ws


async def _first_audio(ws: ClientConnection, text: str, limit: float) -> float | None:
    """Seconds from injecting `text` to its first audio frame (None if none came within `limit`); then
    reads on until the reply's `AgentAudioDone`, so the next measurement starts clean."""
    started = time.monotonic()
    first: float | None = None
    await ws.send(json.dumps({"type": "InjectAgentMessage", "message": text}))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    first = first if first is not None else time.monotonic() - started
                elif json.loads(message)["type"] == "AgentAudioDone":
                    return first
    return first


async def _drain(ws: ClientConnection) -> None:
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass


async def long_text(url: str, chars: int, pid: int) -> dict[str, Any]:
    victim = await _configured(url)
    alone = await _first_audio(victim, VICTIM_TEXT, 30)
    attacker = await _configured(url)
    words = ("word" + str(n % 1000) for n in range(chars))
    text = " ".join(words)[:chars]
    rss_before = rss_bytes(pid)
    sampler = RssSampler(pid)
    await attacker.send(json.dumps({"type": "InjectAgentMessage", "message": text}))
    reader = asyncio.create_task(_drain(attacker))
    await asyncio.sleep(0.5)  # Piper is busy with the attacker's text
    during = await _first_audio(victim, VICTIM_TEXT, 60)
    await asyncio.sleep(3.0)
    closing = time.monotonic()
    async with asyncio.timeout(30):
        await attacker.close()  # the reader goes on draining until the server's close arrives
        await victim.close()
    reader.cancel()
    close_s = time.monotonic() - closing
    peak = sampler.stop()
    return {
        "chars": chars,
        "rss_before_bytes": rss_before,
        "rss_peak_bytes": peak,
        "victim_first_audio_alone_s": alone,
        "victim_first_audio_during_attack_s": during,
        "close_s": close_s,
    }


async def slow_reader(url: str, pid: int, frames: int) -> dict[str, Any]:
    """Bad frames that each earn an Error, from a client that never reads its socket."""
    ws = await connect(url, proxy=None, max_queue=1)
    rss_before = rss_bytes(pid)
    sampler = RssSampler(pid)
    bad = json.dumps({"type": "x" * 200_000})
    sent = 0
    started = time.monotonic()
    try:
        for _ in range(frames):
            await asyncio.wait_for(ws.send(bad), 5)
            sent += 1
    except (ConnectionClosed, TimeoutError, OSError):
        pass
    elapsed = time.monotonic() - started
    await asyncio.sleep(1.0)
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(5.0):  # what the server sent, unless it closed the connection
            async for _ in ws:
                pass
    close_code = ws.close_code
    peak = sampler.stop()
    return {
        "frames_sent": sent,
        "seconds": elapsed,
        "rss_before_bytes": rss_before,
        "rss_peak_bytes": peak,
        "close_code": close_code,
    }


def main(argv: list[str] | None = None) -> int:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--chars", type=int, default=20_000, help="length of the attacker's text")
    options.add_argument("--max-inject-chars", type=int, default=None, help="the server's max_inject_chars")
    options.add_argument("--flood-frames", type=int, default=100, help="bad frames in the slow-reader phase")
    args = options.parse_args(argv)
    if args.max_inject_chars is not None:
        os.environ["VOICEWIRE_MAX_INJECT_CHARS"] = str(args.max_inject_chars)
    server = ServerProcess("piper")
    try:
        time.sleep(0.5)
        idle = rss_bytes(server.pid)
        text = asyncio.run(long_text(server.url, args.chars, server.pid))
        print(f"long text: {text}", flush=True)
        flood = asyncio.run(slow_reader(server.url, server.pid, args.flood_frames))
        print(f"slow reader: {flood}", flush=True)
    finally:
        server.close()
    mib = 1024 * 1024
    print(f"server idle RSS: {idle / mib:.0f} MiB")
    print(
        f"long text ({text['chars']} chars, unpunctuated): RSS {text['rss_before_bytes'] / mib:.0f} → peak "
        f"{text['rss_peak_bytes'] / mib:.0f} MiB; another session's first audio "
        f"{_s(text['victim_first_audio_alone_s'])} alone, {_s(text['victim_first_audio_during_attack_s'])} "
        f"during the attack; closing both took {text['close_s']:.2f} s"
    )
    print(
        f"slow reader ({flood['frames_sent']} bad frames of 200 KB in {flood['seconds']:.1f} s, "
        "nothing read): "
        f"RSS {flood['rss_before_bytes'] / mib:.0f} → peak {flood['rss_peak_bytes'] / mib:.0f} MiB; "
        f"closed with {flood['close_code']}"
    )
    write_json(
        args.json, {"benchmark": "attacks", "idle_rss_bytes": idle, "long_text": text, "slow_reader": flood}
    )
    return 0


def _s(value: float | None) -> str:
    return "none within the limit" if value is None else f"{value:.2f} s"
