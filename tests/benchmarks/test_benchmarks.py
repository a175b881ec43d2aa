"""Smoke tests: every benchmark runs end to end on a tiny input and writes its JSON.

They check that the benchmarks work, never how fast anything is: figures belong in the benchmark output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.common import FloodPeer, cut_phrases, load_speech, speech_bounds, summary

from benchmarks import __main__ as bench
from benchmarks import replies


def test_summary_percentiles() -> None:
    stats = summary([1.0, 2.0, 3.0, 4.0])
    assert stats["p50"] == 2.5
    assert stats["max"] == 4.0


def test_phrases_cut_from_the_preamble_keep_their_speech() -> None:
    phrases = cut_phrases(load_speech())
    assert len(phrases) >= 4
    for pcm in phrases:
        start, end = speech_bounds(pcm)
        assert 0 < start < end <= len(pcm) / 16_000


def test_unknown_benchmark_is_refused() -> None:
    assert bench.run("nope", []) == 2


def test_sdk_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "sdk.json"
    assert bench.run("sdk", ["--quick", "--json", str(out)]) == 0
    clients = {r["client"] for r in json.loads(out.read_text())["results"]}
    assert {"voicewire sync", "voicewire async", "deepgram-sdk 3.11 sync", "bare websockets sync"} <= clients


def test_flood_peer_serves_the_whole_burst() -> None:
    from websockets.sync.client import connect

    with FloodPeer(30) as peer, connect(peer.url) as ws:
        ws.send("{}")
        received = [ws.recv() for _ in range(30)]
    assert sum(isinstance(m, bytes) for m in received) == 15


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--loop", "asyncio", "--gate-dbfs", "off", "--silero-graph", "original"],
        ["--workers", "2"],
    ],
)
def test_capacity_benchmark_quick(tmp_path: Path, options: list[str]) -> None:
    out = tmp_path / "capacity.json"
    assert bench.run("capacity", ["--quick", "--json", str(out), *options]) == 0
    steps = json.loads(out.read_text())["steps"]
    assert steps and steps[0]["failed_sessions"] == 0
    assert steps[0]["lag_s"]["n"] > 0  # probes were answered and timed


@pytest.mark.models
@pytest.mark.parametrize("dialect", ["early-access", "v1"])
def test_latency_benchmark_quick(tmp_path: Path, dialect: str) -> None:
    out = tmp_path / "latency.json"
    assert bench.run("latency", ["--quick", "--dialect", dialect, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dialect"] == dialect
    (turn,) = result["turns"]
    assert turn["heard"]  # the server transcribed the turn (a reply may miss the timeout on a busy machine)


@pytest.mark.models
def test_turns_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "turns.json"
    assert bench.run("turns", ["--quick", "--live", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    detectors = result["detectors"]
    assert detectors[0]["internal_pauses"] > 0
    assert all(d["missed_real_ends"] == 0 for d in detectors)
    # "Stop." over the agent is shorter than a barge-in by length; Whisper hears the word in it.
    assert detectors[1]["barge_in_by_kind"]["interruption"] == 1.0
    assert detectors[2]["barge_in_by_kind"]["interruption"] == 0.0  # by its length alone
    spoken = {item["utterance"].split()[0]: item for item in result["live"]}  # one per kind, to the server
    assert sorted(spoken) == ["espeak:", "jfk-16k-linear16", "preamble-22k-linear16", "testing-8k-mulaw"]
    assert "United States" in spoken["preamble-22k-linear16"]["heard"]
    assert "your country" in spoken["jfk-16k-linear16"]["heard"]


@pytest.mark.models
def test_vad_gate_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "vad_gate.json"
    assert bench.run("vad_gate", ["--quick", "--json", str(out)]) == 0
    recordings = json.loads(out.read_text())["recordings"]
    assert recordings and all(r["decisions_differ"] < 0.05 for r in recordings)


@pytest.mark.models
def test_vad_cost_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "vad_cost.json"
    assert bench.run("vad_cost", ["--quick", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["us_per_window"]["gemm 16 kHz (default)"]) == {"1", "4", "16", "64"}
    rows = {(r["variant"], r["scored"]): r for r in result["accuracy"]}
    default = rows["gemm 16 kHz (default)", "together"]
    assert default["windows"] > 500 and default["differ_at_0.5"] == 0
    assert rows["gemm int8", "alone"]["max_probability_difference"] > 0  # the variants really differ


def test_replies_are_judged_against_what_was_heard() -> None:
    turns = [
        {"heard": "Establish justice.", "replied": "Establish justice.", "keywords": ["law"]},
        {"heard": "What is the law?", "replied": "Courts apply the law.", "keywords": ["court", "law"]},
        {"heard": "And then?", "replied": "Courts apply the law.", "keywords": ["court"]},
        {"heard": "Hello?", "replied": "", "keywords": ["hi"]},
    ]
    replies.judge(turns)
    assert [(t["echo"], t["repeat"], t["empty"]) for t in turns] == [
        (True, False, False),
        (False, False, False),
        (False, True, False),
        (False, False, True),
    ]
    assert [t["relevant"] for t in turns] == [False, True, True, False]
    assert replies.rates(turns)["echo"] == 0.25


def test_replies_scenarios_have_thirty_turns() -> None:
    assert len(replies.SCENARIOS) == 3
    assert sum(len(scenario.lines) for scenario in replies.SCENARIOS) >= 30


@pytest.mark.models
def test_replies_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "replies.json"
    assert bench.run("replies", ["--quick", "--json", str(out)]) == 0
    turns = json.loads(out.read_text())["turns"]
    assert len(turns) == 2 and all(turn["heard"] for turn in turns)
