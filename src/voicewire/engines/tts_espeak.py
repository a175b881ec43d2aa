"""eSpeak NG formant synthesis through the `espeakng-loader` wheel (libespeak-ng.so + data), via ctypes.

The fallback voice: robotic and weaker over an 8 kHz phone leg, but it costs about 1 ms per second of audio
and 15 MB of memory, and it speaks many languages. No apt package is needed.

libespeak-ng keeps its state in globals, so there is one library binding per process and every
`EspeakTts` shares its lock. Synthesis runs in synchronous mode: `espeak_Synth` returns only after the
callback has received every sample, and the callback returning 1 aborts it, which is how a stop request
takes effect within one audio buffer.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Final

import numpy as np

from voicewire.engines._text import split_sentences
from voicewire.engines._worker import ModelLock, iterate_pieces_in_thread
from voicewire.engines.base import EngineError, PcmAudio

logger = logging.getLogger(__name__)

DEFAULT_VOICE: Final = "en-us"

_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_INITIALIZE_DONT_EXIT: Final = 0x8000
_POS_CHARACTER: Final = 1
_CHARS_UTF8: Final = 1
_EE_OK: Final = 0
_CONTINUE, _ABORT = 0, 1

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _VoiceProperties(ctypes.Structure):
    """`espeak_VOICE`. `languages` is a list of (priority byte, NUL-terminated tag), hence not a c_char_p."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]

    def language_tags(self) -> list[str]:
        tags: list[str] = []
        address = self.languages
        while address and ctypes.c_ubyte.from_address(address).value != 0:
            tag = ctypes.string_at(address + 1)
            tags.append(tag.decode())
            address += len(tag) + 2
        return tags


class _Library:
    """The process-wide libespeak-ng binding: loaded and initialised once, used under one lock."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lock = ModelLock()
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        self._lib.espeak_SetSynthCallback.restype = None
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self._lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceProperties)]
        self._lib.espeak_SetVoiceByProperties.restype = ctypes.c_int
        self._lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_VoiceProperties)]
        self._lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceProperties))
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._lib.espeak_Synth.restype = ctypes.c_int

        data_path = espeakng_loader.get_data_path().encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise EngineError(f"eSpeak NG failed to initialise (data at {data_path.decode()})")
        self.sample_rate = int(rate)
        # The callback object must outlive every synthesis, so the binding owns it.
        self._callback = _SynthCallback(self._on_audio)
        self._lib.espeak_SetSynthCallback(self._callback)
        self._collect: list[PcmAudio] = []
        self._stop: threading.Event | None = None
        self._voices, self._variants = self._list_voices(Path(espeakng_loader.get_data_path()))

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if self._stop is not None and self._stop.is_set():
            return _ABORT
        if count > 0 and wav:
            self._collect.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.int16))
        return _CONTINUE

    def _list_voices(self, data_path: Path) -> tuple[frozenset[str], frozenset[str]]:
        """Every name a voice answers to (file name and language tags) and every variant ("f3", "klatt")."""
        names: set[str] = set()
        voices = self._lib.espeak_ListVoices(None)
        for index in itertools.count():
            if not voices[index]:
                break
            voice = voices[index].contents
            names.add(Path((voice.identifier or b"").decode()).name.lower())
            names.update(tag.lower() for tag in voice.language_tags())
        variants = {path.name.lower() for path in (data_path / "voices" / "!v").iterdir()}
        return frozenset(names - {""}), frozenset(variants)

    def has_voice(self, voice: str) -> bool:
        """Strict, unlike eSpeak's own matching, which would take "no-such-voice" for Norwegian."""
        base, _, variant = voice.lower().partition("+")
        return base in self._voices and (not variant or variant in self._variants)

    def select_voice(self, voice: str) -> bool:
        """Make `voice` current; the caller holds `lock`.

        Voice files are named "en", "en-US", "en-GB-x-rp"..., while people ask for "en-gb": like the
        espeak-ng command line, fall back to matching the name as a language tag.
        """
        if self._lib.espeak_SetVoiceByName(voice.encode()) == _EE_OK:
            return True
        language = ctypes.create_string_buffer(voice.encode())
        properties = _VoiceProperties(languages=ctypes.cast(language, ctypes.c_void_p))
        return bool(self._lib.espeak_SetVoiceByProperties(ctypes.byref(properties)) == _EE_OK)

    def synthesize(self, text: str, stop: threading.Event) -> PcmAudio:
        """Speak `text` with the current voice; the caller holds `lock`."""
        self._collect, self._stop = [], stop
        try:
            encoded = text.encode() + b"\0"
            error = self._lib.espeak_Synth(
                encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if error != _EE_OK and not stop.is_set():
                raise EngineError(f"eSpeak NG could not synthesise the text (error {error})")
            return np.concatenate(self._collect) if self._collect else np.zeros(0, dtype=np.int16)
        finally:
            self._collect, self._stop = [], None


_library: _Library | None = None
_library_guard = threading.Lock()


def _shared_library() -> _Library:
    global _library
    with _library_guard:
        if _library is None:
            _library = _Library()
        return _library


class EspeakTts:
    """eSpeak NG voices by their eSpeak names ("en-us", "en-gb", "en-us+f3", "de", ...)."""

    def __init__(self, *, default_voice: str = DEFAULT_VOICE) -> None:
        self._library = _shared_library()
        if not self._library.has_voice(default_voice):
            raise EngineError(f"eSpeak NG has no voice {default_voice!r}")
        self.default_voice = default_voice

    @property
    def sample_rate(self) -> int:
        return self._library.sample_rate

    def has_voice(self, voice: str) -> bool:
        return self._library.has_voice(voice)

    def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        chosen = voice or self.default_voice
        if not self.has_voice(chosen):
            raise EngineError(f"eSpeak NG has no voice {chosen!r}")
        library = self._library

        def piece_audio(piece: str, stop: threading.Event) -> Iterator[PcmAudio]:
            if not library.select_voice(chosen):
                raise EngineError(f"eSpeak NG could not select the voice {chosen!r}")
            yield library.synthesize(piece, stop)

        return iterate_pieces_in_thread(split_sentences(text), piece_audio, library.lock, what="eSpeak NG")
