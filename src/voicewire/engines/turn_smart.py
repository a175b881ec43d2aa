"""Smart Turn v3.2: does the user's audio so far sound like a finished turn? One model for the whole server.

The model (pipecat's, BSD-2-Clause) hears intonation and grammar, not just silence: it tells "ask not —"
from "…for your country." about 150 ms into a pause, where a silence timer must either cut people off or
make every reply wait. It reads the last 8 s of 16 kHz audio (earlier audio is dropped, shorter audio is
zero-padded in front), normalised to zero mean and unit variance, as Whisper log-mel features, and returns
P(turn complete).

The ONNX file ships inside the `pipecat-ai` wheel, which is installed with `--no-deps` for this file alone:
pipecat's Python modules need packages voicewire does not install, so the file is located through the
package's directory without importing anything from it.

A call costs 30-40 ms of one core, so it runs on the model's own thread, never on the event loop. Requests
from all sessions that arrive while a call runs are scored together in the next call (the encoder takes a
batch), so a busy server pays one thread switch per batch rather than per session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voicewire.audio.mel import log_mel
from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError, FloatAudio

logger = logging.getLogger(__name__)

#: The model reads this much audio, ending now.
WINDOW_SAMPLES = 8 * ENGINE_SAMPLE_RATE
_MODEL_FILE = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")
#: Added to the variance before the square root, as Whisper's feature extractor does (silence stays finite).
_VARIANCE_EPSILON = 1e-7


def bundled_model_path() -> Path | None:
    """The ONNX file in the installed `pipecat-ai` wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("pipecat")  # finds the package directory; imports nothing from it
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*_MODEL_FILE)
        if path.is_file():
            return path
    return None


def model_input(audio: FloatAudio) -> npt.NDArray[np.float32]:
    """The (80, 800) features of the last 8 s of `audio`, as Smart Turn was trained on them."""
    window = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    tail = np.asarray(audio, dtype=np.float32)[-WINDOW_SAMPLES:]
    window[WINDOW_SAMPLES - len(tail) :] = tail
    normalised = (window - window.mean()) / np.sqrt(window.var() + _VARIANCE_EPSILON)
    return log_mel(normalised)


class SmartTurnModel:
    """The shared ONNX session, its thread, and the requests waiting for the next batch."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime

        path = model_path or bundled_model_path()
        if path is None:
            raise EngineError("Smart Turn needs the pipecat-ai wheel (pip install --no-deps pipecat-ai)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="voicewire-smart-turn")
        self._queue: list[tuple[FloatAudio, asyncio.Future[float]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None  # referenced, so it is not collected mid-batch
        #: Model calls and requests so far: batching is visible in tests and benchmarks.
        self.calls = 0
        self.requests = 0

    @property
    def busy(self) -> bool:
        """Whether a batch is being scored (the local LLM then runs on fewer threads: a speculative reply's
        LLM meets the end-of-turn checks)."""
        return self._draining

    def predict(self, audios: list[FloatAudio]) -> list[float]:
        """P(turn complete) for each audio, in one blocking model call."""
        features = np.stack([model_input(audio) for audio in audios])
        (output,) = self._session.run(None, {self._input: features})
        self.calls += 1
        self.requests += len(audios)
        return [float(p) for p in np.asarray(output).reshape(len(audios))]

    async def completion_probability(self, audio: FloatAudio) -> float:
        """P(turn complete) for the audio of a turn so far, scored off the event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        self._queue.append((audio, future))
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    probabilities = await loop.run_in_executor(
                        self._thread, self.predict, [audio for audio, _ in batch]
                    )
                except Exception as exc:  # every waiting session gets the failure as its own error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(EngineError(f"Smart Turn failed: {exc}"))
                    continue
                for (_, future), probability in zip(batch, probabilities, strict=True):
                    if not future.done():  # a session that closed meanwhile no longer waits
                        future.set_result(probability)
        finally:
            self._draining = False
