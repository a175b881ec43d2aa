"""Audio as pure functions: codecs, resampling and WAV files, with no sockets, threads or clocks."""

from voicewire.audio.codecs import (
    SUPPORTED_ENCODINGS,
    Encoding,
    FloatAudio,
    PcmAudio,
    UnsupportedAudioFormat,
    bytes_per_sample,
    check_encoding,
    decode,
    encode,
    float_to_pcm16,
    pcm16_to_float,
)
from voicewire.audio.resample import StreamResampler, resample
from voicewire.audio.wav import WavAudio, read_wav, wav_header, write_wav

__all__ = [
    "SUPPORTED_ENCODINGS",
    "Encoding",
    "FloatAudio",
    "PcmAudio",
    "StreamResampler",
    "UnsupportedAudioFormat",
    "WavAudio",
    "bytes_per_sample",
    "check_encoding",
    "decode",
    "encode",
    "float_to_pcm16",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "wav_header",
    "write_wav",
]
