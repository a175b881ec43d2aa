"""Microphone and Speaker: unit behaviour with file-backed devices, then wired into both clients.

No sound card is needed: sources and sinks are files and buffers, and the sounddevice adapters run against a
small fake `sounddevice` module.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import types
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import TEST_AUDIO
from voicewire.audio import read_wav, resample
from voicewire.client import (
    BufferSink,
    DeviceError,
    Microphone,
    SoundDeviceSink,
    SoundDeviceSource,
    Speaker,
    WavFileSource,
)
from voicewire.client.devices import AudioCallback

from .peer import PeerSession, until, welcome_then_settings
from .scenarios import Run, Scenario, run_async, run_sync

MIC_BLOCK = (1000).to_bytes(2, "little", signed=True) * 160
SILENCE = bytes(len(MIC_BLOCK))


def write_wav(path: Path, frames: bytes, rate: int = 16000, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path


class ManualSource:
    """An AudioSource the test drives by hand."""

    def __init__(self) -> None:
        self.callback: AudioCallback | None = None
        self.stopped = False

    def start(self, callback: AudioCallback) -> None:
        self.callback = callback

    def stop(self) -> None:
        self.stopped = True


# --- fake sounddevice -----------------------------------------------------------------------------------


class FakeInputStream:
    """Calls back with a constant non-zero block every 10 ms from its own thread, like PortAudio."""

    def __init__(self, callback: Callable[..., None], **settings: Any) -> None:
        self.callback = callback
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-portaudio-in")

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.callback(MIC_BLOCK, len(MIC_BLOCK) // 2, None, None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def close(self) -> None:
        pass


class FakeOutputStream:
    """Takes as long to write as the audio lasts, like a sound card."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.written = bytearray()
        self.aborts = 0
        self.closed = False

    def start(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += data
        time.sleep(len(data) / (2 * self.settings["samplerate"]))

    def abort(self) -> None:
        self.aborts += 1

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_sounddevice(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    made = types.SimpleNamespace(inputs=[], outputs=[])

    def raw_input_stream(**settings: Any) -> FakeInputStream:
        made.inputs.append(FakeInputStream(**settings))
        return made.inputs[-1]  # type: ignore[no-any-return]

    def raw_output_stream(**settings: Any) -> FakeOutputStream:
        made.outputs.append(FakeOutputStream(**settings))
        return made.outputs[-1]  # type: ignore[no-any-return]

    module = types.ModuleType("sounddevice")
    module.RawInputStream = raw_input_stream  # type: ignore[attr-defined]
    module.RawOutputStream = raw_output_stream  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    return made


# --- Microphone -----------------------------------------------------------------------------------------


def test_microphone_sends_silence_of_the_same_length_while_muted() -> None:
    sent: list[bytes] = []
    source = ManualSource()
    mic = Microphone(sent.append, source=source)
    assert mic.start() and mic.is_active()
    assert source.callback is not None
    source.callback(MIC_BLOCK)
    mic.mute()
    source.callback(MIC_BLOCK)
    assert mic.is_muted()
    mic.unmute()
    source.callback(MIC_BLOCK)
    assert sent == [MIC_BLOCK, SILENCE, MIC_BLOCK]
    assert mic.finish() and source.stopped and not mic.is_active()


def test_microphone_without_callback_does_not_start() -> None:
    source = ManualSource()
    assert Microphone(source=source).start() is False
    assert source.callback is None


def test_microphone_survives_a_failing_callback() -> None:
    source = ManualSource()
    calls: list[bytes] = []

    def flaky(data: bytes) -> None:
        calls.append(data)
        if len(calls) == 1:
            raise OSError("socket gone")

    Microphone(flaky, source=source).start()
    assert source.callback is not None
    source.callback(MIC_BLOCK)
    source.callback(MIC_BLOCK)
    assert len(calls) == 2


def test_wav_source_streams_the_file_in_blocks(tmp_path: Path) -> None:
    frames = bytes(range(256)) * 25
    source = WavFileSource(write_wav(tmp_path / "a.wav", frames), chunk=1000, realtime=False)
    assert (source.rate, source.channels) == (16000, 1)
    blocks: list[bytes] = []
    source.start(blocks.append)
    assert source.finished.wait(2)
    source.stop()
    assert b"".join(blocks) == frames
    assert [len(b) for b in blocks] == [2000, 2000, 2000, 400]


def test_wav_source_paces_like_a_live_microphone_and_stops_early(tmp_path: Path) -> None:
    source = WavFileSource(write_wav(tmp_path / "a.wav", bytes(16000 * 2)), chunk=1600, realtime=True)
    blocks: list[bytes] = []
    started = time.monotonic()
    source.start(blocks.append)
    time.sleep(0.25)
    source.stop()
    assert time.monotonic() - started < 0.5
    assert 2 <= len(blocks) <= 4  # 100 ms blocks for ~0.25 s of a 1 s file


def test_wav_source_rejects_other_sample_widths(tmp_path: Path) -> None:
    with pytest.raises(DeviceError):
        WavFileSource(write_wav(tmp_path / "8bit.wav", bytes(100), width=1))


@pytest.mark.parametrize("name", ["testing-8k-mulaw.wav", "preamble-22k-linear16.wav"])
def test_wav_source_sends_any_readable_wav_as_linear16_at_its_rate(name: str) -> None:
    """A mu-law or 22 kHz file goes out as 16-bit PCM at the rate asked for, the same speech throughout."""
    wav = read_wav(TEST_AUDIO / name)
    source = WavFileSource(TEST_AUDIO / name, chunk=4000, realtime=False, rate=24000)
    assert (source.rate, source.channels) == (24000, 1)
    blocks: list[bytes] = []
    source.start(blocks.append)
    assert source.finished.wait(5)
    sent = np.frombuffer(b"".join(blocks), dtype="<i2")
    assert abs(len(sent) / 24000 - wav.duration) < 0.01
    expected = resample(wav.pcm16(), wav.sample_rate, 24000)
    assert np.array_equal(sent, expected)
    assert np.sqrt(np.mean(np.square(sent, dtype=np.float64))) > 300  # speech, not G.711 bytes read as PCM


# --- Speaker --------------------------------------------------------------------------------------------


def test_speaker_plays_queued_audio_in_order() -> None:
    sink = BufferSink()
    speaker = Speaker(sink=sink)
    speaker.start()
    speaker.add_audio_to_queue(b"\x01\x00" * 1000)
    speaker.add_audio_to_queue(b"\x02\x00" * 10)
    assert speaker.wait_for_complete(2)
    assert bytes(sink.played) == b"\x01\x00" * 1000 + b"\x02\x00" * 10
    assert speaker.finish()
    assert not any(t.name == "voicewire-speaker" for t in threading.enumerate())


def test_speaker_flush_drops_queued_and_playing_audio() -> None:
    sink = BufferSink(realtime=True)
    speaker = Speaker(sink=sink)
    speaker.start()
    for _ in range(10):
        speaker.add_audio_to_queue(b"\x05\x00" * 1600)  # 100 ms each
    time.sleep(0.05)
    speaker.flush()
    assert speaker.wait_for_complete(1)
    played = len(sink.played)
    assert 0 < played <= 3200  # at most the piece in flight when flushed
    assert sink.clears == 1
    speaker.add_audio_to_queue(b"\x07\x00" * 160)
    assert speaker.wait_for_complete(1)
    assert bytes(sink.played).endswith(b"\x07\x00" * 160)
    speaker.finish()


def test_speaker_mutes_a_given_microphone_while_playing_and_releases_it() -> None:
    mic = Microphone(source=ManualSource())
    speaker = Speaker(sink=BufferSink(realtime=True), microphone=mic, last_play_delta_in_ms=50)
    speaker.start()
    speaker.add_audio_to_queue(b"\x01\x00" * 1600)  # 100 ms
    time.sleep(0.03)
    assert mic.is_muted()
    assert speaker.wait_for_complete(1)
    assert mic.is_muted()  # still within the 50 ms tail
    deadline = time.monotonic() + 1
    while mic.is_muted() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not mic.is_muted()
    speaker.add_audio_to_queue(b"\x01\x00" * 16000)  # 1 s
    time.sleep(0.03)
    assert mic.is_muted()
    speaker.flush()
    assert not mic.is_muted()  # barge-in gives the microphone back at once
    speaker.finish()


def test_speaker_without_microphone_never_mutes() -> None:
    mic = Microphone(source=ManualSource())
    speaker = Speaker(sink=BufferSink(realtime=True))
    speaker.start()
    speaker.add_audio_to_queue(b"\x01\x00" * 800)
    time.sleep(0.02)
    assert not mic.is_muted()
    speaker.finish()


def test_speaker_finish_interrupts_long_audio_quickly() -> None:
    sink = BufferSink(realtime=True)
    speaker = Speaker(sink=sink)
    speaker.start()
    speaker.add_audio_to_queue(b"\x01\x00" * 16000 * 5)
    time.sleep(0.02)
    started = time.monotonic()
    assert speaker.finish()
    assert time.monotonic() - started < 0.2
    assert len(sink.played) < 16000 * 2


# --- sounddevice adapters -------------------------------------------------------------------------------


def test_sounddevice_adapters_drive_the_streams(fake_sounddevice: types.SimpleNamespace) -> None:
    blocks: list[bytes] = []
    source = SoundDeviceSource(rate=8000, chunk=160, channels=1, device=3)
    source.start(blocks.append)
    time.sleep(0.05)
    source.stop()
    (stream,) = fake_sounddevice.inputs
    assert stream.settings == {
        "samplerate": 8000, "blocksize": 160, "channels": 1, "dtype": "int16", "device": 3
    }  # fmt: skip
    assert blocks and blocks[0] == MIC_BLOCK

    sink = SoundDeviceSink(rate=16000, chunk=512, channels=1, device=None)
    sink.start()
    sink.write(b"\x01\x00" * 16)
    sink.clear()
    sink.stop()
    (out,) = fake_sounddevice.outputs
    assert bytes(out.written) == b"\x01\x00" * 16
    assert out.aborts == 2 and out.closed


def test_missing_sounddevice_is_a_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(DeviceError, match=r"voicewire\[devices\]"):
        SoundDeviceSource().start(lambda data: None)
    with pytest.raises(DeviceError):
        SoundDeviceSink().start()


def test_a_device_portaudio_cannot_open_is_named(fake_sounddevice: types.SimpleNamespace) -> None:
    module = sys.modules["sounddevice"]

    class PortAudioError(Exception):
        pass

    def no_device(**settings: Any) -> None:
        raise PortAudioError("Error querying device -1")

    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    module.RawInputStream = no_device  # type: ignore[attr-defined]
    module.RawOutputStream = no_device  # type: ignore[attr-defined]
    with pytest.raises(
        DeviceError, match=r"microphone \(the default device, 16000 Hz\): Error querying device -1"
    ):
        SoundDeviceSource().start(lambda data: None)
    with pytest.raises(DeviceError, match=r"speaker \(device 3, 24000 Hz\)"):
        SoundDeviceSink(rate=24000, device=3).start()


class _NoPortAudio:
    """An import hook that fails like sounddevice does when it is installed but libportaudio is not."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")


def test_missing_portaudio_is_named_as_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(DeviceError, match="PortAudio library") as raised:
        SoundDeviceSource().start(lambda data: None)
    assert "voicewire[devices]" not in str(raised.value)


# --- wired into the clients (same scenarios for both) ---------------------------------------------------

RUNNERS = ["sync", "async"]


def run_with(kind: str, scenario: Scenario) -> Run:
    return run_sync(scenario) if kind == "sync" else asyncio.run(run_async(scenario))


@pytest.mark.parametrize("kind", RUNNERS)
def test_microphone_streams_a_file_without_a_speaker(kind: str, tmp_path: Path) -> None:
    frames = bytes(range(1, 201)) * 64
    path = write_wav(tmp_path / "user.wav", frames)

    def check(run: Run) -> None:
        assert run.peer.types()[0] == "SettingsConfiguration"
        assert isinstance(run.peer.received[0], str)
        assert b"".join(run.peer.audio()) == frames

    run_with(
        kind,
        Scenario(
            name="mic",
            devices=lambda: {"microphone": Microphone(source=WavFileSource(path, chunk=800, realtime=False))},
            done=lambda run: sum(map(len, run.peer.audio())) == len(frames),
            check=check,
        ),
    )


class EagerSource(ManualSource):
    """Delivers a block inside `start()`, so any audio sent before the settings would arrive first."""

    def start(self, callback: AudioCallback) -> None:
        super().start(callback)
        callback(MIC_BLOCK)


@pytest.mark.parametrize("kind", RUNNERS)
def test_settings_go_out_before_any_microphone_audio(kind: str) -> None:
    def check(run: Run) -> None:
        assert run.peer.types()[0] == "SettingsConfiguration"
        assert run.peer.received[1] == MIC_BLOCK

    run_with(
        kind,
        Scenario(
            name="settings-first",
            devices=lambda: {"microphone": Microphone(source=EagerSource())},
            done=lambda run: len(run.peer.received) >= 2,
            check=check,
        ),
    )


async def barge_in(s: PeerSession) -> None:
    await welcome_then_settings(s)
    for _ in range(10):
        await s.send(b"\x05\x00" * 1600)  # 100 ms each
    await asyncio.sleep(0.15)
    await s.send_json(type="UserStartedSpeaking")
    await asyncio.sleep(0.05)
    await s.send(b"\x07\x00" * 160)


@pytest.mark.parametrize("kind", RUNNERS)
def test_speaker_drops_queued_audio_on_user_started_speaking(kind: str) -> None:
    sink = BufferSink(realtime=True)
    after = b"\x07\x00" * 160

    def check(run: Run) -> None:
        played = bytes(sink.played)
        assert played.endswith(after)
        assert 0 < len(played) - len(after) < 10 * 3200 // 2
        assert sink.clears >= 1
        assert run.recorder.count("AudioData") == 11  # handlers still see every chunk

    run_with(
        kind,
        Scenario(
            name="barge-in",
            script=barge_in,
            devices=lambda: {"speaker": Speaker(sink=sink)},
            done=lambda run: bytes(sink.played).endswith(after),
            check=check,
        ),
    )


async def close_1011(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await s.send(b"\x01\x00" * 160)
    await s.close(1011)


@pytest.mark.parametrize("kind", RUNNERS)
def test_server_close_is_reported_in_speaker_mode_and_the_goodbye_still_plays(kind: str) -> None:
    sink = BufferSink()

    def check(run: Run) -> None:
        assert run.recorder.names()[-2:] == ["Error", "Close"]
        assert bytes(sink.played) == b"\x01\x00" * 160

    run_with(
        kind,
        Scenario(
            name="speaker-close",
            script=close_1011,
            devices=lambda: {"speaker": Speaker(sink=sink)},
            done=lambda run: run.recorder.has("Close") and bool(sink.played),
            check=check,
        ),
    )


async def talk_over_the_user(s: PeerSession) -> None:
    await welcome_then_settings(s)
    await until(lambda: len(s.peer.audio()) >= 3)
    await s.send(b"\x09\x00" * 3200)  # 200 ms of agent speech
    await asyncio.sleep(0.35)
    await s.send_json(type="AgentAudioDone")
    count = len(s.peer.audio())
    await until(lambda: len(s.peer.audio()) >= count + 3)
    await s.send_json(type="ConversationText", role="user", content="end")


@pytest.mark.parametrize("kind", RUNNERS)
@pytest.mark.parametrize("mute", [True, False])
def test_device_options_stream_and_optionally_mute(
    kind: str, mute: bool, fake_sounddevice: types.SimpleNamespace
) -> None:
    def check(run: Run) -> None:
        audio = run.peer.audio()
        assert set(audio) <= {MIC_BLOCK, SILENCE}
        assert audio[0] == MIC_BLOCK and audio[-1] == MIC_BLOCK
        assert (SILENCE in audio) is mute
        (out,) = fake_sounddevice.outputs
        assert bytes(out.written) == b"\x09\x00" * 3200
        assert run.peer.types()[0] == "SettingsConfiguration"

    run_with(
        kind,
        Scenario(
            name="device-options",
            script=talk_over_the_user,
            options={
                "microphone_record": "true",
                "speaker_playback": "true",
                "speaker_playback_mute_microphone": mute,
                "speaker_playback_delta_in_ms": 50,
            },
            done=lambda run: run.recorder.has("ConversationText"),
            check=check,
        ),
    )


@pytest.mark.parametrize("kind", RUNNERS)
def test_microphone_option_streams_without_speaker(
    kind: str, fake_sounddevice: types.SimpleNamespace
) -> None:
    def check(run: Run) -> None:
        assert fake_sounddevice.outputs == []
        assert fake_sounddevice.inputs[0].settings["samplerate"] == 24000
        assert run.peer.types()[0] == "SettingsConfiguration"

    run_with(
        kind,
        Scenario(
            name="mic-option",
            options={"microphone_record": "true", "microphone_record_rate": 24000},
            done=lambda run: len(run.peer.audio()) >= 3,
            check=check,
        ),
    )
