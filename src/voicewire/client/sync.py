"""The thread-based agent client, API-compatible with deepgram-sdk 3.11's `AgentWebSocketClient`.

Threads per connection: websockets' own reader (and ping) threads, one listener that calls every handler, and
a keepalive thread when enabled. A microphone sends from its own thread, a speaker plays on its own thread.
Nothing else is created per message.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Mapping
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from voicewire.client._core import (
    CLOSE_TIMEOUT,
    ClientCore,
    Events,
    SettingsLike,
    Terminate,
    closed_abnormally,
)
from voicewire.client.devices import Microphone, Speaker
from voicewire.client.options import ClientOptions
from voicewire.protocol import (
    AgentWebSocketEvents,
    CloseResponse,
    FunctionCallResponse,
    OpenResponse,
    ProtocolError,
)
from voicewire.redaction import websockets_logger

logger = logging.getLogger(__name__)

#: websockets 17 warns unless a directly returned connection is asked for explicitly; 14-16 have no flag.
_DIRECT: dict[str, Any] = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


class AgentWebSocketClient(ClientCore):
    """A Voice Agent connection driven by threads; handlers run on the listener thread."""

    def __init__(
        self,
        config: ClientOptions | None = None,
        *,
        microphone: Microphone | None = None,
        speaker: Speaker | None = None,
    ) -> None:
        super().__init__(config, microphone=microphone, speaker=speaker)
        self._socket: ClientConnection | None = None
        self._listener: threading.Thread | None = None
        self._keepalive: threading.Thread | None = None
        self._stop = threading.Event()
        self._state = threading.Lock()
        self._stopping = False

    def start(
        self,
        options: SettingsLike | None = None,
        addons: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        members: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Connect, send the settings, then start the listener, the microphone and the keepalive.

        Returns False if the connection or the settings cannot go through (the seed's contract); raises
        `VoicewireError` for invalid settings before connecting.
        """
        plan = self._prepare(options, addons, headers, members, kwargs)
        if self.is_connected():
            logger.warning("start() called on a connected client; call finish() first")
            return False
        try:
            socket = connect(
                plan.url,
                additional_headers=plan.headers,
                user_agent_header=None,
                compression=None,
                close_timeout=CLOSE_TIMEOUT,
                logger=websockets_logger("client"),
                **_DIRECT,
            )
        except Exception as exc:
            logger.warning("Could not connect to %s: %s", plan.safe_url, exc)
            if self._behaviour.termination_exception_connect:
                raise
            return False
        with self._state:
            self._socket, self._stopping = socket, False
        self._stop.clear()
        try:
            self._emit(Events.Open, self._payload("open", OpenResponse(type="Open")))
            if self._speaker is not None:
                self._speaker.start()
            if not self.send(plan.settings):
                self._emit(
                    Events.Error,
                    self._error_payload(self._where("start"), "ConfigurationSettings failed to send"),
                )
                self.finish()
                return False
            self._listener = threading.Thread(
                target=self._listen, args=(socket,), name="voicewire-listener", daemon=True
            )
            self._listener.start()
            if self._microphone is not None:
                self._microphone.set_callback(self.send)
                self._microphone.start()
            if self._behaviour.keepalive:
                self._keepalive = threading.Thread(
                    target=self._keep_alive_loop,
                    args=(self._behaviour.keepalive_interval,),
                    name="voicewire-keepalive",
                    daemon=True,
                )
                self._keepalive.start()
        except Exception as exc:
            logger.warning("AgentWebSocketClient.start failed: %s", exc)
            self.finish()
            if self._behaviour.termination_exception_connect:
                raise exc.error if isinstance(exc, Terminate) else exc from None
            return False
        return True

    def is_connected(self) -> bool:
        return self._socket is not None and not self._stopping

    def send(self, data: str | bytes) -> bool:
        """Send a text (JSON) or binary (audio) frame; False if it did not go out."""
        socket = self._socket
        if socket is None or self._stopping:
            return False
        try:
            socket.send(data)
        except Exception as exc:
            if self._behaviour.termination_exception_send:
                raise
            logger.debug("send failed: %s", exc)
            return False
        return True

    def send_audio(self, data: bytes) -> bool:
        return self.send(data)

    def keep_alive(self) -> bool:
        return self.send(self._keep_alive_text())

    def update_instructions(self, instructions: str) -> bool:
        return self.send(self._instructions_text(instructions))

    def update_speak(self, model: str) -> bool:
        return self.send(self._speak_text(model))

    def inject_agent_message(self, message: str) -> bool:
        return self.send(self._inject_text(message))

    def send_function_call_response(
        self, function_call_id: str | FunctionCallResponse, output: object = ""
    ) -> bool:
        """Answer a FunctionCallRequest; `output` that is not text is sent as JSON."""
        return self.send(self._function_call_response_text(function_call_id, output))

    def finish(self) -> bool:
        """Close the connection and wait for every thread this client started; safe to call from a handler."""
        self._shutdown()
        current = threading.current_thread()
        for thread in (self._listener, self._keepalive):
            if thread is not None and thread is not current:
                thread.join()
        socket = self._socket
        if socket is not None:
            socket.recv_events_thread.join(CLOSE_TIMEOUT)
            if socket.keepalive_thread is not None:
                socket.keepalive_thread.join(CLOSE_TIMEOUT)
        if self._speaker is not None:
            self._speaker.finish()
        self._listener = self._keepalive = None
        with self._state:
            self._socket = None
        return True

    def _shutdown(self) -> None:
        """Close the connection once, whoever notices first (finish(), a server close, a fatal error).

        The speaker keeps playing what it has, so a server that says goodbye and hangs up is heard;
        `finish()` stops it.
        """
        with self._state:
            socket = self._socket
            if socket is None or self._stopping:
                return
            self._stopping = True
        self._stop.set()
        if self._microphone is not None:
            self._microphone.finish()
        try:
            socket.close()
        except Exception as exc:
            logger.debug("close failed: %s", exc)
        self._emit(Events.Close, self._payload("close", CloseResponse(type="Close")))

    def _listen(self, socket: ClientConnection) -> None:
        recv = socket.recv
        try:
            while True:
                message = recv()
                if isinstance(message, str):
                    try:
                        decoded = self._decode(message)
                    except ProtocolError as exc:
                        self._report(self._where("_process_text"), exc)
                        continue
                    for event, payload in decoded:
                        self._emit(event, payload)
                else:
                    self._emit(Events.AudioData, self._payload("data", message))
        except ConnectionClosed as exc:
            if not self._stopping and closed_abnormally(exc):
                self._emit(
                    Events.Error,
                    self._error_payload(
                        f"ConnectionClosed in {type(self).__name__}._listening", exc, "ConnectionClosed"
                    ),
                )
            self._shutdown()
        except Terminate as stop:
            self._shutdown()
            if self._behaviour.termination_exception_connect:
                raise stop.error from None
        except Exception as exc:
            self._emit(Events.Error, self._error_payload(self._where("_listening"), exc))
            self._shutdown()

    def _emit(self, event: AgentWebSocketEvents, payload: dict[str, Any]) -> None:
        for handler in self._handlers[event]:
            try:
                handler(self, **payload)
            except Exception as exc:
                self._handler_failed(event, exc)

    def _handler_failed(self, event: AgentWebSocketEvents, exc: Exception) -> None:
        if event is Events.Error:
            logger.warning("An Error handler raised", exc_info=True)
            return
        self._report(f"Exception in {type(self).__name__} handler for {event}", exc)

    def _report(self, description: str, exc: Exception) -> None:
        """Deliver an Error event; with `termination_exception`, also unwind the listener to close."""
        self._emit(Events.Error, self._error_payload(description, exc))
        if self._behaviour.termination_exception and not self._stopping:
            raise Terminate(exc) from exc

    def _keep_alive_loop(self, interval: float) -> None:
        """A failed KeepAlive is logged and retried next time: one bad send must not end the session."""
        while not self._stop.wait(interval):
            try:
                sent = self.keep_alive()
            except Exception:
                sent = False
            if not sent and not self._stop.is_set():
                logger.warning("KeepAlive could not be sent; retrying in %s s", interval)
