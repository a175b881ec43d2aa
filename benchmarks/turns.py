"""Turn-taking on real speech with natural pauses: false ends of turn, end-of-turn delay, false barge-ins.

The turn detector runs straight over the audio (Silero VAD and the Smart Turn model, no server), fed in 20 ms
frames as a live session feeds it, so the figures come in seconds and depend only on the audio:

* speech with internal pauses: the preamble recording cut at its own pauses (all inside one long sentence)
  and rejoined with 0.3-1.2 s of room tone, "testing 123, testing 123" the same way, the JFK recording of
  the turn-taking issue with its own pauses ("And so my fellow Americans — ask not — ..."), and multi-clause
  sentences synthesised in eSpeak NG's voice (not the agent's Piper voice), cut at their commas. Smart Turn
  was trained on human speech and misjudges eSpeak's prosody, so read the figures per recording too;
* while the agent talks: clicks, coughs (shaped noise bursts), backchannels ("mm-hm", "uh-huh") that must
  not interrupt it, and real interruptions that must.

A turn ending inside an internal pause is a false end of turn; the delay is from the true end of speech to
the sample at which the detector ends the turn (the model's compute time comes on top, reported apart).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.common import (
    FRAME_SAMPLES,
    RATE,
    SPEECH_DBFS,
    Pcm,
    frame_levels,
    load_speech,
    parser,
    print_table,
    summary,
    write_json,
)
from voicewire.audio import pcm16_to_float, resample
from voicewire.engines.base import FloatAudio
from voicewire.server.config import TurnConfig
from voicewire.server.interruptions import is_interruption
from voicewire.server.turns import ShortSoundPaused, SpeechStarted, TurnDetector, TurnEnded

AUDIO: Final = Path(__file__).resolve().parents[1] / "tests" / "data" / "audio"
PAUSES_S: Final = (0.3, 0.45, 0.6, 0.8, 1.0, 1.2)
#: The pauses of the long turn spoken to the server, with the phrases' 40 ms margins about 0.18 s of quiet: a
#: breath, shorter than the end-of-turn check (0.2 s breaths plus margins got one turn cut in three in a run).
LONG_TURN_BREATH_S: Final = 0.1
#: Issue 12: first agent audio at most this long after a 25 s turn.
TARGET_LONG_TURN_S: Final = 1.5
TARGET_FALSE_EOT: Final = 0.05
TARGET_FALSE_BARGE_IN: Final = 0.10
BARGE_IN_SWEEP_MS: Final = (300, 400, 500, 600, 700)
#: Room tone between phrases (about -60 dBFS), so the pauses are not digital silence.
ROOM_TONE: Final = 30.0

CLAUSES: Final = (
    ("I would like to book a table,", "for four people,", "on Friday evening."),
    ("My internet stopped working,", "and when I restart the router,", "the light keeps blinking red."),
    ("I was charged twice,", "once on Monday,", "and again on Wednesday."),
    ("The package arrived yesterday,", "but the box was damaged,", "and two plates were broken."),
    ("So what I need is,", "a new password,", "because I forgot the old one."),
    ("Could you tell me,", "whether the store is open,", "on Sunday morning?"),
)
BACKCHANNELS: Final = ("mm-hm.", "mhm.", "uh-huh.", "hmm.")
INTERRUPTIONS: Final = ("Wait, that is not what I asked.", "Stop, I need to talk to a person.")
#: Interruptions shorter than `barge_in_min_speech_ms`: only a word heard in them can stop the agent.
SHORT_COMMANDS: Final = ("Stop.", "No, no.")


@dataclasses.dataclass
class Speech:
    """A user turn with internal pauses: where each pause lies and where speech really ends (samples)."""

    name: str
    source: str
    pcm: Pcm
    pauses: list[tuple[int, int]]
    speech_end: int


@dataclasses.dataclass
class Sound:
    """Audio played while the agent talks; `interrupts` says whether it should stop the agent."""

    name: str
    kind: str
    pcm: Pcm
    interrupts: bool
    onset: int


def room_tone(seconds: float, rng: np.random.Generator) -> Pcm:
    return (rng.standard_normal(round(seconds * RATE)) * ROOM_TONE).astype(np.int16)


def speech_spans(pcm: Pcm, min_gap_s: float = 0.2) -> list[tuple[int, int]]:
    """Loud stretches (in samples) separated by at least `min_gap_s` of quiet: the recording's own pauses."""
    loud = np.flatnonzero(frame_levels(pcm) > SPEECH_DBFS)
    spans: list[list[int]] = []
    gap = round(min_gap_s * RATE / FRAME_SAMPLES)
    for frame in loud:
        if spans and frame - spans[-1][1] < gap:
            spans[-1][1] = frame + 1
        else:
            spans.append([int(frame), int(frame) + 1])
    return [(a * FRAME_SAMPLES, b * FRAME_SAMPLES) for a, b in spans]


