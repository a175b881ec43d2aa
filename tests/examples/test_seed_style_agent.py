"""examples/seed_style_agent.py, written like a deepgram-sdk 3.11 example, runs against a real server.

Only `sounddevice` is replaced, by a stand-in whose microphone plays a real recording and whose speaker
keeps what it is given, so the example's own code (imports, options, handlers, `input()`) runs unchanged.
"""

from __future__ import annotations

import asyncio
import builtins
import runpy
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_AUDIO
from tests.server.net import running
from voicewire.client.devices import WavFileSource
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, scripted_registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_style_agent.py"


class FakeDevices:
    """A `sounddevice` module: the input stream plays a recording, then silence; the output keeps audio."""

    def __init__(self, recording: Path) -> None:
        self.recording = recording
        self.played = bytearray()
        self.heard_reply = threading.Event()
        self.module = types.ModuleType("sounddevice")
        self.module.RawInputStream = self._input  # type: ignore[attr-defined]
        self.module.RawOutputStream = self._output  # type: ignore[attr-defined]

    def _input(self, *, samplerate: int, blocksize: int, callback: Any, **_: Any) -> Any:
        devices = self
        stopped = threading.Event()

        class Stream:
            def start(self) -> None:
                threading.Thread(target=self._run, daemon=True).start()

            def _run(self) -> None:
                source = WavFileSource(devices.recording, chunk=blocksize, realtime=False, rate=samplerate)
                source.start(lambda block: callback(block, len(block) // 2, None, None))
                source.finished.wait()
                while not stopped.wait(0.05):  # a live microphone goes on sending (silence here)
                    callback(bytes(blocksize * 2), blocksize, None, None)

            def stop(self) -> None:
                stopped.set()

            close = stop

        return Stream()

    def _output(self, **_: Any) -> Any:
        devices = self

        class Stream:
            def start(self) -> None: ...

            def write(self, data: bytes) -> None:
                devices.played += data
                devices.heard_reply.set()

            def abort(self) -> None: ...

            def close(self) -> None: ...

        return Stream()


async def test_the_seed_style_example_holds_a_conversation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = FakeDevices(TEST_AUDIO / "testing-8k-mulaw.wav")
    monkeypatch.setitem(sys.modules, "sounddevice", devices.module)

    def press_enter_after_the_reply(prompt: str = "") -> str:
        assert devices.heard_reply.wait(10), "the agent never spoke"
        return ""

    monkeypatch.setattr(builtins, "input", press_enter_after_the_reply)
    registry = scripted_registry(
        stt=ScriptedStt(["testing 123"]), llm=ScriptedLlm([["Hello from voicewire."]])
    )
    async with running(registry=registry) as server:
        monkeypatch.setenv("VOICEWIRE_URL", server.url)
        await asyncio.to_thread(runpy.run_path, str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "unexpected error" not in out and "Error:" not in out, out
    assert "SettingsApplied" in out and "UserStartedSpeaking" in out
    assert "Hello from voicewire." in out
    assert "Finished" in out
    assert len(devices.played) > 1000
