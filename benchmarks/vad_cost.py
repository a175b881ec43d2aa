"""What one Silero window costs, and what cheaper ways to run the model change: `voicewire bench vad_cost`.

Cost: CPU time per 32 ms window on one thread (an intra-op pool of 1, as in the server) in batches of 1, 4,
16 and 64 windows of real speech, for the bundled file at 16 kHz (how SileroModel ran it before the batched
rebuild) and at 8 kHz (256-sample windows), the same file under other session options, the batched rebuild
(`silero_gemm`, SileroModel's default), an int8 copy of it and its 8 kHz branch; then `SileroModel.run`
itself for each `graph`: the model plus the per-stream bookkeeping a server pays.

Accuracy: each variant that may change the numbers against the bundled file at 16 kHz on the repository's
recordings (`vad_gate`'s utterances and whole preambles, and the JFK recording): the share of speech
decisions that differ at 0.5 and at 0.35, how much later the first onset (3 windows at 0.5) comes, and the
largest probability difference. Every recording is scored alone (batches of 1) and all of them together
(one stream each in one batch, as on a loaded server): int8's activation scales are set per call, from the
whole batch, so a stream's scores depend on its neighbours'. 8 kHz variants hear the recording decimated
with soxr.

The int8 copy is ONNX Runtime's dynamic quantisation of the rebuilt graph, made here in memory: int8
weights with one scale per output channel (one scale per tensor wrecks the STFT: 83 % of decisions differ).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.common import PREAMBLE, RATE, load_speech, parser, print_table, write_json
from benchmarks.vad_gate import onset, recordings
from voicewire.audio.codecs import pcm16_to_float
from voicewire.audio.resample import resample
from voicewire.engines.silero_gemm import gemm_model, window_and_context
from voicewire.engines.vad_silero import SileroGraph, SileroModel, bundled_model_path

BATCHES = (1, 4, 16, 64)
THRESHOLDS = (0.5, 0.35)
GRAPHS: tuple[SileroGraph, ...] = ("original", "gemm")
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Variant:
    """One way to run Silero: a model (file path or serialised graph), its rate and session settings."""

    name: str
    model: str | bytes
    rate: int = RATE
    #: The bundled file takes the sample rate as an input; a rebuilt graph is one rate's network.
    takes_rate: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    #: Whether its probabilities may differ from the bundled file's at 16 kHz (worth an accuracy row).
    compare: bool = True

    def session(self) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        for name, value in self.options.items():
            setattr(options, name, value)
        for key, entry in self.config.items():
            options.add_session_config_entry(key, entry)
        return onnxruntime.InferenceSession(self.model, options, providers=["CPUExecutionProvider"])

    def feeds(self, inputs: Floats, state: Floats) -> dict[str, npt.NDArray[Any]]:
        fixed = {"sr": np.array(self.rate, dtype=np.int64)} if self.takes_rate else {}
        return {"input": inputs, "state": state, **fixed}


def quantize_int8(model: bytes) -> bytes:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs a suggestion and one line per tensor on the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="voicewire-vad-cost-") as directory:
            output = Path(directory) / "silero_int8.onnx"
            graph = onnx.load_model_from_string(model)
            quantize_dynamic(graph, output, per_channel=True, weight_type=QuantType.QInt8)
            return output.read_bytes()
    finally:
        root.setLevel(level)


def variants() -> list[Variant]:
    import onnxruntime

    original = str(bundled_model_path())
    batched = gemm_model(bundled_model_path())
    level, mode = onnxruntime.GraphOptimizationLevel, onnxruntime.ExecutionMode
    basic, none = level.ORT_ENABLE_BASIC, level.ORT_DISABLE_ALL

    def original_with(name: str, **settings: Any) -> Variant:
        return Variant(f"original, {name}", original, takes_rate=True, compare=False, **settings)

    return [
        Variant("original 16 kHz", original, takes_rate=True, compare=False),
        original_with("basic graph optimisation", options={"graph_optimization_level": basic}),
        original_with("no graph optimisation", options={"graph_optimization_level": none}),
        original_with("no spinning", config={"session.intra_op.allow_spinning": "0"}),
        original_with("no memory arena", options={"enable_cpu_mem_arena": False}),
        original_with("parallel execution mode", options={"execution_mode": mode.ORT_PARALLEL}),
        Variant("original 8 kHz", original, rate=8_000, takes_rate=True),
        Variant("gemm 16 kHz (default)", batched),
        Variant("gemm int8", quantize_int8(batched)),
        Variant("gemm 8 kHz", gemm_model(bundled_model_path(), 8_000), rate=8_000),
    ]


def at_rate(pcm: npt.NDArray[np.int16], rate: int) -> Floats:
    return pcm16_to_float(resample(pcm, RATE, rate))


def _windows(audio: Floats, rate: int) -> Floats:
    window, _ = window_and_context(rate)
    count = len(audio) // window
    return audio[: count * window].reshape(count, window)


def _per_window_us(run: Any, batch: int, seconds: float) -> float:
    """CPU µs per window of `run()`, which scores `batch` windows, over at least `seconds` of CPU."""
    for _ in range(3):
        run()
    calls, start = 0, time.process_time()
    while calls < 3 or time.process_time() - start < seconds:
        run()
        calls += 1
    return (time.process_time() - start) / calls / batch * 1e6


def model_cost(variant: Variant, speech: npt.NDArray[np.int16], seconds: float) -> dict[int, float]:
    session = variant.session()
    window, context = window_and_context(variant.rate)
    samples = at_rate(speech, variant.rate)
    costs = {}
    for batch in BATCHES:
        inputs = samples[: batch * (context + window)].reshape(batch, context + window)
        feeds = variant.feeds(inputs, np.zeros((2, batch, 128), dtype=np.float32))
        costs[batch] = _per_window_us(lambda feeds=feeds: session.run(None, feeds), batch, seconds)
    return costs


def server_cost(graph: SileroGraph, speech: npt.NDArray[np.int16], seconds: float) -> dict[int, float]:
    """`SileroModel.run`, one window per stream, as the batching queue calls it."""
    model = SileroModel(gate_dbfs=None, graph=graph)
    windows = _windows(at_rate(speech, RATE), RATE)
    costs = {}
    for batch in BATCHES:
        streams = [model.stream() for _ in range(batch)]
        costs[batch] = _per_window_us(lambda s=streams: model.run(s, windows[: len(s)]), batch, seconds)
    return costs


def score(variant: Variant, audios: Sequence[Floats], session: Any) -> list[Floats]:
    """Every recording streamed window by window, all of them in one batch (a stream each); a stream that
    has ended goes on hearing silence until the longest ends, and those scores are dropped."""
    window, context = window_and_context(variant.rate)
    counts = [len(audio) // window for audio in audios]
    windows = np.zeros((len(audios), max(counts), window), dtype=np.float32)
    for row, audio in enumerate(audios):
        windows[row, : counts[row]] = _windows(audio, variant.rate)
    state = np.zeros((2, len(audios), 128), dtype=np.float32)
    tails = np.zeros((len(audios), context), dtype=np.float32)
    scores = np.empty((len(audios), max(counts)), dtype=np.float32)
    for step in range(max(counts)):
        inputs = np.concatenate((tails, windows[:, step]), axis=1)
        output, state = session.run(None, variant.feeds(inputs, state))
        scores[:, step] = output[:, 0]
        tails = windows[:, step, -context:]
    return [scores[row, :count] for row, count in enumerate(counts)]


def accuracy(
    variant: Variant, reference: Sequence[Floats], speech: Sequence[npt.NDArray[np.int16]], together: bool
) -> dict[str, Any]:
    session = variant.session()
    audios = [at_rate(pcm, variant.rate) for pcm in speech]
    if together:
        scored = score(variant, audios, session)
    else:
        scored = [score(variant, [audio], session)[0] for audio in audios]
    differ = dict.fromkeys(THRESHOLDS, 0)
    windows, largest, delays = 0, 0.0, []
    for expected, got in zip(reference, scored, strict=True):
        count = min(len(expected), len(got))  # decimation may leave one window fewer
        expected, got = expected[:count], got[:count]
        windows += count
        largest = max(largest, float(np.abs(got - expected).max()))
        for threshold in THRESHOLDS:
            differ[threshold] += int(np.sum((got >= threshold) != (expected >= threshold)))
        first, first_got = onset(expected.tolist()), onset(got.tolist())
        if first is not None and first_got is not None:
            delays.append((first_got - first) * 32)
    return {
        "variant": variant.name,
        "scored": "together" if together else "alone",
        "windows": windows,
        **{f"differ_at_{t}": differ[t] / windows for t in THRESHOLDS},
        "onsets": len(delays),
        "onset_later_ms_max": max(delays, default=0),
        "onset_earlier_ms_max": -min(delays, default=0),
        "max_probability_difference": largest,
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "vad_cost")
    p.add_argument("--seconds", type=float, default=0.5, help="CPU seconds per measured cell")
    args = p.parse_args(argv)
    seconds = 0.01 if args.quick else args.seconds
    load_before = os.getloadavg()
    speech = load_speech(PREAMBLE)
    found = variants()
    costs = {variant.name: model_cost(variant, speech, seconds) for variant in found}
    servers = {graph: server_cost(graph, speech, seconds) for graph in GRAPHS}

    base = costs[found[0].name][16]
    print_table(
        "Silero, CPU µs per 32 ms window on one thread, by batch size",
        ["variant", *(f"batch {b}" for b in BATCHES), "cheaper at 16"],
        [[name, *(cost[b] for b in BATCHES), f"{base / cost[16]:.1f}x"] for name, cost in costs.items()],
    )
    print_table(
        "SileroModel.run (model + per-stream bookkeeping), CPU µs per window",
        ["graph", *(f"batch {b}" for b in BATCHES), "cheaper at 16"],
        [
            [graph, *(cost[b] for b in BATCHES), f"{servers['original'][16] / cost[16]:.1f}x"]
            for graph, cost in servers.items()
        ],
    )

    named = recordings(espeak=not args.quick)
    named["jfk"] = load_speech(PREAMBLE.with_name("jfk-16k-linear16.wav"))
    pcm = list(named.values())
    reference = [score(found[0], [at_rate(audio, RATE)], found[0].session())[0] for audio in pcm]
    results = [
        accuracy(variant, reference, pcm, together)
        for variant in found
        if variant.compare
        for together in (False, True)
    ]
    print_table(
        f"Against the original at 16 kHz (alone): {len(pcm)} recordings, {results[0]['windows']} windows",
        [
            "variant",
            "scored",
            "differ at 0.5 %",
            "differ at 0.35 %",
            "onset later ms",
            "onset earlier ms",
            "max |Δp|",
        ],
        [
            [
                r["variant"],
                r["scored"],
                r["differ_at_0.5"] * 100,
                r["differ_at_0.35"] * 100,
                r["onset_later_ms_max"],
                r["onset_earlier_ms_max"],
                f"{r['max_probability_difference']:.4f}",
            ]
            for r in results
        ],
        digits=2,
    )
    load_after = os.getloadavg()
    print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    write_json(
        args.json,
        {
            "benchmark": "vad_cost",
            "us_per_window": costs,
            "silero_model_run_us_per_window": servers,
            "accuracy": results,
            "load_average": [load_before[0], load_after[0]],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
