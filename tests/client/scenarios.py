"""Scenarios run unchanged against both clients: a peer script, client setup, and what must hold afterwards.

Handlers here are plain functions that return whatever the client call returns: a bool from the thread
client, a coroutine from the asyncio client (which awaits a handler's awaitable result). So one handler
drives both clients.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from voicewire.client import (
    AgentWebSocketClient,
    AgentWebSocketEvents,
    AsyncAgentWebSocketClient,
    ClientOptions,
)
from voicewire.client._core import SettingsLike
from voicewire.protocol import SettingsConfigurationOptions

from .peer import (
    Peer,
    PeerSession,
    Script,
    ThreadedPeer,
    opening_only,
    until,
    wait_until,
    welcome_then_settings,
)

Events = AgentWebSocketEvents
Client = AgentWebSocketClient | AsyncAgentWebSocketClient
USER_AUDIO = b"\x01\x02" * 160
AGENT_AUDIO = b"\x03\x04" * 320


class Recorder:
    """Every event the client emitted, in order, with the keywords its handlers received."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def attach(self, client: Client) -> None:
        for event in Events:
            client.on(event, self._handler(event))

    def _handler(self, event: AgentWebSocketEvents) -> Callable[..., None]:
        def record(client: object, **payload: Any) -> None:
            self.events.append((str(event), payload))

        return record

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def payloads(self, event: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.events if name == event]

    def count(self, event: str) -> int:
        return len(self.payloads(event))

    def has(self, event: str) -> bool:
        return any(name == event for name, _ in self.events)


@dataclasses.dataclass
class Run:
    client: Client
    recorder: Recorder
    peer: Peer
    devices: dict[str, Any]
    finish_seconds: float = 0.0
    leftover_threads: list[str] = dataclasses.field(default_factory=list)
    leftover_tasks: list[str] = dataclasses.field(default_factory=list)


def _default_config(options: dict[str, Any]) -> Callable[[Peer], ClientOptions]:
    return lambda peer: ClientOptions(url=peer.url, options=options)


@dataclasses.dataclass
class Scenario:
    name: str
    done: Callable[[Run], bool]
    check: Callable[[Run], None]
    script: Script = opening_only
    settings: SettingsLike = dataclasses.field(default_factory=SettingsConfigurationOptions)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: Callable[[Peer], ClientOptions] | None = None
    start_kwargs: Callable[[Peer], dict[str, Any]] = lambda peer: {}
    devices: Callable[[], dict[str, Any]] = dict
    handlers: list[tuple[AgentWebSocketEvents, Callable[..., object]]] = dataclasses.field(
        default_factory=list
    )
    prepare: Callable[[Client], None] | None = None
    linger: float = 0.0

    def make_config(self, peer: Peer) -> ClientOptions:
        return (self.config or _default_config(self.options))(peer)


def _common_checks(run: Run) -> None:
    names = run.recorder.names()
    assert names[0] == "Open", names
    assert names.count("Close") == 1, names
    assert names[-1] == "Close", names
    assert run.finish_seconds < 1.0
    assert run.leftover_threads == []
    assert run.leftover_tasks == []
    assert run.peer.script_errors == []


def _setup(scenario: Scenario, client: Client, peer: Peer, devices: dict[str, Any]) -> Run:
    recorder = Recorder()
    recorder.attach(client)
    for event, handler in scenario.handlers:
        client.on(event, handler)
    if scenario.prepare is not None:
        scenario.prepare(client)
    return Run(client, recorder, peer, devices)


def run_sync(scenario: Scenario) -> Run:
    with ThreadedPeer(scenario.script) as peer:
        devices = scenario.devices()
        client = AgentWebSocketClient(scenario.make_config(peer), **devices)
        run = _setup(scenario, client, peer, devices)
        before = set(threading.enumerate())
        assert client.start(scenario.settings, **scenario.start_kwargs(peer)) is True
        wait_until(lambda: scenario.done(run))
        time.sleep(scenario.linger)
        started = time.monotonic()
        assert client.finish() is True
        run.finish_seconds = time.monotonic() - started
        run.leftover_threads = [t.name for t in set(threading.enumerate()) - before]
        wait_until(lambda: bool(peer.close_codes))
    _common_checks(run)
    scenario.check(run)
    return run


def _live_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if not t.done() and not t.get_name().startswith("peer")}