def rejoin(
    name: str, source: str, phrases: Sequence[Pcm], pauses: Sequence[float], rng: np.random.Generator
) -> Speech:
    """Phrases with `pauses[i]` s of room tone after phrase i, 0.5 s before and 2.5 s after the last one."""
    parts = [room_tone(0.5, rng)]
    position = len(parts[0])
    spans: list[tuple[int, int]] = []
    for i, phrase in enumerate(phrases):
        parts.append(phrase)
        position += len(phrase)
        if i < len(phrases) - 1:
            pause = room_tone(pauses[i], rng)
            spans.append((position, position + len(pause)))
            parts.append(pause)
            position += len(pause)
    speech_end = position
    parts.append(room_tone(2.5, rng))
    return Speech(name, source, np.concatenate(parts), spans, speech_end)


def recorded(path: Path, rng: np.random.Generator, variants: int, limit: int | None) -> list[Speech]:
    """The recording cut at its pauses, rejoined `variants` times with different pause lengths."""
    pcm = load_speech(path)
    margin = FRAME_SAMPLES * 2  # 40 ms each side keeps soft consonants the level threshold misses
    phrases = [pcm[max(0, a - margin) : b + margin] for a, b in speech_spans(pcm)][:limit]
    found = []
    for v in range(variants):
        pauses = [PAUSES_S[(i * 5 + v * 2) % len(PAUSES_S)] for i in range(len(phrases) - 1)]
        found.append(rejoin(f"{path.stem} #{v + 1}", path.stem.split("-")[0], phrases, pauses, rng))
    return found


