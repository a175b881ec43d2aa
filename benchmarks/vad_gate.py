"""What the Silero energy gate costs in accuracy: `voicewire bench vad_gate`.

Every test utterance (the preamble cut at its pauses, "testing 123", eSpeak questions) and both whole
preamble recordings (22 kHz linear16 and 8 kHz mu-law) are scored window by window by a gated and an
ungated Silero stream. Reported: the share of windows the gate kept from the model, the share whose
speech decision (probability ≥ 0.5) differs, and how much later the gated stream's onset (the turn
detector's 3 consecutive speech windows) comes, and the CPU time of each (one window per call, so
without the batching a loaded server has: an upper bound on the per-window cost).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.common import (
    PREAMBLE,
    RATE,
    Pcm,
    load_speech,
    parser,
    print_table,
    test_utterances,
    write_json,
)
from voicewire.engines.vad_silero import WINDOW_SAMPLES, SileroModel

ONSET_WINDOWS = 3
MULAW_PREAMBLE = PREAMBLE.with_name("preamble-8k-mulaw.wav")


def onset(probabilities: Sequence[float]) -> int | None:
    """The window at which the turn detector would hear speech start (3 in a row at 0.5 or more)."""
    run = 0
    for index, probability in enumerate(probabilities):
        run = run + 1 if probability >= 0.5 else 0
        if run == ONSET_WINDOWS:
            return index
    return None


async def _score(model: SileroModel, audio: np.ndarray[Any, Any]) -> list[float]:
    """One window per call, as a session sends them (a 20 ms frame completes at most one window)."""
    samples = audio.astype(np.float32) / 32768.0
    count = len(samples) // WINDOW_SAMPLES
    windows = samples[: count * WINDOW_SAMPLES].reshape(count, WINDOW_SAMPLES)
    stream = model.stream()
    return [(await stream.speech_probabilities(window[None, :]))[0] for window in windows]


async def _compare(recordings: dict[str, np.ndarray[Any, Any]]) -> list[dict[str, Any]]:
    ungated, gated = SileroModel(batch_delay_s=0, gate_dbfs=None), SileroModel(batch_delay_s=0)
    results = []
    for name, audio in recordings.items():
        before = gated.windows_scored
        cpu0 = time.process_time()
        reference = await _score(ungated, audio)
        cpu1 = time.process_time()
        probabilities = await _score(gated, audio)
        cpu2 = time.process_time()
        differ = sum((a >= 0.5) != (b >= 0.5) for a, b in zip(reference, probabilities, strict=True))
        onset_ref, onset_gated = onset(reference), onset(probabilities)
        delay = None if onset_ref is None or onset_gated is None else onset_gated - onset_ref
        results.append(
            {
                "name": name,
                "windows": len(reference),
                "skipped": 1 - (gated.windows_scored - before) / len(reference),
                "decisions_differ": differ / len(reference),
                "onset_delay_ms": None if delay is None else delay * WINDOW_SAMPLES * 1000 / RATE,
                "cpu_ungated_s": cpu1 - cpu0,
                "cpu_gated_s": cpu2 - cpu1,
            }
        )
    return results


def recordings(espeak: bool = True) -> dict[str, Pcm]:
    """The test utterances and both whole preamble recordings, by name, at 16 kHz."""
    found = {u.name: u.pcm for u in test_utterances(espeak=espeak)}
    found["whole preamble 22k"] = load_speech(PREAMBLE)
    found["whole preamble 8k mu-law"] = load_speech(MULAW_PREAMBLE)
    return found


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0] if __doc__ else "vad_gate").parse_args(argv)
    results = asyncio.run(_compare(recordings(espeak=not args.quick)))
    rows = [
        [r["name"], r["windows"], r["skipped"] * 100, r["decisions_differ"] * 100, r["onset_delay_ms"]]
        for r in results
    ]
    print_table(
        "Silero with the -50 dBFS gate against without it",
        ["recording", "windows", "skipped %", "decisions differ %", "onset later by ms"],
        rows,
    )
    total = sum(r["windows"] for r in results)
    skipped = sum(r["skipped"] * r["windows"] for r in results) / total
    differ = sum(r["decisions_differ"] * r["windows"] for r in results) / total
    delays = [r["onset_delay_ms"] for r in results if r["onset_delay_ms"] is not None]
    cpu_ungated = sum(r["cpu_ungated_s"] for r in results) / total * 1e6
    cpu_gated = sum(r["cpu_gated_s"] for r in results) / total * 1e6
    print(f"CPU per window, one window per call: {cpu_ungated:.0f} µs ungated, {cpu_gated:.0f} µs gated")
    print(
        f"all: {skipped:.1%} of windows skipped, {differ:.2%} of speech decisions differ, "
        f"onsets later by {max(delays):.0f} ms at most (mean {np.mean(delays):.1f} ms) over {len(delays)}"
    )
    write_json(args.json, {"benchmark": "vad_gate", "recordings": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
