"""Turn latency through the real server and default engines, as a caller on voicewire's async client hears it.

Each turn streams an utterance in real time (20 ms frames) followed by silence. Latency runs from the true
end of the user's speech in the source audio (last frame above the speech threshold) to the first agent
audio byte at the client. The breakdown comes from the server's own turn timestamps (GET /metrics). A
barge-in trial speaks over the agent's reply and times how long agent audio keeps arriving.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from benchmarks.common import (
    Conversation,
    Utterance,
    parser,
    print_table,
    summary,
    test_utterances,
    write_json,
)
from benchmarks.server import ServerProcess

#: Issue 12's targets for complete utterances (issue 6 had 0.8 s and 1.2 s).
TARGET_P50_S: Final = 0.7
TARGET_P95_S: Final = 1.1
#: From the barge-in decision to the last agent audio: the decision itself waits for enough speech.
TARGET_BARGE_IN_S: Final = 0.15


def _at(turn: dict[str, Any], stamp: str) -> float:
    value = turn.get(stamp)
    return float("nan") if value is None else float(value)


def _span(turn: dict[str, Any], start: str, end: str) -> float:
    return _at(turn, end) - _at(turn, start)


def breakdown(server_turn: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, float]:
    """Split a turn along the server's timestamps.

    Server and client run on one machine and both read `time.monotonic`, so the client's true end of speech
    and first audio byte line up with the server's timestamps: what lies before the server's end of speech
    is the VAD's lag, what lies after its first audio frame is the transport.
    """
    latency: float = result["latency"]
    if server_turn is None:
        return {"latency": latency}
    return {
        "latency": latency,
        "vad_lag": _at(server_turn, "speech_ended") - result["speech_end_at"],
        "end_of_turn_wait": _span(server_turn, "speech_ended", "turn_ended"),
        "stt": _span(server_turn, "turn_ended", "transcript_ready"),
        "llm_first_token": _span(server_turn, "transcript_ready", "first_token"),
        "llm_first_sentence": _span(server_turn, "transcript_ready", "first_sentence"),
        "tts_first_chunk": _span(server_turn, "first_sentence", "first_audio"),
        "server_total": _span(server_turn, "speech_ended", "first_audio"),
        "transport": result["first_audio_at"] - _at(server_turn, "first_audio"),
    }


def _verdict(value: float, target: float) -> str:
    if value != value:  # NaN: no sample
        return "not measured"
    return "met" if value <= target else "MISSED"


def _last_user_turn(server: ServerProcess) -> dict[str, Any] | None:
    turns = [t for t in server.turn_metrics() if t.get("kind") == "user"]
    return turns[-1] if turns else None


async def _run(
    server: ServerProcess, utterances: list[Utterance], turns: int, barge_ins: int, warm: bool, dialect: str
) -> dict[str, Any]:
    questions = [u for u in utterances if u.name.startswith(("espeak", "testing"))] or utterances
    phrases = [u for u in utterances if u.name.startswith("preamble")] or utterances
    records: list[dict[str, Any]] = []
    reactions: list[dict[str, Any]] = []
    url = server.url if dialect == "early-access" else server.url.removesuffix("/agent")
    async with Conversation(url, dialect=dialect) as conv:
        if warm:
            await conv.turn(questions[0])  # not counted: the first turn pays for cold caches
        for i in range(turns):
            utterance = utterances[i % len(utterances)]
            result = await conv.turn(utterance)
            split = breakdown(_last_user_turn(server), result)
            records.append({**result, **split})
            print(f"  turn {i + 1:2d} {utterance.name:12s} {result['latency'] * 1000:7.0f} ms", flush=True)
        for i in range(barge_ins):
            result = await conv.barge_in(questions[i % len(questions)], phrases[i % len(phrases)])
            reactions.append(result)
            print(
                f"  barge-in {i + 1}: {result['reaction'] * 1000:.0f} ms "
                f"(decided after {result['decision'] * 1000:.0f} ms, "
                f"stopped {result['stop'] * 1000:.0f} ms later)",
                flush=True,
            )
    return {"turns": records, "barge_ins": reactions}


STAGES: Final = (
    ("latency", "end of speech → first audio byte (client)"),
    ("vad_lag", "  VAD: true end of speech → end detected"),
    ("end_of_turn_wait", "  end-of-turn wait (silence, Smart Turn)"),
    ("stt", "  STT"),
    ("llm_first_token", "  LLM first token"),
    ("llm_first_sentence", "  LLM first sentence"),
    ("tts_first_chunk", "  TTS first chunk"),
    ("server_total", "  server total"),
    ("transport", "  server first audio → client first byte"),
)
BARGE_IN_STAGES: Final = (
    ("reaction", "barge-in: speech onset → last agent audio"),
    ("decision", "  onset → barge-in decided (UserStartedSpeaking)"),
    ("stop", "  decided → last agent audio"),
)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "latency")
    p.add_argument("--turns", type=int, default=20, help="measured user turns (after one warm-up turn)")
    p.add_argument("--barge-ins", type=int, default=5, help="barge-in trials")
    p.add_argument(
        "--dialect",
        choices=("early-access", "v1"),
        default="early-access",
        help="the client's protocol: early access at /agent, or v1 at /v1/agent/converse",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.turns, args.barge_ins = 1, 1
    utterances = test_utterances()
    with ServerProcess("full") as server:
        data = asyncio.run(
            _run(server, utterances, args.turns, args.barge_ins, warm=not args.quick, dialect=args.dialect)
        )
    records = data["turns"]
    rows = []
    stats: dict[str, dict[str, float]] = {}
    for key, label in STAGES:
        values = [r[key] for r in records if key in r and r[key] == r[key]]
        stats[key] = summary(values)
        rows.append([label, stats[key]["p50"] * 1000, stats[key]["p95"] * 1000, stats[key]["max"] * 1000])
    for key, label in BARGE_IN_STAGES:
        values = [r[key] for r in data["barge_ins"] if r.get(key) == r.get(key)]
        stats[f"barge_in_{key}"] = summary(values)
        rows.append([label, *(stats[f"barge_in_{key}"][k] * 1000 for k in ("p50", "p95", "max"))])
    reactions = [r for r in data["barge_ins"] if r["reaction"] == r["reaction"]]
    print_table(
        f"Turn latency, default engines, {args.dialect} client, {len(records)} turns (+1 warm-up), "
        f"{len(reactions)} barge-ins",
        ["stage", "p50 ms", "p95 ms", "max ms"],
        rows,
        digits=0,
    )
    unanswered = sum(1 for r in records if not r["answered"])
    if unanswered:
        print(f"{unanswered} turn(s) got no complete reply within the timeout")
    lat = stats["latency"]
    print(
        f"targets: p50 ≤ {TARGET_P50_S * 1000:.0f} ms ({_verdict(lat['p50'], TARGET_P50_S)}), "
        f"p95 ≤ {TARGET_P95_S * 1000:.0f} ms ({_verdict(lat['p95'], TARGET_P95_S)}), "
        f"barge-in decision → last agent audio ≤ {TARGET_BARGE_IN_S * 1000:.0f} ms "
        f"({_verdict(stats['barge_in_stop']['max'], TARGET_BARGE_IN_S)})"
    )
    write_json(args.json, {"benchmark": "latency", "dialect": args.dialect, "stats": stats, **data})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