def natural(path: Path, rng: np.random.Generator, min_pause_s: float = 0.3, min_run: int = 3) -> Speech:
    """The recording as it is and 2.5 s of room tone, its pauses found by Silero (a level threshold fails
    under crowd noise); runs of fewer than `min_run` speech windows are noise, as for onsets."""
    from voicewire.engines.vad_silero import WINDOW_SAMPLES, SileroModel

    pcm = load_speech(path)
    audio = pcm16_to_float(pcm)
    windows = audio[: len(audio) // WINDOW_SAMPLES * WINDOW_SAMPLES].reshape(-1, WINDOW_SAMPLES)
    scores = asyncio.run(SileroModel().stream().speech_probabilities(windows))
    runs: list[list[int]] = []  # [first, last + 1] window of each stretch of speech
    for index, score in enumerate(scores):
        if score < 0.5:
            continue
        if runs and runs[-1][1] == index:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
    runs = [run for run in runs if run[1] - run[0] >= min_run]
    pauses = [
        (a[1] * WINDOW_SAMPLES, b[0] * WINDOW_SAMPLES)
        for a, b in itertools.pairwise(runs)
        if (b[0] - a[1]) * WINDOW_SAMPLES >= min_pause_s * RATE
    ]
    name = f"{path.stem} (its own pauses)"
    pcm = np.concatenate([pcm, room_tone(2.5, rng)])
    return Speech(name, path.stem.split("-")[0], pcm, pauses, runs[-1][1] * WINDOW_SAMPLES)


async def espeak(text: str, voice: str | None = None) -> Pcm:
    from voicewire.engines.tts_espeak import EspeakTts

    tts = EspeakTts()
    chunks = [chunk async for chunk in tts.synthesize(text, voice=voice)]
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    pcm = resample(pcm, tts.sample_rate, RATE)
    a, b = speech_spans(pcm)[0][0], speech_spans(pcm)[-1][1]
    return pcm[a:b]


def synthesised(rng: np.random.Generator, sentences: Sequence[Sequence[str]]) -> list[Speech]:
    """Each sentence synthesised whole (so its commas get continuation prosody), then cut at its commas."""
    found = []
    margin = FRAME_SAMPLES * 2
    for i, clauses in enumerate(sentences):
        pcm = asyncio.run(espeak(" ".join(clauses)))
        spans = speech_spans(pcm, min_gap_s=0.08)
        if len(spans) == len(clauses):
            phrases = [pcm[max(0, a - margin) : b + margin] for a, b in spans]
        else:  # eSpeak paused elsewhere too: synthesise clause by clause instead
            phrases = [asyncio.run(espeak(clause)) for clause in clauses]
        pauses = [PAUSES_S[(i + k * 3) % len(PAUSES_S)] for k in range(len(phrases) - 1)]
        found.append(rejoin(f"espeak: {' '.join(clauses)}", "espeak", phrases, pauses, rng))
    return found


def noises(rng: np.random.Generator, count: int) -> list[Sound]:
    """Clicks (2 ms) and coughs (partly voiced noise bursts of 120-350 ms, fast attack) at speech level."""
    sounds = []
    for i in range(count):
        click = np.zeros(round(0.01 * RATE))
        click[: round(0.002 * RATE)] = rng.choice([-1, 1]) * 16000 * rng.uniform(0.3, 1.0)
        sounds.append(_over_agent(f"click {i + 1}", "click", click.astype(np.int16), False, rng))
        length = round(rng.uniform(0.12, 0.35) * RATE)
        t = np.arange(length) / RATE
        envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / 0.1)
        # Breath noise over a falling glottal buzz: a cough is partly voiced, which is what fools a VAD.
        pitch = rng.uniform(140, 260) * (1 - 0.4 * t / t[-1])
        buzz = np.sign(np.sin(2 * np.pi * np.cumsum(pitch) / RATE)) * rng.uniform(0.2, 0.6)
        noise = np.convolve(rng.standard_normal(length), np.ones(4) / 4, mode="same")
        burst = (noise + buzz) * envelope
        cough = (burst / np.abs(burst).max() * 12000 * rng.uniform(0.4, 1.0)).astype(np.int16)
        sounds.append(_over_agent(f"cough {i + 1}", "cough", cough, False, rng))
    return sounds


def _over_agent(name: str, kind: str, pcm: Pcm, interrupts: bool, rng: np.random.Generator) -> Sound:
    before = room_tone(0.5, rng)
    return Sound(name, kind, np.concatenate([before, pcm, room_tone(1.5, rng)]), interrupts, len(before))


def spoken_over_agent(rng: np.random.Generator, quick: bool) -> list[Sound]:
    sounds = []
    for text in BACKCHANNELS[: 1 if quick else None]:
        sounds.append(_over_agent(f"'{text}'", "backchannel", asyncio.run(espeak(text)), False, rng))
    for text in SHORT_COMMANDS[:1] if quick else (*INTERRUPTIONS, *SHORT_COMMANDS):
        sounds.append(_over_agent(f"'{text}'", "interruption", asyncio.run(espeak(text)), True, rng))
    return sounds


