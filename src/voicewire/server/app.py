"""The network edge: HTTP routes, authentication, the session limit, and one `Session` per connection.

Routes: `/agent` (any query string) upgrades to the early-access agent protocol, `/v1/agent/converse` and
`/v1/agent` to the v1 protocol (`protocol.dialects.WIRE_FORMATS` is the table); `/twilio` to Twilio Media
Streams when `[twilio]` has a token (that path is authenticated by the token inside the stream, since Twilio
sends no API key); `GET /healthz` answers 200 once engines are loaded (503 before); `GET /metrics` serves
counters and latency histograms in Prometheus' text format and `GET /metrics.json` recent turn timings (both
need an API key when keys are configured); `/`, `/static/...` and `/playground.json` are the browser
playground (`server.static`); anything else is 404. Before any route, a request from a foreign web page or,
on loopback, under a foreign Host name gets 403 (`server.origins`).

Authentication (`auth`) happens before the upgrade, so a wrong key costs the client an HTTP 401 (429 once
it keeps guessing) and the server no session. When the key came as the `token, <key>` subprotocol pair, the
server selects the `token` subprotocol.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voicewire.engines.registry import EngineRegistry
from voicewire.protocol.dialects import WIRE_FORMATS, WireFormat
from voicewire.protocol.dialects.twilio import TwilioMediaStreams
from voicewire.redaction import websockets_logger
from voicewire.server.auth import Authenticator, select_subprotocol
from voicewire.server.clock import Clock, MonotonicClock
from voicewire.server.config import ServerConfig
from voicewire.server.connection import Connection
from voicewire.server.metrics import TurnMetrics
from voicewire.server.origins import refusal
from voicewire.server.oversize import AgentConnection
from voicewire.server.prometheus import CONTENT_TYPE_LATEST, ServerMetrics
from voicewire.server.session import Session
from voicewire.server.static import playground_response

logger = logging.getLogger(__name__)

AGENT_PATH = "/agent"
V1_AGENT_PATH = "/v1/agent/converse"
METRICS_PATHS = ("/metrics", "/metrics.json")
TWILIO_PATH = "/twilio"
#: Turn records served by /metrics.
METRICS_LIMIT = 200
#: Close code for "the server is full": 1013, try again later.
TRY_AGAIN_LATER = 1013
KEEPALIVE_INTERVAL_S = 20.0
#: How long a close handshake may take before the TCP connection is dropped (a peer that does not read).
CLOSE_TIMEOUT_S = 5.0
WRITE_LIMIT_BYTES = 64 * 1024


class AgentServer:
    """The agent server, runnable in-process::

        async with AgentServer(ServerConfig(port=0), registry) as server:
            url = server.url  # ws://127.0.0.1:<free port>/agent

    `engines` may be set later (e.g. after loading models in the background): until then /healthz answers 503
    and agent connections are refused with 503.
    """

    def __init__(
        self, config: ServerConfig, engines: EngineRegistry | None = None, *, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.engines = engines
        self.sessions: dict[str, Session] = {}
        self.sessions_served = 0
        self._clock = clock or MonotonicClock()
        self._auth = Authenticator(config.api_keys, self._clock)
        self._server: Server | None = None
        self._finished_turns: collections.deque[TurnMetrics] = collections.deque(maxlen=METRICS_LIMIT)
        self.metrics = ServerMetrics()

    async def start(self) -> None:
        self.config.check()
        self._server = await serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            select_subprotocol=select_subprotocol,
            max_size=self.config.max_binary_frame_bytes,
            create_connection=AgentConnection,
            compression=None,
            # A peer that stops answering pings is dropped within 40 s; websockets' own buffer holds at most
            # `write_limit` bytes, beyond which the outbox holds and bounds the backlog (max_outbox_bytes).
            ping_interval=KEEPALIVE_INTERVAL_S,
            ping_timeout=KEEPALIVE_INTERVAL_S,
            close_timeout=CLOSE_TIMEOUT_S,
            write_limit=WRITE_LIMIT_BYTES,
            server_header="voicewire",
            logger=websockets_logger("server", secrets=self.config.api_keys),
            reuse_port=self.config.workers > 1,
        )
        logger.info("voicewire agent server listening on %s", self.url)

    async def close(self) -> None:
        """Stop accepting connections and end every session with close code 1001 (going away)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def drain(self, timeout_s: float) -> None:
        """Stop accepting connections, let live sessions end by themselves for up to `timeout_s`, then
        close the rest with 1001 (going away): a rolling restart behind a load balancer loses no session
        that ends within the deadline."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close(close_connections=False)
        logger.info("draining %d session(s) for up to %.0f s", len(self.sessions), timeout_s)
        try:
            await asyncio.wait_for(server.wait_closed(), timeout_s)
        except TimeoutError:
            logger.info("drain deadline passed; closing %d session(s) with 1001", len(self.sessions))
            await asyncio.gather(
                *(connection.close(1001, "server shutting down") for connection in server.connections)
            )
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"ws://{host}:{self.port}{AGENT_PATH}"

    @property
    def v1_url(self) -> str:
        """Where clients of the v1 Agent API connect (deepgram-sdk 4.x and later, @deepgram/sdk)."""
        return self.url.removesuffix(AGENT_PATH) + V1_AGENT_PATH

    def turn_metrics(self) -> list[TurnMetrics]:
        """Recent turns of finished sessions, then those of live sessions."""
        live = [turn for session in self.sessions.values() for turn in session.metrics]
        return [*self._finished_turns, *live][-METRICS_LIMIT:]

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if (reason := refusal(request.headers, self.config, self.port)) is not None:
            logger.info("refused a request from %s: %s", connection.remote_address, reason)
            return connection.respond(403, reason + "\n")
        path = urlsplit(request.path).path
        if (page := playground_response(path, api_key_required=bool(self.config.api_keys))) is not None:
            return page
        if path == "/healthz":
            if self.engines is None:
                return connection.respond(503, "loading engines\n")
            return connection.respond(200, "ok\n")
        twilio = path == TWILIO_PATH and self.config.twilio.enabled
        if path not in WIRE_FORMATS and path not in METRICS_PATHS and not twilio:
            return connection.respond(404, "not found\n")
        if not twilio and (refused := self._auth.check(connection, request)) is not None:
            return refused
        if path == "/metrics":
            return _response(connection, self.metrics.exposition(), CONTENT_TYPE_LATEST)
        if path == "/metrics.json":
            return _response(connection, json.dumps(self._metrics_document()).encode(), "application/json")
        if self.engines is None:
            return connection.respond(503, "loading engines, try again shortly\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        if len(self.sessions) >= self.config.max_sessions:
            logger.info("session limit (%d) reached; closing a new connection", self.config.max_sessions)
            await connection.close(TRY_AGAIN_LATER, "try again later")
            return
        assert self.engines is not None and connection.request is not None
        wire = self._wire_format(urlsplit(connection.request.path).path)
        link = Connection(
            self.config, self.engines, connection, wire, clock=self._clock, observer=self.metrics
        )
        session = link.session
        self.sessions[session.id] = session
        self.sessions_served += 1
        self.metrics.session_started(session.id)
        logger.info("session %s started (%s, %d active)", session.id, wire.name, len(self.sessions))
        link.start()
        try:
            async for message in connection:
                await link.receive(message)
        except ConnectionClosed as exc:
            logger.debug("session %s: connection lost (%s)", session.id, exc)
        finally:
            await link.aclose()
            del self.sessions[session.id]
            self._finished_turns.extend(session.metrics)
            self.metrics.session_ended(session.id, connection.close_code)
            logger.info(
                "session %s ended with close code %s after %d turns (%d active)",
                session.id,
                connection.close_code,
                len(session.metrics),
                len(self.sessions),
            )

    def _wire_format(self, path: str) -> WireFormat:
        if path == TWILIO_PATH:
            twilio = self.config.twilio
            return TwilioMediaStreams(twilio.token, twilio.default.settings(), twilio.profile_settings())
        return WIRE_FORMATS[path]()

    def _metrics_document(self) -> dict[str, Any]:
        """Timings only: transcripts are the users' words and stay out of an HTTP endpoint."""
        turns = [
            {k: v for k, v in turn.to_dict().items() if k != "transcript"} for turn in self.turn_metrics()
        ]
        return {
            # Turn timestamps are on this monotonic clock: "now" lets a reader tell how long ago each was.
            "now": self._clock.now(),
            "sessions_active": len(self.sessions),
            "sessions_served": self.sessions_served,
            "turns": turns,
        }


def _response(connection: ServerConnection, body: bytes, content_type: str) -> Response:
    response = connection.respond(200, "")
    response.body = body
    for name, value in (("Content-Length", str(len(body))), ("Content-Type", content_type)):
        del response.headers[name]
        response.headers[name] = value
    return response
