"""The asyncio agent client, API-compatible with deepgram-sdk 3.11's `AsyncAgentWebSocketClient`.

Tasks per connection: one listener that calls every handler in order, a keepalive task when enabled, and a
pump that forwards microphone audio from the device thread to the socket when a microphone is on (plus the
websockets ping task). Handlers may be plain functions (called directly) or coroutine functions (awaited);
nothing is created per message. The caller's cancellation is never swallowed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

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


class AsyncAgentWebSocketClient(ClientCore):
    """A Voice Agent connection on the running event loop; handlers run on the listener task."""

    def __init__(
        self,
        config: ClientOptions | None = None,
        *,
        microphone: Microphone | None = None,
        speaker: Speaker | None = None,
    ) -> None:
        super().__init__(config, microphone=microphone, speaker=speaker)
        self._socket: ClientConnection | None = None
        self._listener: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(
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
        if await self.is_connected():
            logger.warning("start() called on a connected client; call finish() first")
            return False
        try:
            socket = await connect(
                plan.url,
                additional_headers=plan.headers,
                user_agent_header=None,
                compression=None,
                close_timeout=CLOSE_TIMEOUT,
                logger=websockets_logger("client"),
            )
        except Exception as exc:
            logger.warning("Could not connect to %s: %s", plan.safe_url, exc)
            if self._behaviour.termination_exception_connect:
                raise
            return False
        self._socket, self._stopping = socket, False
        try:
            await self._emit(Events.Open, self._payload("open", OpenResponse(type="Open")))
            if self._speaker is not None:
                self._speaker.start()
            if not await self.send(plan.settings):
                await self._emit(
                    Events.Error,
                    self._error_payload(self._where("start"), "ConfigurationSettings failed to send"),
                )
                await self.finish()
                return False
            self._listener = asyncio.create_task(self._listen(socket), name="voicewire-listener")
            if self._microphone is not None:
                self._start_microphone(self._microphone)
            if self._behaviour.keepalive:
                self._keepalive = asyncio.create_task(
                    self._keep_alive_loop(self._behaviour.keepalive_interval), name="voicewire-keepalive"
                )
        except Exception as exc:
            logger.warning("AsyncAgentWebSocketClient.start failed: %s", exc)
            await self.finish()
            if self._behaviour.termination_exception_connect:
                raise exc.error if isinstance(exc, Terminate) else exc from None
            return False
        except BaseException:
            await self.finish()
            raise
        return True

    async def is_connected(self) -> bool:
        return self._socket is not None and not self._stopping

    async def send(self, data: str | bytes) -> bool:
        """Send a text (JSON) or binary (audio) frame; False if it did not go out."""
        socket = self._socket
        if socket is None or self._stopping:
            return False
        try:
            await socket.send(data)
        except Exception as exc:
            if self._behaviour.termination_exception_send:
                raise
            logger.debug("send failed: %s", exc)
            return False
        return True

    async def send_audio(self, data: bytes) -> bool:
        return await self.send(data)

    async def keep_alive(self) -> bool:
        return await self.send(self._keep_alive_text())

    async def update_instructions(self, instructions: str) -> bool:
        return await self.send(self._instructions_text(instructions))

    async def update_speak(self, model: str) -> bool:
        return await self.send(self._speak_text(model))

    async def inject_agent_message(self, message: str) -> bool:
        return await self.send(self._inject_text(message))

    async def send_function_call_response(
        self, function_call_id: str | FunctionCallResponse, output: object = ""
    ) -> bool:
        """Answer a FunctionCallRequest; `output` that is not text is sent as JSON."""
        return await self.send(self._function_call_response_text(function_call_id, output))

    async def finish(self) -> bool:
        """Close the connection and wait for every task this client started; safe to call from a handler.

        If the caller is cancelled meanwhile, the client's tasks are cancelled and the CancelledError
        propagates. With `termination_exception_connect`, an error that ended the listener is raised here.
        """
        current = asyncio.current_task()
        listener, socket = self._listener, self._socket
        ping = socket.keepalive_task if socket is not None else None
        tasks = {
            task
            for task in (listener, self._keepalive, self._pump, ping)
            if task is not None and task is not current
        }
        if listener in tasks and not self._stopping:
            listener.cancel()
        try:
            await self._shutdown()
            pending = {task for task in tasks if not task.done()}
            if pending:
                await asyncio.wait(pending)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        if self._speaker is not None:
            self._speaker.finish()
        self._listener = self._keepalive = self._pump = None
        self._socket = None
        if listener is not None and listener is not current and listener.done() and not listener.cancelled():
            error = listener.exception()
            if error is not None:
                raise error
        return True

    async def _shutdown(self) -> None:
        """Close the connection once, whoever notices first (finish(), a server close, a fatal error).

        The speaker keeps playing what it has, so a server that says goodbye and hangs up is heard;
        `finish()` stops it.
        """
        socket = self._socket
        if socket is None or self._stopping:
            return
        self._stopping = True
        for task in (self._keepalive, self._pump):
            if task is not None:
                task.cancel()
        if self._microphone is not None:
            self._microphone.finish()
        try:
            await socket.close()
        except Exception as exc:
            logger.debug("close failed: %s", exc)
        await self._emit(Events.Close, self._payload("close", CloseResponse(type="Close")))

    async def _listen(self, socket: ClientConnection) -> None:
        recv = socket.recv
        try:
            while True:
                message = await recv()
                if isinstance(message, str):
                    try:
                        decoded = self._decode(message)
                    except ProtocolError as exc:
                        await self._report(self._where("_process_text"), exc)
                        continue
                    for event, payload in decoded:
                        await self._emit(event, payload)
                else:
                    await self._emit(Events.AudioData, self._payload("data", message))
        except ConnectionClosed as exc:
            if not self._stopping and closed_abnormally(exc):
                await self._emit(
                    Events.Error,
                    self._error_payload(
                        f"ConnectionClosed in {type(self).__name__}._listening", exc, "ConnectionClosed"
                    ),
                )
            await self._shutdown()
        except Terminate as stop:
            await self._shutdown()
            if self._behaviour.termination_exception_connect:
                raise stop.error from None
        except Exception as exc:
            await self._emit(Events.Error, self._error_payload(self._where("_listening"), exc))
            await self._shutdown()

    async def _emit(self, event: AgentWebSocketEvents, payload: dict[str, Any]) -> None:
        for handler in self._handlers[event]:
            try:
                result = handler(self, **payload)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception as exc:
                await self._handler_failed(event, exc)

    async def _handler_failed(self, event: AgentWebSocketEvents, exc: Exception) -> None:
        if event is Events.Error:
            logger.warning("An Error handler raised", exc_info=True)
            return
        await self._report(f"Exception in {type(self).__name__} handler for {event}", exc)

    async def _report(self, description: str, exc: Exception) -> None:
        """Deliver an Error event; with `termination_exception`, also unwind the listener to close."""
        await self._emit(Events.Error, self._error_payload(description, exc))
        if self._behaviour.termination_exception and not self._stopping:
            raise Terminate(exc) from exc

    def _start_microphone(self, microphone: Microphone) -> None:
        """The device thread hands blocks to the loop; one pump task sends them in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def from_device_thread(data: bytes) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, data)
            except RuntimeError:
                logger.debug("Microphone audio dropped: the event loop is closed")

        microphone.set_callback(from_device_thread)
        self._pump = asyncio.create_task(self._pump_audio(queue), name="voicewire-microphone")
        microphone.start()

    async def _pump_audio(self, queue: asyncio.Queue[bytes]) -> None:
        while True:
            data = await queue.get()
            try:
                await self.send(data)
            except Exception:
                logger.warning("Microphone audio could not be sent", exc_info=True)

    async def _keep_alive_loop(self, interval: float) -> None:
        """A failed KeepAlive is logged and retried next time: one bad send must not end the session."""
        while True:
            await asyncio.sleep(interval)
            try:
                sent = await self.keep_alive()
            except Exception:
                sent = False
            if not sent and not self._stopping:
                logger.warning("KeepAlive could not be sent; retrying in %s s", interval)