async def detect(
    detector: TurnDetector,
    pcm: Pcm,
    *,
    agent_speaking: bool = False,
    stt: Any = None,
    heard: list[str] | None = None,
) -> list[tuple[int, SpeechStarted | TurnEnded]]:
    """Feed 20 ms frames; return (samples received when it was emitted, event) for onsets and ends.

    With `stt`, a short sound over the agent is transcribed at its pause, as a session does, and promoted to
    an interruption if it holds a word; the frames that arrive while STT runs (its wall time) come first.
    What STT heard goes to `heard`."""
    detector.agent_speaking = agent_speaking
    audio: FloatAudio = pcm16_to_float(pcm)
    found: list[tuple[int, SpeechStarted | TurnEnded]] = []
    promote: tuple[int, ShortSoundPaused] | None = None  # (from this sample on, the sound to promote)
    for start in range(0, len(audio), FRAME_SAMPLES):
        events = []
        if promote is not None and detector.position >= promote[0]:
            events += detector.interrupt_now(promote[1])
            promote = None
        events += await detector.push(audio[start : start + FRAME_SAMPLES])
        for event in events:
            if isinstance(event, SpeechStarted | TurnEnded):
                found.append((detector.position, event))
            elif isinstance(event, ShortSoundPaused) and stt is not None:
                began = time.perf_counter()
                text = (await stt.transcribe(event.utterance)).text
                if heard is not None:
                    heard.append(text)
                if is_interruption(text):
                    promote = (detector.position + round((time.perf_counter() - began) * RATE), event)
    return found


@dataclasses.dataclass
class Results:
    pauses: int = 0
    false_ends: int = 0
    false_by_pause: dict[float, list[int]] = dataclasses.field(default_factory=dict)
    false_by_source: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    delays_ms: list[float] = dataclasses.field(default_factory=list)
    missed_ends: int = 0
    sounds: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    #: The same noises and backchannels, starting 0.5 s after the detector ended a turn (as the agent's
    #: reply begins): inside `turns.resume_barge_in_ms`, where less speech interrupts.
    sounds_after_turn: list[int] = dataclasses.field(default_factory=list)
    barge_in_ms: list[float] = dataclasses.field(default_factory=list)
    #: Per sound over the agent, what STT heard in its short pauses.
    heard: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    model_ms: list[float] = dataclasses.field(default_factory=list)


class TimedModel:
    """The shared Smart Turn model, timing each call (its cost adds to the end-of-turn delay in a server)."""

    def __init__(self, model: Any, record: list[float]) -> None:
        self._model = model
        self._record = record

    async def completion_probability(self, audio: FloatAudio) -> float:
        started = time.perf_counter()
        probability: float = await self._model.completion_probability(audio)
        self._record.append((time.perf_counter() - started) * 1000)
        return probability


async def evaluate(
    config: TurnConfig, model: Any, speech: list[Speech], sounds: list[Sound], stt: Any = None
) -> Results:
    from voicewire.engines.vad_silero import SileroModel

    vad = SileroModel()
    results = Results()
    timed = TimedModel(model, results.model_ms) if model is not None else None
    for item in speech:
        events = await detect(TurnDetector(vad.stream(), config, timed), item.pcm)
        ends = [at for at, event in events if isinstance(event, TurnEnded)]
        for start, end in item.pauses:
            length = round((end - start) / RATE, 2)
            false = any(start < at <= end + FRAME_SAMPLES * 10 for at in ends)
            results.pauses += 1
            results.false_ends += false
            results.false_by_pause.setdefault(length, []).append(int(false))
            results.false_by_source.setdefault(item.source, []).append(int(false))
        real = [at for at in ends if at > item.speech_end]
        if real:
            results.delays_ms.append((real[0] - item.speech_end) / RATE * 1000)
        else:
            results.missed_ends += 1
    for sound in sounds:
        detector = TurnDetector(vad.stream(), config, timed)
        heard = results.heard.setdefault(sound.name, [])
        events = await detect(detector, sound.pcm, agent_speaking=True, stt=stt, heard=heard)
        starts = [at for at, event in events if isinstance(event, SpeechStarted)]
        results.sounds.setdefault(sound.kind, []).append(int(bool(starts)))
        if sound.interrupts and starts:
            results.barge_in_ms.append((starts[0] - sound.onset) / RATE * 1000)
        if not sound.interrupts and speech:
            detector = TurnDetector(vad.stream(), config, timed)
            await detect_until_turn_ends(detector, first_phrase(speech[0]).pcm)
            events = await detect(detector, sound.pcm, agent_speaking=True, stt=stt)
            results.sounds_after_turn.append(int(any(isinstance(e, SpeechStarted) for _, e in events)))
    return results


