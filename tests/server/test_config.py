"""Loading the server configuration from TOML/JSON and the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voicewire.protocol.agent import Endpoint
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
        ("[turns]\ndetector = 'vad'", "turns.detector must be one of 'smart-turn', 'silence'"),
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


def test_the_turn_detector_is_chosen_by_name() -> None:
    assert load_config(environ={}).turns.detector == "smart-turn"
    config = load_config(environ={"VOICEWIRE_TURNS_DETECTOR": "silence"})
    assert config.turns.detector == "silence"


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


TWILIO_TOML = """
function_call_allowlist = ["api.example.com"]
[twilio]
token = "from-the-file"
prompt = "You answer the phone for Example Inc."
voice = "aura-2-thalia-en"
greeting = "Example Inc., hello!"

[[twilio.functions]]
name = "check_order"
description = "Look up an order"
parameters = { type = "object", properties = { order_id = { type = "string" } }, required = ["order_id"] }
[twilio.functions.endpoint]
url = "https://api.example.com/orders"
method = "post"
headers = { authorization = "Bearer order-api-secret" }

[twilio.profiles.spanish]
prompt = "Respondes en español."
greeting = "Hola."
[twilio.profiles.bare]
functions = []
"""


def test_twilio_section_with_functions_and_profiles(tmp_path: Path) -> None:
    path = tmp_path / "voicewire.toml"
    path.write_text(TWILIO_TOML)
    config = load_config(path, environ={})
    config.check()
    twilio = config.twilio
    assert twilio.enabled and twilio.token == "from-the-file"
    (function,) = twilio.functions
    assert function.name == "check_order" and function.parameters["required"] == ["order_id"]
    assert function.endpoint == Endpoint(
        "https://api.example.com/orders", "post", {"authorization": "Bearer order-api-secret"}
    )
    default = twilio.default.settings()
    assert default.think.prompt == "You answer the phone for Example Inc."
    assert default.speak[0].model == "aura-2-thalia-en" and default.greeting == "Example Inc., hello!"
    profiles = twilio.profile_settings()
    # A profile's unset keys come from [twilio]; an empty list is set (no functions).
    assert profiles["spanish"].think.prompt == "Respondes en español."
    assert profiles["spanish"].speak == default.speak and profiles["spanish"].think.functions == (function,)
    assert profiles["bare"].think.functions == () and profiles["bare"].greeting == "Example Inc., hello!"
    # Neither the token nor a function's headers reach a log line that prints the config.
    assert "from-the-file" not in repr(config) and "order-api-secret" not in repr(config)


def test_twilio_token_from_the_environment() -> None:
    config = load_config(environ={"VOICEWIRE_TWILIO_TOKEN": "env-token", "VOICEWIRE_TWILIO_GREETING": "Hi"})
    assert (config.twilio.token, config.twilio.greeting) == ("env-token", "Hi")
    assert not load_config(environ={}).twilio.enabled


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[twilio.functions]]\nname = "f"\n', "'f' has no endpoint"),
        ('[[twilio.functions]]\nname = "f"\nendpoint = { url = "https://evil.example/x" }\n', "allowlist"),
        ('[[twilio.functions]]\ndescription = "f"\n', "missing configuration keys: twilio.functions[0].name"),
        ("[twilio.profiles.x]\nvoice = 3\n", "twilio.profiles.x.voice must be a string"),
        ("[twilio]\nfunctions = 3\n", "twilio.functions must be a list"),
        (
            'max_instructions_bytes = 4\n[twilio.profiles.x]\nprompt = "hello"\n',
            "profiles.x.prompt is longer",
        ),
    ],
)
def test_bad_twilio_sections_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "voicewire.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, environ={}).check()


def test_workers_and_drain_are_checked() -> None:
    config = load_config(environ={"VOICEWIRE_WORKERS": "2", "VOICEWIRE_DRAIN_TIMEOUT_S": "5"})
    assert (config.workers, config.drain_timeout_s) == (2, 5.0)
    config.check()
    for wrong, mentions in (
        (ServerConfig(workers=0), "workers"),
        (ServerConfig(workers=2, port=0), "port"),
        (ServerConfig(drain_timeout_s=-1), "drain_timeout_s"),
    ):
        with pytest.raises(ConfigError, match=mentions):
            wrong.check()
