"""Real-socket helpers: a running `AgentServer` with scripted engines, a client, and a local HTTP service."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from tests.server.timeline import pcm_frame, silence, speech
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, scripted_registry
from voicewire.server import AgentServer, ServerConfig, TurnConfig
from voicewire.server.clock import Clock

#: Every onset interrupts the agent here; the barge-in minimum has its own tests (test_session_turns.py).
FAST_TURNS = TurnConfig(
    end_of_turn_ms=200,
    onset_windows=2,
    min_speech_ms=100,
    tail_ms=100,
    speculative_stt=False,
    barge_in_min_speech_ms=0,
)


def free_port() -> int:
    """A loopback port nobody listens on now (for servers in other processes, which cannot take port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_healthy(port: int) -> None:
    """Until `GET /healthz` on a loopback port answers 200 (a server in another process has its engines);
    callers bound it with `asyncio.timeout`."""
    async with httpx.AsyncClient(trust_env=False) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)


def fast_config(**changes: Any) -> ServerConfig:
    """Loopback, a free port, short turns: a conversation takes a fraction of a second."""
    return ServerConfig(**{"host": "127.0.0.1", "port": 0, "turns": FAST_TURNS, **changes})


def fast_registry(
    *, stt: ScriptedStt | None = None, llm: ScriptedLlm | None = None, tts: ScriptedTts | None = None
) -> EngineRegistry:
    return scripted_registry(stt=stt or ScriptedStt(["hello there"]), llm=llm, tts=tts)


@contextlib.asynccontextmanager
async def running(
    config: ServerConfig | None = None, registry: EngineRegistry | None = None, *, clock: Clock | None = None
) -> AsyncIterator[AgentServer]:
    async with AgentServer(config or fast_config(), registry or fast_registry(), clock=clock) as server:
        yield server


def client(url: str, **kwargs: Any) -> connect:
    return connect(url, proxy=None, open_timeout=5, **kwargs)


#: Longest wait for one expected message; generous, since a miss fails the test anyway.
WAIT = 5.0


async def receive(ws: ClientConnection) -> dict[str, Any] | bytes:
    message = await asyncio.wait_for(ws.recv(), WAIT)
    return message if isinstance(message, bytes) else json.loads(message)


async def receive_until(ws: ClientConnection, wanted: str) -> list[dict[str, Any] | bytes]:
    """Messages up to and including the first of type `wanted`."""
    seen: list[dict[str, Any] | bytes] = []
    async with asyncio.timeout(WAIT):
        while True:
            message = await receive(ws)
            seen.append(message)
            if isinstance(message, dict) and message["type"] == wanted:
                return seen


async def speak(ws: ClientConnection, seconds: float = 0.4, pause: float = 0.4) -> None:
    """A tone the scripted VAD hears as speech, then silence long enough to end the turn (16 kHz linear16)."""
    audio = np.concatenate((speech(seconds), silence(pause)))
    for start in range(0, len(audio), 320):
        await ws.send(pcm_frame(audio[start : start + 320]))


def types(messages: list[dict[str, Any] | bytes]) -> list[str]:
    out: list[str] = []
    for m in messages:
        name = "<audio>" if isinstance(m, bytes) else m["type"]
        if not (name == "<audio>" and out and out[-1] == "<audio>"):
            out.append(name)
    return out


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpService:
    """A tiny HTTP server on 127.0.0.1 that server-side functions can call."""

    port: int = 0
    requests: list[Recorded] = field(default_factory=list)

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"


_BOMB = gzip.compress(bytes(50_000_000), compresslevel=9)


@contextlib.contextmanager
def http_service() -> Iterator[HttpService]:
    service = HttpService()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            service.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.startswith(("/big", "/bomb", "/trickle")):
                self._hostile()
                return
            status = 500 if self.path.startswith("/fail") else 200
            if self.path.startswith("/slow"):
                threading.Event().wait(1.0)
            reply = json.dumps({"forecast": "sunny", "echo": body.decode() or self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def _hostile(self) -> None:
            """/big: 20 MB of text; /bomb: 50 MB of zeros as 50 KB of gzip; /trickle: a byte per 0.1 s."""
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if self.path.startswith("/bomb"):
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(_BOMB)))
                self.end_headers()
                self.wfile.write(_BOMB)
                return
            self.end_headers()
            try:
                if self.path.startswith("/big"):
                    for _ in range(20):
                        self.wfile.write(b"a" * 1_000_000)
                else:
                    for _ in range(100):
                        self.wfile.write(b"a")
                        self.wfile.flush()
                        threading.Event().wait(0.1)
            except OSError:
                pass  # the client stopped reading, as it should

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False  # a /slow request may still be sleeping when the test ends
    service.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        httpd.shutdown()
        httpd.server_close()