def first_phrase(item: Speech) -> Speech:
    """The recording's first phrase alone, then its closing room tone: a short whole turn."""
    end = item.pauses[0][0] if item.pauses else item.speech_end
    pcm = np.concatenate([item.pcm[:end], item.pcm[item.speech_end :]])
    return Speech(f"{item.name}, first phrase", item.source, pcm, [], end)


async def detect_until_turn_ends(detector: TurnDetector, pcm: Pcm) -> None:
    """Feed `pcm` until the detector ends the turn in it (or `pcm` ends)."""
    audio: FloatAudio = pcm16_to_float(pcm)
    for start in range(0, len(audio), FRAME_SAMPLES):
        if any(isinstance(e, TurnEnded) for e in await detector.push(audio[start : start + FRAME_SAMPLES])):
            return


def report(name: str, results: Results) -> dict[str, Any]:
    false_rate = results.false_ends / results.pauses if results.pauses else float("nan")
    noise = [hit for kind, hits in results.sounds.items() if kind != "interruption" for hit in hits]
    false_barge = sum(noise) / len(noise) if noise else float("nan")
    delays = summary(results.delays_ms)
    return {
        "detector": name,
        "internal_pauses": results.pauses,
        "false_end_of_turn_rate": false_rate,
        "false_end_of_turn_by_pause_s": {
            str(k): sum(v) / len(v) for k, v in sorted(results.false_by_pause.items())
        },
        "false_end_of_turn_by_source": {k: sum(v) / len(v) for k, v in results.false_by_source.items()},
        "end_of_turn_delay_ms": delays,
        "missed_real_ends": results.missed_ends,
        "false_barge_in_rate": false_barge,
        "false_barge_in_after_turn_rate": (
            sum(results.sounds_after_turn) / len(results.sounds_after_turn)
            if results.sounds_after_turn
            else float("nan")
        ),
        "barge_in_by_kind": {kind: sum(hits) / len(hits) for kind, hits in results.sounds.items()},
        "interruption_decision_ms": summary(results.barge_in_ms),
        "model_call_ms": summary(results.model_ms),
        "heard_over_agent": {name: texts for name, texts in results.heard.items() if texts},
    }


class Oracle:
    """An end-of-turn model that knows the answer: complete once the real end of speech has been fed."""

    def __init__(self) -> None:
        self.finished = False

    async def completion_probability(self, audio: FloatAudio) -> float:
        return 1.0 if self.finished else 0.0


async def long_turn_stt(stt: Any, item: Speech) -> dict[str, Any]:
    """Stream `item` in real time through the detector and speculative STT (as a session does); time the
    transcript's arrival after the end of speech. The oracle ends the turn 160 ms after the real end."""
    from voicewire.engines.vad_silero import SileroModel
    from voicewire.server.turns import SpeechPaused, SpeechResumed

    oracle = Oracle()
    detector = TurnDetector(SileroModel().stream(), TurnConfig(), oracle)
    audio: FloatAudio = pcm16_to_float(item.pcm)
    speculative: asyncio.Task[Any] | None = None
    started = time.perf_counter()
    for start in range(0, len(audio), FRAME_SAMPLES):
        await asyncio.sleep(max(0.0, started + start / RATE - time.perf_counter()))
        oracle.finished = start >= item.speech_end
        for event in await detector.push(audio[start : start + FRAME_SAMPLES]):
            if isinstance(event, SpeechPaused | SpeechResumed) and speculative is not None:
                speculative.cancel()
                speculative = None
            if isinstance(event, SpeechPaused):
                speculative = asyncio.create_task(stt.transcribe(event.utterance))
            if isinstance(event, TurnEnded):
                ended = time.perf_counter()
                transcript = await (speculative or stt.transcribe(event.utterance))
                ready = time.perf_counter()
                speech_end = started + item.speech_end / RATE
                return {
                    "turn_s": len(event.utterance) / RATE,
                    "end_of_turn_ms": (ended - speech_end) * 1000,
                    "transcript_ms": (ready - speech_end) * 1000,
                    "text": transcript.text,
                }
    raise RuntimeError("the long turn never ended")


