"""The thread-based client against the scripted peer."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from voicewire.client import (
    AgentWebSocketClient,
    AgentWebSocketEvents,
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

from .peer import ThreadedPeer, wait_until
from .scenarios import (
    SCENARIOS,
    USER_AUDIO,
    Scenario,
    check_seed_example,
    garbage,
    run_sync,
    seed_example_flow,
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario(scenario: Scenario) -> None:
    run_sync(scenario)


def test_ported_seed_example() -> None:
    """deepgram-sdk 3.11 example code; only the imports changed (and `members` points it at the peer)."""
    seen: list[str] = []
    with ThreadedPeer(seed_example_flow) as peer:
        config: DeepgramClientOptions = DeepgramClientOptions(
            options={"keepalive": "true"}, headers={"X-Team": "voice"}
        )
        deepgram: DeepgramClient = DeepgramClient("test-key", config)
        dg_connection = deepgram.agent.websocket.v("1")

        def on_open(self: Any, open: Any, **kwargs: Any) -> None:
            seen.append("Open")

        def on_binary_data(self: Any, data: bytes, **kwargs: Any) -> None:
            seen.append("AudioData")

        def on_welcome(self: Any, welcome: Any, **kwargs: Any) -> None:
            seen.append("Welcome")

        def on_settings_applied(self: Any, settings_applied: Any, **kwargs: Any) -> None:
            seen.append("SettingsApplied")

        def on_conversation_text(self: Any, conversation_text: Any, **kwargs: Any) -> None:
            seen.append("ConversationText")

        def on_user_started_speaking(self: Any, user_started_speaking: Any, **kwargs: Any) -> None:
            seen.append("UserStartedSpeaking")

        def on_agent_thinking(self: Any, agent_thinking: Any, **kwargs: Any) -> None:
            seen.append("AgentThinking")

        def on_function_calling(self: Any, function_calling: Any, **kwargs: Any) -> None:
            seen.append("FunctionCalling")

        def on_function_call_request(
            self: Any, function_call_request: FunctionCallRequest, **kwargs: Any
        ) -> None:
            seen.append("FunctionCallRequest")
            response = FunctionCallResponse(
                function_call_id=function_call_request.function_call_id, output="Function response here"
            )
            dg_connection.send_function_call_response(response)

        def on_agent_started_speaking(self: Any, agent_started_speaking: Any, **kwargs: Any) -> None:
            seen.append("AgentStartedSpeaking")

        def on_agent_audio_done(self: Any, agent_audio_done: Any, **kwargs: Any) -> None:
            seen.append("AgentAudioDone")
            dg_connection.send(str(InjectAgentMessageOptions(message="Anything else?")))

        def on_injection_refused(self: Any, injection_refused: Any, **kwargs: Any) -> None:
            seen.append("InjectionRefused")
            dg_connection.keep_alive()

        def on_close(self: Any, close: Any, **kwargs: Any) -> None:
            seen.append("Close")

        def on_error(self: Any, error: Any, **kwargs: Any) -> None:
            seen.append("Error")

        def on_unhandled(self: Any, unhandled: Any, **kwargs: Any) -> None:
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

        if dg_connection.start(options, members={"_websocket_url": peer.url}) is False:
            pytest.fail("Failed to start connection")
        dg_connection.send(USER_AUDIO)
        wait_until(lambda: "Unhandled" in seen)
        dg_connection.finish()
        wait_until(lambda: bool(peer.close_codes))
    check_seed_example(peer, seen)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connect_failure_returns_false_or_raises_when_asked() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/agent"
    events: list[str] = []
    client = AgentWebSocketClient(ClientOptions(url=url))
    client.on(AgentWebSocketEvents.Open, lambda c, **_: events.append("Open"))
    assert client.start(SettingsConfigurationOptions()) is False
    assert events == [] and not client.is_connected()
    strict = AgentWebSocketClient(ClientOptions(url=url, options={"termination_exception_connect": "true"}))
    with pytest.raises(OSError):
        strict.start(SettingsConfigurationOptions())


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (None, VoicewireError),
        (42, VoicewireError),
        ({"agent": {"listen": {"model": "nova-2", "keyterms": ["x"]}}}, KeytermsError),
        ('{"audio": {"input": {"sample_rate": "fast"}}}', VoicewireError),
    ],
)
def test_invalid_settings_raise_before_connecting(settings: Any, error: type[Exception]) -> None:
    client = AgentWebSocketClient(ClientOptions(url=f"ws://127.0.0.1:{_closed_port()}/agent"))
    with pytest.raises(error):
        client.start(settings)


def test_send_before_start_and_after_finish_returns_false() -> None:
    client = AgentWebSocketClient(ClientOptions(url="ws://127.0.0.1:9/agent"))
    assert client.send("{}") is False
    assert client.finish() is True
    with ThreadedPeer() as peer:
        client = AgentWebSocketClient(ClientOptions(url=peer.url))
        assert client.start({}) is True
        assert client.is_connected()
        assert client.start({}) is False  # already connected
        assert client.finish() is True
        assert client.send_audio(USER_AUDIO) is False
        assert not client.is_connected()


def test_termination_exception_connect_reraises_in_the_listener_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raised: list[tuple[str, BaseException | None]] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        raised.append((args.thread.name if args.thread else "", args.exc_value))

    monkeypatch.setattr(threading, "excepthook", hook)
    options = {"termination_exception": True, "termination_exception_connect": True}
    with ThreadedPeer(garbage) as peer:
        client = AgentWebSocketClient(ClientOptions(url=peer.url, options=options))
        closes: list[float] = []
        client.on(AgentWebSocketEvents.Close, lambda c, **_: closes.append(time.monotonic()))
        assert client.start({}) is True
        wait_until(lambda: bool(raised))
        assert client.finish() is True
    [(thread, error)] = raised
    assert thread == "voicewire-listener"
    assert isinstance(error, ProtocolError)
    assert len(closes) == 1


def test_handlers_run_on_one_listener_thread() -> None:
    threads: list[str] = []
    with ThreadedPeer() as peer:
        client = AgentWebSocketClient(ClientOptions(url=peer.url))
        for event in (AgentWebSocketEvents.Welcome, AgentWebSocketEvents.SettingsApplied):
            client.on(event, lambda c, **_: threads.append(threading.current_thread().name))
        client.start({})
        wait_until(lambda: len(threads) == 2)
        client.finish()
    assert threads == ["voicewire-listener"] * 2
