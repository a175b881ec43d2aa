"""Whether the default agent's replies answer: echoes, repeats, empty replies and relevance, per scenario.

Driven through the real server (a child process with the default engines: Silero VAD, Whisper tiny.en,
SmolLM2-135M, Piper) by voicewire's async client, one connection per scenario. Each scripted user line is
synthesised by eSpeak NG (a voice other than the agent's), streamed in real time, and transcribed by the
server's own Whisper; the agent's audio comes back at up to 20x real time (`VOICEWIRE_OUTPUT_PACING`), so a
turn costs the user's speech plus the server's processing. The QA chat uses the server's default
instructions; the support and booking scenarios send instructions as a client would.

Measures, over the turns the server heard (a `ConversationText` with role user arrived):

* echo: the reply's normalised words (lower case, letters, digits and apostrophes) are at least 80% the
  user's words, in the user's order: matched / len(reply words) >= 0.8, where matched is the size of
  difflib's matching blocks between the heard user words and the reply words (`reply_guard.is_echo`);
* verbatim repeat: the reply's normalised words equal those of the previous reply in the same scenario;
* empty: no reply words at all within the turn's time limit;
* relevance: the share of turns whose reply has at least one of the turn's keywords (a reply word equal to
  a keyword or, for keywords of 4+ letters, starting with it), counting only keywords the user did not say.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from benchmarks.common import (
    Conversation,
    Utterance,
    espeak_utterance,
    parser,
    print_table,
    summary,
    write_json,
)
from benchmarks.server import ServerProcess
from voicewire.server.reply_guard import FALLBACKS, is_echo, is_repeat, words

TARGET_ECHO: Final = 0.05
TARGET_REPEAT: Final = 0.05
TARGET_EMPTY: Final = 0.0
#: Agent audio pacing for the benchmark server: the replies' text matters here, not their playback.
OUTPUT_PACING: Final = "20"
#: Seconds a turn may take from the end of the user's line to the end of the agent's audio.
TURN_LIMIT_S: Final = 40.0


@dataclass(frozen=True)
class Line:
    said: str
    #: Words a reply that answers would likely contain.
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    #: `agent.think.instructions`, or None for the server's default.
    instructions: str | None
    lines: tuple[Line, ...]


def _line(said: str, keywords: str) -> Line:
    return Line(said, tuple(keywords.split()))


SCENARIOS: Final = (
    Scenario(
        "support",
        "You are a phone support agent for Acme Internet. Help the caller with their internet service, "
        "bill and account. Answer in one or two short spoken sentences.",
        (
            _line(
                "Hi, my internet has been down since this morning.",
                "router modem restart reboot outage connection technician light cable wifi network service",
            ),
            _line(
                "Yes, I already restarted the router twice.",
                "technician outage area line test check engineer appointment signal cable reset modem visit",
            ),
            _line(
                "All the lights on the router are orange.",
                "technician line outage signal problem fault check engineer send visit replace",
            ),
            _line(
                "Can you send a technician?",
                "appointment schedule visit time date tomorrow available arrange",
            ),
            _line(
                "Tomorrow morning works for me.",
                "booked schedule confirm appointment technician arrive visit",
            ),
            _line(
                "Also, I was charged twice on my bill this month.",
                "refund credit billing account check payment review charge duplicate",
            ),
            _line("How long will the refund take?", "days weeks business within hours cycle statement"),
            _line(
                "Can I change the address on my account?", "update details verify provide online portal sure"
            ),
            _line("My new address is 12 Elm Street.", "updated thank change noted saved confirm record"),
            _line(
                "Is there a faster plan I could upgrade to?",
                "speed mbps gigabit fiber price month premium package",
            ),
            _line("Thanks, that's all for today.", "welcome day goodbye glad help pleasure care"),
        ),
    ),
    Scenario(
        "qa-chat",
        None,
        (
            _line("What is the capital of France?", "paris"),
            _line("How many legs does a spider have?", "eight 8"),
            _line("What colour is the sky on a clear day?", "blue"),
            _line("Who wrote Romeo and Juliet?", "shakespeare william"),
            _line("What is the boiling point of water?", "100 hundred celsius degrees 212 fahrenheit"),
            _line("Establish justice.", "law fair court right equal legal constitution government system"),
            _line(
                "Tell me a fun fact about octopuses.",
                "three heart arm tentacle eight blue blood intelligent ink camouflage",
            ),
            _line("What is two plus two?", "four 4"),
            _line(
                "Why do leaves change colour in autumn?",
                "chlorophyll fall temperature sunlight pigment cold green yellow red tree",
            ),
            _line("Can you recommend a good book?", "novel author read title story"),
            _line("Thank you, goodbye.", "welcome day bye glad pleasure care"),
        ),
    ),
    Scenario(
        "booking",
        "You are the booking assistant of Luigi's, an Italian restaurant. Help the caller book a table. "
        "Answer in one or two short spoken sentences.",
        (
            _line("Hello, I would like to book a table.", "people guests party many when date time day name"),
            _line("For four people.", "time date day when name evening"),
            _line("This Friday evening.", "time clock pm what 7 8 seven eight available"),
            _line("Around seven thirty.", "booked reservation confirm name available table"),
            _line("The name is Anna Smith.", "thank confirm booked reservation see forward phone number"),
            _line("Do you have vegetarian dishes?", "pasta pizza menu salad vegetable option risotto"),
            _line("Is there parking nearby?", "street lot garage car available free space"),
            _line("Can we sit outside on the terrace?", "weather table request note available seat"),
            _line("Actually, can we make it five people?", "update change table booked confirm reservation"),
            _line("What time do you close on Fridays?", "pm 10 11 midnight clock late ten eleven"),
            _line("Great, see you on Friday.", "welcome forward look enjoy goodbye bye"),
        ),
    ),
)


def _matches(word: str, keyword: str) -> bool:
    return word == keyword or (len(keyword) >= 4 and word.startswith(keyword))


def relevant(reply: str, heard: str, keywords: Sequence[str]) -> bool:
    """Whether the reply has a keyword the user did not say themselves."""
    user = words(heard)
    wanted = [k for k in keywords if not any(_matches(w, k) for w in user)]
    return any(_matches(w, k) for w in words(reply) for k in wanted)


def judge(turns: Sequence[dict[str, Any]]) -> None:
    """Mark each turn of one conversation (in order) as echo / repeat / empty / relevant, in place."""
    previous = ""
    for turn in turns:
        reply, heard = turn["replied"], turn["heard"]
        turn["empty"] = not words(reply)
        turn["echo"] = is_echo(reply, heard)
        turn["repeat"] = is_repeat(reply, previous)
        turn["relevant"] = relevant(reply, heard, turn["keywords"])
        if words(reply):
            previous = reply


def rates(turns: Sequence[dict[str, Any]]) -> dict[str, float]:
    heard = [t for t in turns if t["heard"]]
    n = len(heard)

    def share(key: str) -> float:
        return sum(bool(t[key]) for t in heard) / n if n else float("nan")

    return {
        "turns": len(turns),
        "heard": n,
        "echo": share("echo"),
        "repeat": share("repeat"),
        "empty": share("empty"),
        "relevance": share("relevant"),
    }


async def _converse(
    server: ServerProcess, scenario: Scenario, spoken: list[Utterance]
) -> list[dict[str, Any]]:
    from voicewire.protocol import SettingsConfigurationOptions

    settings = SettingsConfigurationOptions()
    if scenario.instructions is not None:
        settings.agent.think.instructions = scenario.instructions
    turns: list[dict[str, Any]] = []
    async with Conversation(server.url, settings) as conv:
        for line, utterance in zip(scenario.lines, spoken, strict=False):
            result = await conv.turn(utterance, limit=TURN_LIMIT_S)
            turns.append(
                {
                    "scenario": scenario.name,
                    "said": line.said,
                    "keywords": list(line.keywords),
                    "heard": result["heard"],
                    "replied": result["replied"],
                    "latency": result["latency"],
                    "errors": result["errors"],
                }
            )
            print(f"  [{scenario.name}] user: {line.said}", flush=True)
            if result["heard"] != line.said:
                print(f"  [{scenario.name}]  heard: {result['heard']}", flush=True)
            print(f"  [{scenario.name}] agent: {result['replied']}", flush=True)
            for description in result["errors"]:
                print(f"  [{scenario.name}] error: {description}", flush=True)
    judge(turns)
    return turns


def _flags(turn: dict[str, Any]) -> str:
    marks = [key for key in ("echo", "repeat", "empty") if turn[key]]
    return ", ".join(marks) or ("relevant" if turn["relevant"] else "-")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "replies")
    p.add_argument("--scenarios", nargs="*", help="names of the scenarios to run (default: all)")
    p.add_argument(
        "--llm-threads", type=int, help="the LLM's threads (default: the engine's, 2); see benchmarks.server"
    )
    args = p.parse_args(argv)
    scenarios = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    if args.quick:
        scenarios = [Scenario(s.name, s.instructions, s.lines[:2]) for s in scenarios[:1]]
    spoken = {
        s.name: [espeak_utterance(f"{s.name} {i + 1}", line.said) for i, line in enumerate(s.lines)]
        for s in scenarios
    }
    all_turns: list[dict[str, Any]] = []
    env = {"VOICEWIRE_OUTPUT_PACING": OUTPUT_PACING}
    if args.llm_threads:
        env["VOICEWIRE_BENCH_LLM_THREADS"] = str(args.llm_threads)
    with ServerProcess("full", env=env) as server:
        for scenario in scenarios:
            all_turns.extend(asyncio.run(_converse(server, scenario, spoken[scenario.name])))
    rows = []
    stats: dict[str, dict[str, float]] = {}
    for scenario in [*scenarios, None]:
        name = scenario.name if scenario else "all"
        turns = [t for t in all_turns if scenario is None or t["scenario"] == scenario.name]
        stats[name] = rates(turns)
        figures = stats[name]
        rows.append(
            [
                name,
                f"{figures['heard']}/{figures['turns']}",
                figures["echo"] * 100,
                figures["repeat"] * 100,
                figures["empty"] * 100,
                figures["relevance"] * 100,
            ]
        )
    print_table(
        "Replies of the default agent (eSpeak speech -> real server -> default engines)",
        ["scenario", "heard", "echo %", "repeat %", "empty %", "relevant %"],
        rows,
        digits=0,
    )
    latency = summary([t["latency"] for t in all_turns if t["latency"] == t["latency"]])
    fallbacks = sum(any(phrase in t["replied"] for phrase in FALLBACKS) for t in all_turns)
    print(
        f"end of speech → first agent audio: p50 {latency['p50'] * 1000:.0f} ms, "
        f"p95 {latency['p95'] * 1000:.0f} ms; fallback phrases spoken: {fallbacks} of {len(all_turns)} turns"
    )
    stats["latency"] = latency
    flagged = [t for t in all_turns if t["echo"] or t["repeat"] or t["empty"]]
    for turn in flagged:
        print(f"  {_flags(turn)}: {turn['heard']!r} -> {turn['replied']!r}")
    total = stats["all"]
    print(
        f"targets: echo ≤ {TARGET_ECHO:.0%} ({'met' if total['echo'] <= TARGET_ECHO else 'MISSED'}), "
        f"repeat ≤ {TARGET_REPEAT:.0%} ({'met' if total['repeat'] <= TARGET_REPEAT else 'MISSED'}), "
        f"empty {TARGET_EMPTY:.0%} ({'met' if total['empty'] <= TARGET_EMPTY else 'MISSED'})"
    )
    write_json(args.json, {"benchmark": "replies", "stats": stats, "turns": all_turns})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
