"""A protocol fuzzer: generated client frames against a real `Connection`/`Session` on a virtual clock.

Every client message type of both dialects is generated from a plausible template with fields replaced,
dropped or added at random, mixed with raw text, JSON of the wrong shape and binary audio frames, and sent
in sequences (half of them after valid settings, so commands reach a configured session). Each sequence
must leave no exception, no `INTERNAL_SERVER_ERROR`, no log record at ERROR or with a traceback, and a
session that still answers; then the virtual clock runs on so replies, function calls and timers play out
under the same checks.

`FUZZ_EXAMPLES` sequences per dialect (environment variable; `make soak` raises it) of `_MIN_FRAMES` to
`_MAX_FRAMES` frames: together at least `MIN_INPUTS` frames per run.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.timeline import TEST_TURNS, V1_SETTINGS, Timeline, settle
from voicewire.protocol import SettingsConfigurationOptions
from voicewire.protocol.dialects import V1, EarlyAccess, WireFormat
from voicewire.server import ServerConfig

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
MIN_INPUTS = 10_000 * EXAMPLES // 300 if EXAMPLES >= 300 else 0
_MIN_FRAMES, _MAX_FRAMES = 16, 40
_inputs = {"count": 0}

EARLY_ACCESS_SETTINGS: dict[str, Any] = json.loads(str(SettingsConfigurationOptions()))
_FUNCTION = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
#: A plausible instance of every client message type, per dialect.
TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "early-access": [
        EARLY_ACCESS_SETTINGS,
        {"type": "UpdateInstructions", "instructions": "Be brief."},
        {"type": "UpdateSpeak", "model": "aura-asteria-en"},
        {"type": "InjectAgentMessage", "message": "Hello there."},
        {"type": "FunctionCallResponse", "function_call_id": "call_1", "output": "sunny"},
        {"type": "KeepAlive"},
    ],
    "v1": [
        V1_SETTINGS,
        {"type": "UpdatePrompt", "prompt": "Be brief."},
        {"type": "UpdateSpeak", "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}}},
        {
            "type": "UpdateThink",
            "think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}, "functions": [_FUNCTION]},
        },
        {"type": "UpdateListen", "listen": {"provider": {"type": "deepgram", "model": "nova-3"}}},
        {"type": "InjectAgentMessage", "message": "Hello there."},
        {"type": "InjectUserMessage", "content": "What is the weather?"},
        {"type": "FunctionCallResponse", "id": "call_1", "name": "get_weather", "content": "sunny"},
        {"type": "KeepAlive"},
    ],
}

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 8000, 16000, 48000, 2**31, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "linear16", "mulaw", "alaw", "wav", "none", "call_1", "user", "assistant"])
)
json_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key or index path inside `value` (excluding the root)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


@st.composite
def messages(draw: st.DrawFn, dialect: str) -> str:
    message = copy.deepcopy(draw(st.sampled_from(TEMPLATES[dialect])))
    paths = list(_paths(message))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths))
        parent = message
        for step in path[:-1]:
            parent = parent[step] if isinstance(parent, dict | list) and _has(parent, step) else None
            if parent is None:
                break
        if not isinstance(parent, dict | list) or not _has(parent, path[-1]):
            continue
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    return json.dumps(message)


def _has(container: dict[str, Any] | list[Any], step: Any) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(step, int) and 0 <= step < len(container)


raw_text = (
    st.text(max_size=200)
    | st.sampled_from(
        [
            "",
            "{",
            "null",
            "[]",
            '{"type": null}',
            '{"type": 7}',
            '{"type": "KeepAlive", "n": ' + "9" * 5000 + "}",
            '{"type": "InjectAgentMessage", "message": "' + "word " * 2000 + '"}',
            "[" * 5000 + "]" * 5000,
            '{"type": "\\ud800"}',
        ]
    )
    | json_values.map(json.dumps)
)
audio = st.binary(max_size=1400) | st.integers(1, 3).map(lambda n: b"\x10\x27" * 160 * n)


def frames(dialect: str) -> st.SearchStrategy[str | bytes]:
    return st.one_of(messages(dialect), messages(dialect), raw_text, audio)


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


def _errors_of(t: Timeline, code: str) -> list[dict[str, Any]]:
    return [m for m in t.messages if m.get("type") == "Error" and m.get("code") == code]


async def _drive(wire: WireFormat, dialect: str, configured: bool, sequence: list[str | bytes]) -> None:
    config = ServerConfig(turns=TEST_TURNS, idle_timeout_s=1e9)
    async with Timeline(wire=wire, config=config) as t:
        if configured:
            await t.send(json.dumps(TEMPLATES[dialect][0]))
        for frame in sequence:
            await t.connection.receive(frame)
            for _ in range(5):
                await asyncio.sleep(0)
        _inputs["count"] += len(sequence)
        await settle()
        assert _errors_of(t, "INTERNAL_SERVER_ERROR") == []
        mark = t.mark()
        await t.send('{"type": "NoSuchMessage"}')  # the session still reads and answers
        assert t.since(mark) == ["Error"], t.since(mark)
        assert t.transport.closed is None
        await t.clock.advance(60)
        assert _errors_of(t, "INTERNAL_SERVER_ERROR") == []


@pytest.mark.parametrize("dialect", ["early-access", "v1"])
def test_generated_frames_never_crash_the_session(dialect: str) -> None:
    failures = _Failures()
    logging.getLogger().addHandler(failures)
    wire: type[WireFormat] = EarlyAccess if dialect == "early-access" else V1

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(
        configured=st.booleans(),
        sequence=st.lists(frames(dialect), min_size=_MIN_FRAMES, max_size=_MAX_FRAMES),
    )
    def run(configured: bool, sequence: list[str | bytes]) -> None:
        asyncio.run(_drive(wire(), dialect, configured, sequence))

    try:
        run()
    finally:
        logging.getLogger().removeHandler(failures)
    assert [failures.format(r) for r in failures.records] == []


def test_the_fuzzer_sent_enough_inputs() -> None:
    """Runs after both dialects (pytest keeps file order)."""
    print(f"fuzzer: {_inputs['count']} inputs")
    assert _inputs["count"] >= MIN_INPUTS, _inputs["count"]