async def run_async(scenario: Scenario) -> Run:
    async with Peer(scenario.script) as peer:
        devices = scenario.devices()
        client = AsyncAgentWebSocketClient(scenario.make_config(peer), **devices)
        run = _setup(scenario, client, peer, devices)
        threads, tasks = set(threading.enumerate()), _live_tasks()
        assert await client.start(scenario.settings, **scenario.start_kwargs(peer)) is True
        await until(lambda: scenario.done(run))
        await asyncio.sleep(scenario.linger)
        started = time.monotonic()
        assert await client.finish() is True
        run.finish_seconds = time.monotonic() - started
        run.leftover_threads = [t.name for t in set(threading.enumerate()) - threads]
        run.leftover_tasks = [t.get_name() for t in _live_tasks() - tasks]
        await until(lambda: bool(peer.close_codes))
    _common_checks(run)
    scenario.check(run)
    return run


# --- the full protocol.md §2 flow ----------------------------------------------------------------------


async def full_flow(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await s.expect("UpdateInstructions")
    await s.send_json(type="InstructionsUpdated")
    await s.expect("UpdateSpeak")
    await s.send_json(type="SpeakUpdated")
    await s.expect("InjectAgentMessage")
    await s.send_json(type="InjectionRefused")
    await s.send_json(type="ConversationText", role="user", content="Weather in Paris?")
    await s.send_json(type="UserStartedSpeaking")
    await s.send_json(type="AgentThinking", content="I should call get_weather")
    await s.send_json(type="FunctionCalling", name="get_weather")
    await s.send_json(
        type="FunctionCallRequest",
        function_name="get_weather",
        function_call_id="call-1",
        input={"city": "Paris"},
    )
    await s.expect("FunctionCallResponse")
    await s.send_json(type="ConversationText", role="assistant", content="It is 21 degrees.")
    await s.send_json(type="AgentStartedSpeaking", total_latency=0.5, tts_latency=0.2, ttt_latency=0.3)
    await s.send(AGENT_AUDIO)
    await s.send(AGENT_AUDIO)
    await s.send_json(type="AgentAudioDone")
    await s.send_json(type="Warning", description="going away soon", code="API_CUTOVER_SOON")
    await s.send_json(type="Error", message="server-side problem", description="details")
    await s.send_json(type="Mystery", detail=1)


def _on_function_call(client: Client, function_call_request: Any, **_: Any) -> object:
    city = json.loads(function_call_request.input)["city"]
    return client.send_function_call_response(function_call_request.function_call_id, {"city": city, "c": 21})


def _check_full_flow(run: Run) -> None:
    rec, peer = run.recorder, run.peer
    server_events = {
        "Welcome", "SettingsApplied", "ConversationText", "UserStartedSpeaking", "AgentThinking",
        "FunctionCalling", "FunctionCallRequest", "AgentStartedSpeaking", "AudioData", "AgentAudioDone",
        "InjectionRefused", "InstructionsUpdated", "SpeakUpdated", "Warning", "Error", "Unhandled",
    }  # fmt: skip
    assert server_events <= set(rec.names())
    assert rec.payloads("Welcome")[0]["welcome"].session_id == "session-1"
    assert [p["data"] for p in rec.payloads("AudioData")] == [AGENT_AUDIO, AGENT_AUDIO]
    assert rec.payloads("AgentStartedSpeaking")[0]["agent_started_speaking"].total_latency == 0.5
    assert rec.payloads("FunctionCalling")[0]["function_calling"].extra == {"name": "get_weather"}
    assert [p["error"].message for p in rec.payloads("Error")] == ["server-side problem"]
    assert rec.payloads("Warning")[0]["warning"].code == "API_CUTOVER_SOON"
    assert json.loads(rec.payloads("Unhandled")[0]["unhandled"].raw)["type"] == "Mystery"
    assert peer.types()[0] == "SettingsConfiguration"
    assert peer.received[1] == USER_AUDIO
    sent = {m["type"]: m for m in peer.messages()}
    assert sent["UpdateInstructions"]["instructions"] == "Be brief."
    assert sent["UpdateSpeak"]["model"] == "aura-orion-en"
    assert sent["InjectAgentMessage"]["message"] == "Hello!"
    reply = sent["FunctionCallResponse"]
    assert reply["function_call_id"] == "call-1"
    assert json.loads(reply["output"]) == {"city": "Paris", "c": 21}
    assert peer.close_codes == [1000]


FULL_FLOW = Scenario(
    name="full_flow",
    script=full_flow,
    handlers=[
        (Events.Welcome, lambda client, **_: client.send_audio(USER_AUDIO)),
        (Events.SettingsApplied, lambda client, **_: client.update_instructions("Be brief.")),
        (Events.InstructionsUpdated, lambda client, **_: client.update_speak("aura-orion-en")),
        (Events.SpeakUpdated, lambda client, **_: client.inject_agent_message("Hello!")),
        (Events.FunctionCallRequest, _on_function_call),
    ],
    done=lambda run: run.recorder.has("Unhandled"),
    check=_check_full_flow,
)


# --- errors are events; the connection stays up ----------------------------------------------------------


async def bad_frames(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await s.send("{not json")
    await s.send('{"type": "Welcome"}')
    await s.send(
        '{"type": "AgentStartedSpeaking", "total_latency": "slow", "tts_latency": 0, "ttt_latency": 0}'
    )
    await s.send("[1, 2]")
    await s.send_json(type="Close")
    await s.send_json(type="ConversationText", role="user", content="boom")
    await s.send_json(type="ConversationText", role="user", content="after")
    await s.expect("InjectAgentMessage")
    await s.send_json(type="InjectionRefused")


def _explode_or_reply(client: Client, conversation_text: Any, **_: Any) -> object:
    if conversation_text.content == "boom":
        raise RuntimeError("handler failed")
    return client.inject_agent_message("still here")


def _check_bad_frames(run: Run) -> None:
    errors = [p["error"] for p in run.recorder.payloads("Error")]
    assert len(errors) == 5
    assert all(e.type == "Exception" for e in errors)
    assert all(e.description.endswith("._process_text") for e in errors[:4])
    assert "session_id" in errors[1].message
    assert "total_latency" in errors[2].message
    assert "handler for ConversationText" in errors[4].description
    assert errors[4].message == "handler failed"
    assert [p["unhandled"].raw for p in run.recorder.payloads("Unhandled")] == ['{"type": "Close"}']
    assert run.recorder.has("InjectionRefused")
    assert run.peer.close_codes == [1000]


BAD_FRAMES = Scenario(
    name="bad_frames_keep_connection",
    script=bad_frames,
    handlers=[(Events.ConversationText, _explode_or_reply)],
    done=lambda run: run.recorder.has("InjectionRefused"),
    check=_check_bad_frames,
)


# --- termination_exception closes ---------------------------------------------------------------------


async def boom(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await s.send_json(type="ConversationText", role="user", content="boom")
    await s.send_json(type="ConversationText", role="user", content="never delivered")


async def garbage(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await s.send("{oops")
    await s.send_json(type="ConversationText", role="user", content="never delivered")


def _check_terminated(run: Run) -> None:
    names = run.recorder.names()
    assert names[-2:] == ["Error", "Close"]
    assert all(
        p["conversation_text"].content != "never delivered" for p in run.recorder.payloads("ConversationText")
    )
    assert run.peer.close_codes == [1000]


TERMINATE_ON_HANDLER = Scenario(
    name="termination_exception_on_handler_error",
    script=boom,
    options={"termination_exception": "true"},
    handlers=[(Events.ConversationText, _explode_or_reply)],
    done=lambda run: run.recorder.has("Close"),
    check=_check_terminated,
)

TERMINATE_ON_GARBAGE = Scenario(
    name="termination_exception_on_malformed_frame",
    script=garbage,
    options={"termination_exception": True},
    done=lambda run: run.recorder.has("Close"),
    check=_check_terminated,
)


# --- server-initiated close ---------------------------------------------------------------------------


def _closing(code: int) -> Script:
    async def script(s: PeerSession) -> None:
        await welcome_then_settings(s)
        await s.close(code, "bye")

    return script


def _check_normal_close(run: Run) -> None:
    assert not run.recorder.has("Error")
    assert run.recorder.names()[-2:] == ["SettingsApplied", "Close"]


def _check_error_close(run: Run) -> None:
    assert run.recorder.names()[-2:] == ["Error", "Close"]
    error = run.recorder.payloads("Error")[0]["error"]
    assert error.type == "ConnectionClosed"
    assert "1011" in error.message


SERVER_CLOSE_1000 = Scenario(
    name="server_close_1000",
    script=_closing(1000),
    done=lambda run: run.recorder.has("Close"),
    check=_check_normal_close,
)

SERVER_CLOSE_1011 = Scenario(
    name="server_close_1011",
    script=_closing(1011),
    done=lambda run: run.recorder.has("Close"),
    check=_check_error_close,
)


# --- keepalive ---------------------------------------------------------------------------------------


def _settings_applied(run: Run) -> bool:
    return run.recorder.has("SettingsApplied")


def _keepalives(run: Run) -> int:
    return run.peer.types().count("KeepAlive")


def _check_keepalive_timing(run: Run) -> None:
    # 0.1 s interval for about 0.55 s: 5 expected, with slack for a slow machine.
    assert 3 <= _keepalives(run) <= 7
    assert run.peer.messages()[-1] == {"type": "KeepAlive"}


def _check_no_keepalive(run: Run) -> None:
    assert _keepalives(run) == 0


def _flaky_keep_alive(client: Client) -> None:
    """Make the first KeepAlive fail; later ones go through."""
    real = client.keep_alive
    calls = []

    def keep_alive() -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("network blip")
        return real()

    client.keep_alive = keep_alive  # type: ignore[method-assign]


def _check_keepalive_survives(run: Run) -> None:
    assert _keepalives(run) >= 2
    assert run.recorder.names()[-2:] == ["SettingsApplied", "Close"]


KEEPALIVE_TIMING = Scenario(
    name="keepalive_every_interval",
    options={"keepalive": "true", "keepalive_interval": 0.1},
    done=_settings_applied,
    linger=0.55,
    check=_check_keepalive_timing,
)

KEEPALIVE_FALSE_IS_OFF = Scenario(
    name="keepalive_false_string_is_off",
    options={"keepalive": "false", "keep_alive": "0", "keepalive_interval": 0.02},
    done=_settings_applied,
    linger=0.2,
    check=_check_no_keepalive,
)

KEEPALIVE_SURVIVES_FAILURE = Scenario(
    name="keepalive_survives_a_failed_send",
    options={"keep_alive": True, "keepalive_interval": 0.05},
    prepare=_flaky_keep_alive,
    done=lambda run: _keepalives(run) >= 2,
    check=_check_keepalive_survives,
)


# --- URL, headers, addons, members ---------------------------------------------------------------------


def _check_handshake(run: Run) -> None:
    assert run.peer.paths == ["/custom/path?scenario=happy&flag=true&tags=a&tags=b"]
    headers = run.peer.headers[0]
    assert headers["Authorization"] == "Token secret-key"
    assert headers["X-Config"] == "from-config"
    assert headers["X-Start"] == "from-start"
    assert headers.get_all("User-Agent") == [headers["User-Agent"]]
    assert headers["User-Agent"].startswith("voicewire/")


HANDSHAKE = Scenario(
    name="url_headers_addons_members",
    config=lambda peer: ClientOptions(
        api_key="secret-key", url="http://127.0.0.1:9/not-here", headers={"X-Config": "from-config"}
    ),
    start_kwargs=lambda peer: {
        "members": {"_websocket_url": f"http://127.0.0.1:{peer.port}/custom/path"},
        "headers": {"X-Start": "from-start"},
        "addons": {"scenario": "happy", "flag": True, "skip": None, "tags": ["a", "b"]},
    },
    done=_settings_applied,
    check=_check_handshake,
)


# --- settings as object, dict or JSON text; unknown keys are kept ---------------------------------------

SETTINGS_DICT: dict[str, Any] = {
    "type": "SettingsConfiguration",
    "experimental": True,
    "greeting": "Hello there",
    "agent": {
        "listen": {"model": "nova-3", "keyterms": ["voicewire"]},
        "think": {
            "provider": {"type": "custom", "url": "http://llm.local/v1"},
            "model": "m",
            "instructions": "Hi",
        },
        "speak": {"model": "aura-orion-en"},
    },
    "context": {"messages": [{"role": "user", "content": "hi"}], "replay": False},
}


def _settings_object() -> SettingsConfigurationOptions:
    return SettingsConfigurationOptions.from_dict(json.loads(json.dumps(SETTINGS_DICT)))


def _check_settings(run: Run) -> None:
    sent = run.peer.messages()[0]
    assert sent["greeting"] == "Hello there"
    assert sent["experimental"] is True
    assert sent["agent"]["think"]["provider"] == {"type": "custom", "url": "http://llm.local/v1"}
    assert sent["agent"]["listen"]["keyterms"] == ["voicewire"]
    assert sent["context"]["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["audio"]["input"] == {"encoding": "linear16", "sample_rate": 16000}


SETTINGS_FORMS = [
    Scenario(name=f"settings_as_{form}", settings=value, done=_settings_applied, check=_check_settings)
    for form, value in (
        ("object", _settings_object()),
        ("dict", SETTINGS_DICT),
        ("json", json.dumps(SETTINGS_DICT)),
    )
]


# --- start(**kwargs) reaches every handler; finish() from inside a handler --------------------------------


def _check_kwargs(run: Run) -> None:
    assert {"Open", "Welcome", "SettingsApplied", "Error", "Close"} <= set(run.recorder.names())
    assert all(payload.get("tag") == "t-1" for _, payload in run.recorder.events)


async def welcome_settings_error(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await s.send("{not json")


START_KWARGS = Scenario(
    name="start_kwargs_reach_every_handler",
    script=welcome_settings_error,
    start_kwargs=lambda peer: {"tag": "t-1"},
    done=lambda run: run.recorder.has("Error"),
    check=_check_kwargs,
)


def _check_finished_inside(run: Run) -> None:
    assert run.recorder.names()[-2:] == ["SettingsApplied", "Close"]
    assert not run.recorder.has("Error")
    assert run.peer.close_codes == [1000]


FINISH_INSIDE_HANDLER = Scenario(
    name="finish_from_a_handler",
    handlers=[(Events.SettingsApplied, lambda client, **_: client.finish())],
    done=lambda run: run.recorder.has("Close"),
    check=_check_finished_inside,
)


SCENARIOS = [
    FULL_FLOW,
    BAD_FRAMES,
    TERMINATE_ON_HANDLER,
    TERMINATE_ON_GARBAGE,
    SERVER_CLOSE_1000,
    SERVER_CLOSE_1011,
    KEEPALIVE_TIMING,
    KEEPALIVE_FALSE_IS_OFF,
    KEEPALIVE_SURVIVES_FAILURE,
    HANDSHAKE,
    *SETTINGS_FORMS,
    START_KWARGS,
    FINISH_INSIDE_HANDLER,
]


# --- the seed SDK's example flow, used by the ported-code tests ------------------------------------------


async def seed_example_flow(s: PeerSession) -> None:
    """What protocol.md §2.5 describes, in order, answering the client's messages as a server would."""
    await welcome_then_settings(s)
    await s.send_json(type="ConversationText", role="user", content="What's the weather?")
    await s.send_json(type="UserStartedSpeaking")
    await s.send_json(type="AgentThinking", content="Looking it up")
    await s.send_json(type="FunctionCalling")
    await s.send_json(
        type="FunctionCallRequest",
        function_name="get_weather",
        function_call_id="fc-9",
        input={"city": "Oslo"},
    )
    await s.expect("FunctionCallResponse")
    await s.send_json(type="ConversationText", role="assistant", content="Cold.")
    await s.send_json(type="AgentStartedSpeaking", total_latency=0.4, tts_latency=0.1, ttt_latency=0.3)
    await s.send(AGENT_AUDIO)
    await s.send_json(type="AgentAudioDone")
    await s.expect("InjectAgentMessage")
    await s.send_json(type="InjectionRefused")
    await s.expect("KeepAlive")
    await s.send_json(type="Error", message="late error", description="still fine")
    await s.send_json(type="SomethingNew")


SEED_EVENTS = [
    "Open", "Welcome", "SettingsApplied", "ConversationText", "UserStartedSpeaking", "AgentThinking",
    "FunctionCalling", "FunctionCallRequest", "ConversationText", "AgentStartedSpeaking", "AudioData",
    "AgentAudioDone", "InjectionRefused", "Error", "Unhandled", "Close",
]  # fmt: skip


def check_seed_example(peer: Peer, seen: list[str]) -> None:
    assert seen == SEED_EVENTS
    assert peer.headers[0]["Authorization"] == "Token test-key"
    assert peer.headers[0]["X-Team"] == "voice"
    sent = peer.messages()
    settings = sent[0]
    assert settings["type"] == "SettingsConfiguration"
    assert settings["agent"]["think"] == {
        "provider": {"type": "open_ai"},
        "model": "gpt-4o-mini",
        "instructions": "You are a helpful AI assistant.",
    }
    by_type = {m["type"]: m for m in sent}
    assert by_type["FunctionCallResponse"] == {
        "type": "FunctionCallResponse", "function_call_id": "fc-9", "output": "Function response here"
    }  # fmt: skip
    assert by_type["InjectAgentMessage"]["message"] == "Anything else?"
    assert peer.audio() == [USER_AUDIO]
    assert peer.close_codes == [1000]
