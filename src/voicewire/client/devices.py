"""Microphone and speaker for the agent clients (optional extra `voicewire[devices]`).

Device I/O sits behind two small protocols, `AudioSource` and `AudioSink`, so the logic that matters — muting,
barge-in, pacing — runs the same against a sound card (`SoundDeviceSource`/`SoundDeviceSink`; sounddevice is
imported only when a stream opens) and against files (`WavFileSource`/`BufferSink`), which is how the tests
and offline demos run.

Audio is 16-bit signed little-endian PCM (linear16), as in deepgram-sdk 3.11. Differences from its
`Microphone`/`Speaker`: the speaker drops its queued audio on `flush()` (the client calls it on
`UserStartedSpeaking`: that is the protocol's barge-in), and it mutes the microphone while it plays only when
given one, instead of always.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from voicewire.audio import UnsupportedAudioFormat, read_wav, resample
from voicewire.client.errors import DeviceError
from voicewire.client.options import set_log_level

logger = logging.getLogger(__name__)

#: The seed SDK's defaults: mono 16 kHz, 8194-frame blocks, unmute 2000 ms after the last played audio.
CHANNELS = 1
RATE = 16000
CHUNK = 8194
PLAYBACK_DELTA = 2000

SAMPLE_WIDTH = 2
#: The speaker writes at most this much audio at once, so a flush takes effect within one piece.
PIECE_MS = 20

AudioCallback = Callable[[bytes], object]


class AudioSource(Protocol):
    """Produces audio blocks by calling `callback` from its own thread until `stop()`."""

    def start(self, callback: AudioCallback) -> None: ...

    def stop(self) -> None: ...


class AudioSink(Protocol):
    """Plays audio. `write` may block for about as long as the audio lasts, as a sound card does."""

    def start(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def clear(self) -> None:
        """Drop audio already handed to the device but not yet heard (barge-in)."""

    def stop(self) -> None: ...


def _sounddevice() -> ModuleType:
    """Import sounddevice, telling a missing package apart from a missing PortAudio library.

    sounddevice raises OSError at import time when it is installed but cannot load libportaudio, which
    `pip install` cannot fix: that needs the system package.
    """
    try:
        import sounddevice
    except ImportError as exc:
        raise DeviceError(
            "Audio devices need the optional sounddevice package: pip install 'voicewire[devices]'"
        ) from exc
    except OSError as exc:
        raise DeviceError(
            f"sounddevice is installed but the PortAudio library cannot be loaded ({exc}): install it "
            "with the system's package manager, e.g. apt-get install libportaudio2 (Debian/Ubuntu), "
            "brew install portaudio (macOS)"
        ) from exc
    module: ModuleType = sounddevice
    return module


@contextlib.contextmanager
def _opening(what: str, device: int | None, rate: int, sd: ModuleType) -> Iterator[None]:
    """PortAudio errors ("Error querying device -1": no sound card) as a `DeviceError` naming the device."""
    try:
        yield
    except getattr(sd, "PortAudioError", ()) as exc:
        which = "the default device" if device is None else f"device {device}"
        raise DeviceError(f"cannot open the {what} ({which}, {rate} Hz): {exc}") from exc


class SoundDeviceSource:
    """The default microphone input: a PortAudio input stream in callback mode."""

    def __init__(
        self, rate: int = RATE, chunk: int = CHUNK, channels: int = CHANNELS, device: int | None = None
    ) -> None:
        self.rate, self.chunk, self.channels, self.device = rate, chunk, channels, device
        self._stream: Any = None

    def start(self, callback: AudioCallback) -> None:
        sd = _sounddevice()

        def on_block(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            callback(bytes(indata))

        with _opening("microphone", self.device, self.rate, sd):
            self._stream = sd.RawInputStream(
                samplerate=self.rate,
                blocksize=self.chunk,
                channels=self.channels,
                dtype="int16",
                device=self.device,
                callback=on_block,
            )
            self._stream.start()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()


class SoundDeviceSink:
    """The default speaker output: a blocking PortAudio output stream."""

    def __init__(
        self, rate: int = RATE, chunk: int = CHUNK, channels: int = CHANNELS, device: int | None = None
    ) -> None:
        self.rate, self.chunk, self.channels, self.device = rate, chunk, channels, device
        self._stream: Any = None

    def start(self) -> None:
        sd = _sounddevice()
        with _opening("speaker", self.device, self.rate, sd):
            self._stream = sd.RawOutputStream(
                samplerate=self.rate,
                blocksize=self.chunk,
                channels=self.channels,
                dtype="int16",
                device=self.device,
            )
            self._stream.start()

    def write(self, data: bytes) -> None:
        if self._stream is not None:
            self._stream.write(data)

    def clear(self) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream.start()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()


class WavFileSource:
    """Streams a WAV file as linear16 at `rate` in `chunk`-frame blocks, paced like a live microphone.

    It reads what `voicewire.audio.read_wav` reads (PCM, mu-law, A-law; any rate and channel count) and
    sends mono audio resampled to `rate`, the session's input rate: a file is sent as the format the
    settings announce, not as whatever it happens to be recorded in.
    """

    def __init__(self, path: str | Path, chunk: int = CHUNK, realtime: bool = True, rate: int = RATE) -> None:
        self.path = Path(path)
        self.chunk = chunk
        self.realtime = realtime
        self.rate = rate
        self.channels = CHANNELS
        try:
            wav = read_wav(self.path)
        except (UnsupportedAudioFormat, ValueError) as exc:
            raise DeviceError(f"{self.path}: {exc}") from exc
        self._pcm = resample(wav.pcm16(), wav.sample_rate, rate).astype("<i2").tobytes()
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, callback: AudioCallback) -> None:
        self._stop.clear()
        self.finished.clear()
        self._thread = threading.Thread(
            target=self._run, args=(callback,), name="voicewire-wav-source", daemon=True
        )
        self._thread.start()

    def _run(self, callback: AudioCallback) -> None:
        block_seconds = self.chunk / self.rate
        block_bytes = self.chunk * SAMPLE_WIDTH
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(self._pcm), block_bytes)):
            if self._stop.is_set():
                break
            callback(self._pcm[offset : offset + block_bytes])
            due = started + (index + 1) * block_seconds
            if self.realtime and self._stop.wait(due - time.monotonic()):
                break
        self.finished.set()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()


class BufferSink:
    """Keeps what the speaker played in `played`; with `realtime` a write lasts as long as its audio."""

    def __init__(self, rate: int = RATE, channels: int = CHANNELS, realtime: bool = False) -> None:
        self.rate, self.channels, self.realtime = rate, channels, realtime
        self.played = bytearray()
        self.clears = 0
        self._stopped = threading.Event()

    def start(self) -> None:
        self._stopped.clear()

    def write(self, data: bytes) -> None:
        self.played += data
        if self.realtime:
            self._stopped.wait(len(data) / (self.rate * self.channels * SAMPLE_WIDTH))

    def clear(self) -> None:
        self.clears += 1

    def stop(self) -> None:
        self._stopped.set()


class Microphone:
    """Captures audio and hands every block to a callback — the client's `send` — from the source's thread.

    While muted it sends silence of the same length, like the seed, so the server sees a continuous stream.
    """

    def __init__(
        self,
        push_callback: AudioCallback | None = None,
        verbose: int | None = None,
        rate: int = RATE,
        chunk: int = CHUNK,
        channels: int = CHANNELS,
        input_device_index: int | None = None,
        source: AudioSource | None = None,
    ) -> None:
        set_log_level(verbose)
        self.rate, self.chunk, self.channels = rate, chunk, channels
        self._source = source or SoundDeviceSource(rate, chunk, channels, input_device_index)
        self._callback = push_callback
        self._muted = False
        self._active = False

    def set_callback(self, push_callback: AudioCallback) -> None:
        self._callback = push_callback

    def start(self) -> bool:
        if self._callback is None:
            logger.error("Microphone.start: no callback set")
            return False
        if not self._active:
            self._source.start(self._on_audio)
            self._active = True
        return True

    def _on_audio(self, data: bytes) -> None:
        callback = self._callback
        if callback is None:
            return
        try:
            callback(bytes(len(data)) if self._muted else data)
        except Exception:
            logger.warning("Microphone callback failed", exc_info=True)

    def mute(self) -> bool:
        self._muted = True
        return True

    def unmute(self) -> bool:
        self._muted = False
        return True

    def is_muted(self) -> bool:
        return self._muted

    def is_active(self) -> bool:
        return self._active

    def finish(self) -> bool:
        if self._active:
            self._active = False
            self._source.stop()
        return True


class Speaker:
    """Plays agent audio from a queue on its own thread.

    `flush()` drops everything queued and cuts the piece being played (barge-in). With a `microphone`, it is
    muted while audio plays and unmuted `last_play_delta_in_ms` after the last piece, so the agent does not
    hear itself on open speakers; without one, the user can interrupt at any time.
    """

    def __init__(
        self,
        verbose: int | None = None,
        rate: int = RATE,
        chunk: int = CHUNK,
        channels: int = CHANNELS,
        last_play_delta_in_ms: int = PLAYBACK_DELTA,
        output_device_index: int | None = None,
        microphone: Microphone | None = None,
        sink: AudioSink | None = None,
    ) -> None:
        set_log_level(verbose)
        self.rate, self.chunk, self.channels = rate, chunk, channels
        self._sink: AudioSink = sink or SoundDeviceSink(rate, chunk, channels, output_device_index)
        self._microphone = microphone
        self._unmute_after = last_play_delta_in_ms / 1000
        frame = SAMPLE_WIDTH * channels
        self._piece = max(1, rate * PIECE_MS // 1000) * frame
        self._pending: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self._generation = 0
        self._busy = False
        self._stopping = False
        self._muted_at: float | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        if self._thread is not None:
            return True
        self._sink.start()
        self._stopping = False
        self._thread = threading.Thread(target=self._play, name="voicewire-speaker", daemon=True)
        self._thread.start()
        return True

    def add_audio_to_queue(self, data: bytes) -> None:
        with self._cond:
            self._pending.append(data)
            self._cond.notify_all()

    def flush(self) -> None:
        """Drop queued and playing audio, and give the microphone back at once."""
        with self._cond:
            self._pending.clear()
            self._generation += 1
            self._cond.notify_all()
        self._release_microphone()

    def wait_for_complete(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been played; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def finish(self) -> bool:
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        self._sink.stop()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._release_microphone()
        return True

    def _next(self, seen: int) -> tuple[bytes | None, int]:
        """Wait for audio; None means stop. A changed generation (a flush) comes back as empty audio."""
        with self._cond:
            while True:
                if self._stopping:
                    return None, seen
                if self._generation != seen:
                    return b"", self._generation
                if self._pending:
                    self._busy = True
                    return self._pending.popleft(), seen
                self._busy = False
                self._cond.notify_all()
                timeout = None
                if self._muted_at is not None:
                    timeout = self._muted_at + self._unmute_after - time.monotonic()
                    if timeout <= 0:
                        self._release_microphone()
                        continue
                self._cond.wait(timeout)

    def _play(self) -> None:
        seen = self._generation
        while True:
            data, generation = self._next(seen)
            if data is None:
                return
            try:
                if generation != seen:
                    seen = generation
                    self._sink.clear()
                if data:
                    self._hold_microphone()
                for start in range(0, len(data), self._piece):
                    if self._generation != seen or self._stopping:
                        break
                    self._sink.write(data[start : start + self._piece])
            except Exception:
                if not self._stopping:  # a device closed under a write by finish() is expected
                    logger.warning("Speaker could not play audio", exc_info=True)
            self._hold_microphone(renew=True)

    def _hold_microphone(self, renew: bool = False) -> None:
        """Mute the microphone for the audio being played, or restart its unmute countdown (`renew`)."""
        mic = self._microphone
        if mic is None:
            return
        with self._cond:
            if self._muted_at is not None:
                self._muted_at = time.monotonic()
            elif not renew and not mic.is_muted():
                mic.mute()
                self._muted_at = time.monotonic()

    def _release_microphone(self) -> None:
        mic = self._microphone
        if mic is None:
            return
        with self._cond:
            if self._muted_at is not None:
                self._muted_at = None
                mic.unmute()
