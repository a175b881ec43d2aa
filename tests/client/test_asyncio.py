"""The asyncio client against the scripted peer, on the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from voicewire.client import (
    AgentWebSocketEvents,
    AsyncAgentWebSocketClient,
    ClientOptions,
    DeepgramClient,
    DeepgramClientOptions,
    KeytermsError,
    VoicewireError,
)
from voicewire.protocol import (
    FunctionCallRequest,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    ProtocolError,
    SettingsConfigurationOptions,
)

from .peer import Peer, PeerSession, until, welcome_then_settings
from .scenarios import (
    SCENARIOS,
    USER_AUDIO,
    Recorder,
    Scenario,
    check_seed_example,
    garbage,
    run_async,
    seed_example_flow,
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_scenario(scenario: Scenario) -> None:
    await run_async(scenario)


async def test_ported_seed_example() -> None:
    """deepgram-sdk 3.11 async example code; only imports changed (`members` points it at the peer)."""
    seen: list[str] = []
    async with Peer(seed_example_flow) as peer:
        config: DeepgramClientOptions = DeepgramClientOptions(
            options={"keepalive": "true"}, headers={"X-Team": "voice"}
        )
        deepgram: DeepgramClient = DeepgramClient("test-key", config)
        dg_connection = deepgram.agent.asyncwebsocket.v("1")

        async def on_open(self: Any, open: Any, **kwargs: Any) -> None:
            seen.append("Open")

        async def on_binary_data(self: Any, data: bytes, **kwargs: Any) -> None:
            seen.append("AudioData")

        async def on_welcome(self: Any, welcome: Any, **kwargs: Any) -> None:
            seen.append("Welcome")

        async def on_settings_applied(self: Any, settings_applied: Any, **kwargs: Any) -> None:
            seen.append("SettingsApplied")

        async def on_conversation_text(self: Any, conversation_text: Any, **kwargs: Any) -> None:
            seen.append("ConversationText")

        async def on_user_started_speaking(self: Any, user_started_speaking: Any, **kwargs: Any) -> None:
            seen.append("UserStartedSpeaking")

        async def on_agent_thinking(self: Any, agent_thinking: Any, **kwargs: Any) -> None:
            seen.append("AgentThinking")

        async def on_function_calling(self: Any, function_calling: Any, **kwargs: Any) -> None:
            seen.append("FunctionCalling")

        async def on_function_call_request(
            self: Any, function_call_request: FunctionCallRequest, **kwargs: Any
        ) -> None:
            seen.append("FunctionCallRequest")
            response = FunctionCallResponse(
                function_call_id=function_call_request.function_call_id, output="Function response here"
            )
            await dg_connection.send_function_call_response(response)

        async def on_agent_started_speaking(self: Any, agent_started_speaking: Any, **kwargs: Any) -> None:
            seen.append("AgentStartedSpeaking")

        async def on_agent_audio_done(self: Any, agent_audio_done: Any, **kwargs: Any) -> None:
            seen.append("AgentAudioDone")
            await dg_connection.send(str(InjectAgentMessageOptions(message="Anything else?")))

        async def on_injection_refused(self: Any, injection_refused: Any, **kwargs: Any) -> None:
            seen.append("InjectionRefused")
            await dg_connection.keep_alive()

        async def on_close(self: Any, close: Any, **kwargs: Any) -> None:
            seen.append("Close")

        async def on_error(self: Any, error: Any, **kwargs: Any) -> None:
            seen.append("Error")

        async def on_unhandled(self: Any, unhandled: Any, **kwargs: Any) -> None:
            seen.append("Unhandled")

        dg_connection.on(AgentWebSocketEvents.Open, on_open)
        dg_connection.on(AgentWebSocketEvents.AudioData, on_binary_data)
        dg_connection.on(AgentWebSocketEvents.Welcome, on_welcome)
        dg_connection.on(AgentWebSocketEvents.SettingsApplied, on_settings_applied)
        dg_connection.on(AgentWebSocketEvents.ConversationText, on_conversation_text)
        dg_connection.on(AgentWebSocketEvents.UserStartedSpeaking, on_user_started_speaking)
        dg_connection.on(AgentWebSocketEvents.AgentThinking, on_agent_thinking)
        dg_connection.on(AgentWebSocketEvents.FunctionCalling, on_function_calling)
        dg_connection.on(AgentWebSocketEvents.FunctionCallRequest, on_function_call_request)
        dg_connection.on(AgentWebSocketEvents.AgentStartedSpeaking, on_agent_started_speaking)
        dg_connection.on(AgentWebSocketEvents.AgentAudioDone, on_agent_audio_done)
        dg_connection.on(AgentWebSocketEvents.InjectionRefused, on_injection_refused)
        dg_connection.on(AgentWebSocketEvents.Close, on_close)
        dg_connection.on(AgentWebSocketEvents.Error, on_error)
        dg_connection.on(AgentWebSocketEvents.Unhandled, on_unhandled)

        options: SettingsConfigurationOptions = SettingsConfigurationOptions()
        options.agent.think.provider.type = "open_ai"
        options.agent.think.model = "gpt-4o-mini"
        options.agent.think.instructions = "You are a helpful AI assistant."

        if await dg_connection.start(options, members={"_websocket_url": peer.url}) is False:
            pytest.fail("Failed to start connection")
        await dg_connection.send(USER_AUDIO)
        await until(lambda: "Unhandled" in seen)
        assert await dg_connection.finish() is True
        await until(lambda: bool(peer.close_codes))
    check_seed_example(peer, seen)


async def test_sync_and_async_handlers_run_in_order_on_the_listener_task() -> None:
    calls: list[tuple[str, str]] = []

    def sync_handler(client: Any, conversation_text: Any, **_: Any) -> None:
        calls.append(("sync", asyncio.current_task().get_name()))  # type: ignore[union-attr]

    async def async_handler(client: Any, conversation_text: Any, **_: Any) -> None:
        await asyncio.sleep(0)
        calls.append(("async", asyncio.current_task().get_name()))  # type: ignore[union-attr]
        if conversation_text.content == "first":
            raise ValueError("async handler failed")

    async def script(s: PeerSession) -> None:
        await welcome_then_settings(s)
        await s.send_json(type="ConversationText", role="user", content="first")
        await s.send_json(type="ConversationText", role="user", content="second")

    async with Peer(script) as peer:
        client = AsyncAgentWebSocketClient(ClientOptions(url=peer.url))
        recorder = Recorder()
        client.on(AgentWebSocketEvents.ConversationText, async_handler)
        client.on(AgentWebSocketEvents.ConversationText, sync_handler)
        recorder.attach(client)
        assert await client.start({})
        await until(lambda: recorder.count("ConversationText") == 2)
        assert await client.finish()
    assert calls == [("async", "voicewire-listener"), ("sync", "voicewire-listener")] * 2
    [error] = recorder.payloads("Error")
    assert error["error"].message == "async handler failed"
    assert recorder.names().index("Error") < recorder.names().index("ConversationText")


async def test_cancelling_start_propagates() -> None:
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AsyncAgentWebSocketClient(ClientOptions(url=f"ws://127.0.0.1:{port}/agent"))
    task = asyncio.create_task(client.start({}))
    await accepted.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    server.close()
    await server.wait_closed()


async def test_cancelling_finish_propagates_and_leaves_no_task() -> None:
    release = asyncio.Event()

    async def slow_close_handler(client: Any, close: Any, **_: Any) -> None:
        await release.wait()

    async with Peer() as peer:
        client = AsyncAgentWebSocketClient(ClientOptions(url=peer.url, options={"keepalive": True}))
        client.on(AgentWebSocketEvents.Close, slow_close_handler)
        before = asyncio.all_tasks()
        assert await client.start({})
        finishing = asyncio.create_task(client.finish())
        await asyncio.sleep(0.05)
        finishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finishing
        await asyncio.sleep(0)
        leftover = [t.get_name() for t in asyncio.all_tasks() - before if not t.get_name().startswith("peer")]
        assert leftover == []
        assert await client.finish() is True


async def test_cancelling_finish_while_waiting_for_a_stubborn_handler_cancels_it_again() -> None:
    stuck = asyncio.Event()

    async def stubborn(client: Any, settings_applied: Any, **_: Any) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            stuck.set()
            await asyncio.Event().wait()  # ignores the first cancellation

    async with Peer() as peer:
        client = AsyncAgentWebSocketClient(ClientOptions(url=peer.url))
        client.on(AgentWebSocketEvents.SettingsApplied, stubborn)
        assert await client.start({})
        await until(lambda: bool(peer.received))
        await asyncio.sleep(0.02)
        finishing = asyncio.create_task(client.finish())
        await stuck.wait()
        listeners = {t for t in asyncio.all_tasks() if t.get_name() == "voicewire-listener"}
        assert len(listeners) == 1
        finishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finishing
        done, pending = await asyncio.wait(listeners, timeout=0.5)
        assert pending == set() and all(t.cancelled() for t in done)


async def test_connect_failure_returns_false_or_raises_when_asked() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/agent"
    client = AsyncAgentWebSocketClient(ClientOptions(url=url))
    assert await client.start({}) is False
    assert not await client.is_connected()
    strict = AsyncAgentWebSocketClient(ClientOptions(url=url, options={"termination_exception_connect": 1}))
    with pytest.raises(OSError):
        await strict.start({})


async def test_invalid_settings_raise_before_connecting() -> None:
    client = AsyncAgentWebSocketClient(ClientOptions(url="ws://127.0.0.1:9/agent"))
    with pytest.raises(VoicewireError, match="Invalid options type"):
        await client.start(None)
    with pytest.raises(KeytermsError):
        await client.start({"agent": {"listen": {"model": "nova-2-general", "keyterms": ["x"]}}})


async def test_termination_exception_connect_reraises_from_finish() -> None:
    options = {"termination_exception": "yes", "termination_exception_connect": "yes"}
    async with Peer(garbage) as peer:
        client = AsyncAgentWebSocketClient(ClientOptions(url=peer.url, options=options))
        recorder = Recorder()
        recorder.attach(client)
        assert await client.start({})
        await until(lambda: recorder.has("Close"))
        with pytest.raises(ProtocolError):
            await client.finish()
    assert recorder.names()[-2:] == ["Error", "Close"]