def long_turn(rng: np.random.Generator, pauses: Sequence[float]) -> Speech:
    """The preamble and its first four phrases again as one ~26 s turn, `pauses[i % len(pauses)]` s after
    phrase i (one speaker, so one level)."""
    pcm = load_speech(AUDIO / "preamble-22k-linear16.wav")
    phrases = [pcm[max(0, a - FRAME_SAMPLES * 2) : b + FRAME_SAMPLES * 2] for a, b in speech_spans(pcm)]
    phrases += phrases[:4]
    return rejoin("long turn", "long", phrases, [pauses[i % len(pauses)] for i in range(len(phrases))], rng)


def long_turns(rng: np.random.Generator, whisper: Any) -> list[dict[str, Any]]:
    """The long turn with 0.3-0.6 s pauses, transcribed whole at the end as before, and incrementally."""
    from voicewire.server.incremental_stt import IncrementalStt

    item = long_turn(rng, PAUSES_S[:3])
    results = []
    for name, stt in (("whole turn at its end (before)", whisper), ("incremental", IncrementalStt(whisper))):
        results.append({"stt": name, **asyncio.run(long_turn_stt(stt, item))})
    return results


async def _live(url: str, speech: list[Speech], warm_up: Speech) -> list[dict[str, Any]]:
    """`speech` in one conversation, after an unmeasured turn of `warm_up`."""
    from benchmarks.common import Conversation, Utterance

    results = []
    async with Conversation(url) as conv:
        await conv.turn(Utterance("warm-up", warm_up.pcm, warm_up.speech_end / RATE))
        for item in speech:
            result = await conv.turn(Utterance(item.name, item.pcm, item.speech_end / RATE))
            results.append(result)
            print(
                f"  {item.name[:60]:60s} user turns {result['user_turns']}, replies started early "
                f"{result['replies_started_early']} ({result['agent_audio_inside_s']:.1f} s of agent audio "
                f"inside the sentence), first audio after the end "
                f"{result['first_audio_after_end'] * 1000:.0f} ms",
                flush=True,
            )
    return results


