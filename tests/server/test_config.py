"""Loading the server configuration from TOML/JSON and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicewire.server.config import ConfigError, ServerConfig, TurnConfig, is_loopback, load_config


def test_defaults() -> None:
    config = load_config(environ={})
    assert config == ServerConfig()
    assert (config.host, config.port, config.max_text_frame_bytes) == ("127.0.0.1", 8080, 256 * 1024)
    assert (config.turns.end_of_turn_ms, config.turns.tail_ms, config.turns.speculative_stt) == (
        300,
        64,
        True,
    )


def test_toml_with_tables(tmp_path: Path) -> None:
    path = tmp_path / "voicewire.toml"
    path.write_text(
        """
        port = 9000
        api_keys = ["a", "b"]
        function_call_allowlist = ["127.0.0.1:8000", "api.example.com"]
        idle_timeout_s = 30
        [turns]
        end_of_turn_ms = 450
        speculative_stt = false
        [engines]
        tts = "espeak"
        """
    )
    config = load_config(path, environ={})
    assert config.port == 9000
    assert config.api_keys == ("a", "b")
    assert config.function_call_allowlist == ("127.0.0.1:8000", "api.example.com")
    assert config.idle_timeout_s == 30.0
    assert config.turns == TurnConfig(end_of_turn_ms=450, speculative_stt=False)
    assert config.engines == {"tts": "espeak"}


def test_json(tmp_path: Path) -> None:
    path = tmp_path / "voicewire.json"
    path.write_text('{"max_sessions": 3, "turns": {"onset_windows": 2}}')
    config = load_config(path, environ={})
    assert (config.max_sessions, config.turns.onset_windows) == (3, 2)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "voicewire.toml"
    path.write_text("port = 9000\n")
    environ = {
        "VOICEWIRE_PORT": "9100",
        "VOICEWIRE_API_KEYS": "k1, k2",
        "VOICEWIRE_INSECURE": "true",
        "VOICEWIRE_TURNS_END_OF_TURN_MS": "250",
        "VOICEWIRE_OUTPUT_PACING": "1.5",
    }
    config = load_config(path, environ=environ)
    assert (config.port, config.api_keys, config.insecure) == (9100, ("k1", "k2"), True)
    assert config.turns.end_of_turn_ms == 250
    assert config.output_pacing == 1.5


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("prot = 1", "prot"),
        ("port = 'x'", "port"),
        ("[turns]\nend_of_turn = 3", "turns.end_of_turn"),
        ("api_keys = [1]", "api_keys"),
        ("turns = 5", "turns"),
        ("insecure = 'maybe'", "insecure"),
        ("port = 1.5", "port"),
        ("port = ", "voicewire.toml"),
    ],
)
def test_mistakes_are_reported_by_key(tmp_path: Path, text: str, mentions: str) -> None:
    path = tmp_path / "voicewire.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=mentions):
        load_config(path, environ={})


def test_a_bad_environment_value_is_reported() -> None:
    with pytest.raises(ConfigError, match="VOICEWIRE_PORT"):
        load_config(environ={"VOICEWIRE_PORT": "eighty"})


def test_check_refuses_an_open_unauthenticated_server() -> None:
    with pytest.raises(ConfigError, match="--insecure"):
        ServerConfig(host="0.0.0.0").check()
    ServerConfig(host="0.0.0.0", insecure=True).check()
    ServerConfig(host="0.0.0.0", api_keys=("k" * 16,)).check()
    ServerConfig(host="::1").check()
    with pytest.raises(ConfigError, match="output_chunk_ms"):
        ServerConfig(output_chunk_ms=200).check()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True)],
        *[("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("example.com", False)],
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_keys_are_not_in_the_repr() -> None:
    assert "sekrit" not in repr(ServerConfig(api_keys=("sekrit",)))
