"""ClientOptions, URL handling, boolean options and the DeepgramClient entry point."""

from __future__ import annotations

import pytest

from voicewire.client import (
    DEFAULT_URL,
    AgentWebSocketClient,
    AsyncAgentWebSocketClient,
    ClientOptions,
    DeepgramClient,
    DeepgramClientOptions,
    DeepgramError,
    VoicewireError,
)
from voicewire.client.options import parse_bool, websocket_url, with_query


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VOICEWIRE_URL", "VOICEWIRE_API_KEY", "DEEPGRAM_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ws://host:9000/agent", "ws://host:9000/agent"),
        ("wss://agent.example.com", "wss://agent.example.com/agent"),
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/agent"),
        ("https://agent.example.com/", "wss://agent.example.com/agent"),
        ("HTTPS://agent.example.com/v1/agent/converse", "wss://agent.example.com/v1/agent/converse"),
        ("agent.example.com", "wss://agent.example.com/agent"),
        ("localhost:8080", "ws://localhost:8080/agent"),
        ("127.0.0.2:1/x", "ws://127.0.0.2:1/x"),
        ("[::1]:8080", "ws://[::1]:8080/agent"),
        ("ws://h/agent?tenant=a", "ws://h/agent?tenant=a"),
        ("  ws://h:1  ", "ws://h:1/agent"),
    ],
)
def test_url_forms(given: str, expected: str) -> None:
    assert websocket_url(given) == expected
    assert ClientOptions(url=given).url == expected
    assert websocket_url(expected) == expected


@pytest.mark.parametrize("bad", ["ftp://h/agent", "ws:///agent", ""])
def test_bad_urls_are_rejected(bad: str) -> None:
    with pytest.raises(VoicewireError):
        websocket_url(bad)


def test_default_url_and_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClientOptions().url == DEFAULT_URL == "ws://localhost:8080/agent"
    monkeypatch.setenv("VOICEWIRE_URL", "https://voice.example.com")
    assert ClientOptions().url == "wss://voice.example.com/agent"
    assert ClientOptions(url="ws://explicit:1/agent").url == "ws://explicit:1/agent"


def test_query_parameters_like_the_seed() -> None:
    url = with_query(
        "ws://h/agent?keep=1&scenario=old", {"scenario": "new", "on": False, "no": None, "t": [1, 2]}
    )
    assert url == "ws://h/agent?keep=1&scenario=new&on=false&t=1&t=2"
    assert with_query("ws://h/agent", None) == "ws://h/agent"


def test_headers_authorization_and_custom_headers_survive() -> None:
    options = ClientOptions(api_key="k1", headers={"X-Custom": "yes"})
    assert options.headers["Authorization"] == "Token k1"
    assert options.headers["X-Custom"] == "yes"
    assert options.headers["User-Agent"].startswith("voicewire/")
    options.set_apikey("k2")
    assert options.headers["Authorization"] == "Token k2"
    assert options.headers["X-Custom"] == "yes"
    options.set_apikey("")
    assert "Authorization" not in options.headers
    assert "Authorization" not in ClientOptions().headers
    assert ClientOptions(api_key=None).api_key == ""


def test_repr_never_shows_the_key() -> None:
    text = repr(ClientOptions(api_key="super-secret"))
    assert "super-secret" not in text
    assert "***" in text


@pytest.mark.parametrize("value", [True, "true", "TRUE", " yes ", "1", "on", 1, 2.5])
def test_truthy_options(value: object) -> None:
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", [False, None, "false", "False", "0", "no", "off", "", 0, 0.0])
def test_falsy_options(value: object) -> None:
    assert parse_bool(value) is False


def test_unreadable_boolean_is_an_error_naming_the_option() -> None:
    with pytest.raises(VoicewireError, match="keepalive"):
        parse_bool("maybe", "keepalive")
    with pytest.raises(VoicewireError, match="termination_exception"):
        AgentWebSocketClient(ClientOptions(options={"termination_exception": "perhaps"}))
    with pytest.raises(VoicewireError, match="keepalive_interval"):
        AgentWebSocketClient(ClientOptions(options={"keepalive_interval": 0}))


def test_keepalive_false_string_is_off() -> None:
    assert ClientOptions(options={"keepalive": "false"}).is_keep_alive_enabled() is False
    assert ClientOptions(options={"keep_alive": "true"}).is_keep_alive_enabled() is True


def test_seed_names() -> None:
    assert DeepgramClientOptions is ClientOptions
    assert DeepgramError is VoicewireError


def test_deepgram_client_keeps_headers_and_never_mutates_the_config() -> None:
    config = DeepgramClientOptions(url="http://10.0.0.5:8080", headers={"X-From-Config": "1"})
    deepgram = DeepgramClient("key-1", config)
    client = deepgram.agent.websocket.v("1")
    assert isinstance(client, AgentWebSocketClient)
    assert isinstance(deepgram.agent.asyncwebsocket.v("1"), AsyncAgentWebSocketClient)
    assert deepgram.config.headers["X-From-Config"] == "1"
    assert deepgram.config.headers["Authorization"] == "Token key-1"
    assert client._websocket_url == "ws://10.0.0.5:8080/agent"
    assert config.url == "ws://10.0.0.5:8080/agent"
    assert "Authorization" not in config.headers
    assert config.api_key == ""


def test_deepgram_client_key_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DeepgramClient(config=ClientOptions(api_key="from-config")).config.headers["Authorization"] == (
        "Token from-config"
    )
    monkeypatch.setenv("DEEPGRAM_API_KEY", "from-deepgram-env")
    assert DeepgramClient().api_key == "from-deepgram-env"
    monkeypatch.setenv("VOICEWIRE_API_KEY", "from-voicewire-env")
    assert DeepgramClient().api_key == "from-voicewire-env"
    assert DeepgramClient("explicit").api_key == "explicit"


@pytest.mark.parametrize("version", ["", "0", "2"])
def test_unknown_versions_are_rejected(version: str) -> None:
    with pytest.raises(VoicewireError):
        DeepgramClient().agent.websocket.v(version)