def live(speech: list[Speech], long: Speech | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each recording spoken in real time to the real server with the default engines (the default turn
    settings), as a caller would: how many user turns the server made of it (1 is right), how many replies
    started while the caller was still inside the sentence, and the voice-to-voice latency from the true
    end of speech to the first agent audio after it. The long turn comes in a conversation of its own: after
    the recordings' mid-sentence pauses the server waits longer at every pause of that caller (patience)."""
    from benchmarks.server import ServerProcess

    with ServerProcess("full") as server:
        heard = asyncio.run(_live(server.url, speech, speech[-1]))
        # Warmed up with a phrase the server cannot cut: a caller it has not cut off before.
        warm_up = first_phrase(speech[0])
        return heard, asyncio.run(_live(server.url, [long], warm_up)) if long is not None else []


def print_rates(title: str, label: str, reports: list[dict[str, Any]], key: str) -> None:
    """One row per report, one column per category of `report[key]` (a rate in 0..1), as percentages."""
    columns = sorted({column for r in reports for column in r[key]})
    rows = [[r["detector"], *(r[key].get(column, float("nan")) * 100 for column in columns)] for r in reports]
    print_table(title, [label, *columns], rows, digits=0)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "turns")
    p.add_argument("--variants", type=int, default=2, help="pause-length variants of each recording")
    p.add_argument("--no-espeak", action="store_true", help="skip the synthesised sentences and backchannels")
    p.add_argument("--no-long-turn", action="store_true", help="skip the real-time long-turn STT measurement")
    p.add_argument(
        "--live",
        action="store_true",
        help="also speak one recording of each kind in real time to the real server (voice-to-voice latency)",
    )
    args = p.parse_args(argv)
    rng = np.random.default_rng(12)
    variants = 1 if args.quick else args.variants
    limit = 4 if args.quick else None
    speech = recorded(AUDIO / "preamble-22k-linear16.wav", rng, variants, limit)
    speech += recorded(AUDIO / "testing-8k-mulaw.wav", rng, variants, limit)
    speech.append(natural(AUDIO / "jfk-16k-linear16.wav", rng))
    sounds = noises(rng, 1 if args.quick else 10)
    if not args.no_espeak:
        speech += synthesised(rng, CLAUSES[: 1 if args.quick else None])
        sounds += spoken_over_agent(rng, args.quick)

    from voicewire.engines.stt_whisper import WhisperStt
    from voicewire.engines.turn_smart import SmartTurnModel, bundled_model_path

    whisper = WhisperStt.tiny_en()
    before = TurnConfig(detector="silence", barge_in_min_speech_ms=0)
    detectors: list[tuple[str, TurnConfig, Any, Any]] = [
        ("silence 300 ms, no barge-in minimum (before)", before, None, None)
    ]
    if bundled_model_path() is not None:
        model = SmartTurnModel()
        detectors.append(("smart-turn (default; a word interrupts)", TurnConfig(), model, whisper))
        detectors.append(("smart-turn, barge-in by length only", TurnConfig(), model, None))
        if not args.quick:
            fixed = TurnConfig(eot_context_ms=0, eot_patience_step_ms=0)
            detectors.append(("smart-turn without context or patience", fixed, model, whisper))
            config = TurnConfig(resume_barge_in_ms=0)
            detectors.append(("smart-turn, barge-in after a turn as at any time", config, model, whisper))
            for check in (640,):
                config = TurnConfig(eot_check_ms=check)
                detectors.append((f"smart-turn, first check at {check} ms", config, model, whisper))
    else:
        print("pipecat-ai is not installed: only the silence detector is measured")
    reports = [
        report(name, asyncio.run(evaluate(config, model, speech, sounds, stt)))
        for name, config, model, stt in detectors
    ]
    sweep = [
        report(
            f"{ms} ms",
            asyncio.run(
                evaluate(TurnConfig(detector="silence", barge_in_min_speech_ms=ms), None, [], sounds)
            ),
        )
        for ms in BARGE_IN_SWEEP_MS[: 1 if args.quick else None]
    ]

    print_table(
        f"Turn detection over {len(speech)} recordings ({reports[0]['internal_pauses']} internal pauses) "
        f"and {len(sounds)} sounds over the agent",
        ["detector", "false EOT %", "EOT delay p50 ms", "p95 ms", "missed ends", "false barge-in %",
         "right after a turn %", "interrupt decision p50 ms", "model call p50 ms"],
        [
            [
                r["detector"], r["false_end_of_turn_rate"] * 100, r["end_of_turn_delay_ms"]["p50"],
                r["end_of_turn_delay_ms"]["p95"], r["missed_real_ends"], r["false_barge_in_rate"] * 100,
                r["false_barge_in_after_turn_rate"] * 100, r["interruption_decision_ms"]["p50"],
                r["model_call_ms"]["p50"],
            ]
            for r in reports
        ],
        digits=0,
    )  # fmt: skip
    print_rates("False end of turn by recording (%)", "detector", reports, "false_end_of_turn_by_source")
    print_rates(
        "False end of turn by pause length, s (%)", "detector", reports, "false_end_of_turn_by_pause_s"
    )
    print_rates("Sounds over the agent that stopped it (%)", "detector", reports, "barge_in_by_kind")
    for name, texts in reports[1]["heard_over_agent"].items() if len(reports) > 1 else ():
        print(f"  {reports[1]['detector']}: STT heard {texts} in {name}")
    print_rates("The same, by turns.barge_in_min_speech_ms", "minimum", sweep, "barge_in_by_kind")
    print_table(
        "False barge-ins, and real interruptions from speech onset to the barge-in decision",
        ["minimum", "false barge-in %", "decision p50 ms", "p95 ms"],
        [
            [
                r["detector"],
                r["false_barge_in_rate"] * 100,
                r["interruption_decision_ms"]["p50"],
                r["interruption_decision_ms"]["p95"],
            ]
            for r in sweep
        ],
        digits=0,
    )
    best = reports[1] if len(reports) > 1 else reports[0]
    print(
        f"targets ({best['detector']}): false end of turn ≤ {TARGET_FALSE_EOT:.0%} "
        f"({'met' if best['false_end_of_turn_rate'] <= TARGET_FALSE_EOT else 'MISSED'}), "
        f"false barge-in ≤ {TARGET_FALSE_BARGE_IN:.0%} "
        f"({'met' if best['false_barge_in_rate'] <= TARGET_FALSE_BARGE_IN else 'MISSED'})"
    )
    long = [] if args.quick or args.no_long_turn else long_turns(rng, whisper)
    if long:
        print_table(
            f"A {long[0]['turn_s']:.0f} s turn streamed in real time (load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs): end of speech to ...",
            ["STT", "end of turn ms", "transcript ms"],
            [[r["stt"], r["end_of_turn_ms"], r["transcript_ms"]] for r in long],
            digits=0,
        )
        for r in long:
            print(f"  {r['stt']}: {r['text']!r}")
    first_of_each: dict[str, Speech] = {}
    for item in speech:
        first_of_each.setdefault(item.source, item)
    # Through the server the long turn gets short breaths: the preamble's phrase ends sound finished to
    # Smart Turn, so its 0.3-0.6 s pauses would end the turn early (see the recordings above). --quick
    # leaves it out, as it does the long turn above (it takes half a minute in real time).
    recordings = list(first_of_each.values()) if args.live else []
    long_item = long_turn(rng, (LONG_TURN_BREATH_S,)) if args.live and not args.quick else None
    heard_live, long_live = live(recordings, long_item) if recordings else ([], [])
    if heard_live:
        heard = summary([r["first_audio_after_end"] * 1000 for r in heard_live if r["answered"]])
        print_table(
            f"{len(heard_live)} recordings with internal pauses spoken to the real server (default engines)",
            ["recordings cut into several turns", "replies started inside the sentence",
             "agent audio inside the sentence s", "voice-to-voice p50 ms", "p95 ms"],
            [[sum(r["user_turns"] > 1 for r in heard_live),
              sum(r["replies_started_early"] for r in heard_live),
              sum(r["agent_audio_inside_s"] for r in heard_live), heard["p50"], heard["p95"]]],
            digits=1,
        )  # fmt: skip
    if long_item is not None and long_live:
        (result,) = long_live
        after = result["first_audio_after_end"]
        verdict = "met" if after <= TARGET_LONG_TURN_S else "MISSED"
        print(
            f"A {long_item.speech_end / RATE:.0f} s turn (breaths of {LONG_TURN_BREATH_S} s) spoken to the "
            f"server: {result['user_turns']} user turn(s), first agent audio {after * 1000:.0f} ms after "
            f"the end (target ≤ {TARGET_LONG_TURN_S * 1000:.0f} ms: {verdict})"
        )
    write_json(
        args.json,
        {
            "live": heard_live,
            "long_turn_live": long_live,
            "recordings": [s.name for s in speech],
            "detectors": reports,
            "barge_in_sweep": sweep,
            "long_turn": long,
        },
    )
    return 0
