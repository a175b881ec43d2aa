from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tests.conftest import TEST_AUDIO
from tests.wer import PREAMBLE, wer
from voicewire.audio import pcm16_to_float, read_wav, resample
from voicewire.engines.base import FloatAudio, SpeechToText
from voicewire.engines.stt_whisper import SHORT_AUDIO_S, WhisperStt, _timed_segments
from voicewire.engines.tts_espeak import EspeakTts

pytestmark = pytest.mark.models

# tiny.en's only errors on this recording are "to ordain" (said so) and "in our posterity": 2 of 52 words.
MAX_WER = 0.08


@pytest.mark.parametrize("recording", ["preamble-22k-linear16.wav", "preamble-8k-mulaw.wav"])
async def test_tiny_en_transcribes_the_preamble(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio], recording: str
) -> None:
    assert isinstance(whisper_tiny, SpeechToText)
    transcript = await whisper_tiny.transcribe(preamble_16k[recording])
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text
    assert transcript.language == "en"


async def test_base_transcribes_the_phone_recording(
    whisper_base: WhisperStt, preamble_16k: dict[str, FloatAudio]
) -> None:
    transcript = await whisper_base.transcribe(preamble_16k["preamble-8k-mulaw.wav"])
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text


async def test_keyterms_are_accepted_and_silence_gives_no_words(whisper_tiny: WhisperStt) -> None:
    transcript = await whisper_tiny.transcribe(
        np.zeros(16000, dtype=np.float32), keyterms=["Acme", "voicewire"]
    )
    assert transcript.text == "", transcript.text


#: Deepgram's own agent example sends these; they are not in the recordings.
DEEPGRAM_EXAMPLE_KEYTERMS = ["hello", "goodbye"]


@pytest.mark.parametrize(
    ("recording", "reference"),
    [
        ("preamble-22k-linear16.wav", PREAMBLE),
        ("preamble-8k-mulaw.wav", PREAMBLE),
        ("testing-8k-mulaw.wav", "Testing 123, testing 123."),
    ],
)
@pytest.mark.parametrize("keyterms", [DEEPGRAM_EXAMPLE_KEYTERMS, ["Posterity", "Tranquility"], ["testing"]])
async def test_keyterms_never_make_real_speech_worse(
    whisper_tiny: WhisperStt, recording: str, reference: str, keyterms: list[str]
) -> None:
    """Keyterms used to repeat an utterance ("Testing 123" four times) or erase it."""
    audio = _speech(recording)
    without = await whisper_tiny.transcribe(audio)
    with_keyterms = await whisper_tiny.transcribe(audio, keyterms=keyterms)
    assert wer(reference, with_keyterms.text) <= wer(reference, without.text), (
        without.text,
        with_keyterms.text,
    )


async def test_a_keyterm_fixes_a_misheard_name(whisper_tiny: WhisperStt, espeak: EspeakTts) -> None:
    """The recordings have no misheard term, so a synthetic voice says a name tiny.en does not know."""
    reference = "Please book a table at Chez Panisse for Tuesday."
    pcm = np.concatenate([chunk async for chunk in espeak.synthesize(reference)])
    audio = pcm16_to_float(resample(pcm, espeak.sample_rate, 16000))
    without = await whisper_tiny.transcribe(audio)
    with_keyterm = await whisper_tiny.transcribe(audio, keyterms=["Chez Panisse"])
    assert "Chez Panisse" not in without.text
    assert "Chez Panisse" in with_keyterm.text
    assert wer(reference, with_keyterm.text) < wer(reference, without.text), (without.text, with_keyterm.text)


def _speech(name: str) -> FloatAudio:
    wav = read_wav(TEST_AUDIO / name)
    return pcm16_to_float(resample(wav.pcm16(), wav.sample_rate, 16000))


async def test_cancelling_abandons_the_transcription(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio]
) -> None:
    task = asyncio.create_task(whisper_tiny.transcribe(preamble_16k["preamble-22k-linear16.wav"]))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The model finishes at most the segment it is decoding; then it is free for the next caller.
    assert time.perf_counter() - started < 2.0


async def test_audio_up_to_the_short_limit_skips_the_padded_30_s_window(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio], monkeypatch: pytest.MonkeyPatch
) -> None:
    def padded(*args: object, **kwargs: object) -> None:
        raise AssertionError("the 30 s path was taken")

    recording = preamble_16k["preamble-8k-mulaw.wav"]  # 19.1 s
    assert len(recording) <= SHORT_AUDIO_S * 16000
    monkeypatch.setattr(whisper_tiny._model, "transcribe", padded)
    transcript = await whisper_tiny.transcribe(recording)
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text


async def test_longer_audio_takes_the_30_s_path(
    whisper_tiny: WhisperStt, preamble_16k: dict[str, FloatAudio], monkeypatch: pytest.MonkeyPatch
) -> None:
    def short(*args: object) -> None:
        raise AssertionError("the short window was taken")

    recording = preamble_16k["preamble-22k-linear16.wav"]
    long = np.concatenate((recording, np.zeros(16000 * 6, dtype=np.float32)))
    monkeypatch.setattr(whisper_tiny, "_short_window", short)
    transcript = await whisper_tiny.transcribe(long)
    assert wer(PREAMBLE, transcript.text) <= MAX_WER, transcript.text


def test_decoded_tokens_split_into_segments_at_their_timestamps() -> None:
    class Tokens:
        eot = 100
        timestamp_begin = 200

    # <0.00> 1 2 <1.00> <1.00> 3 <7.00> <7.00> 4 eot
    tokens = [200, 1, 2, 250, 250, 3, 550, 550, 4, 100]
    assert list(_timed_segments(tokens, Tokens())) == [(0.0, [1, 2]), (1.0, [3]), (7.0, [4])]
