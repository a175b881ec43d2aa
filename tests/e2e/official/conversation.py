"""The conversation script shared by the official Python clients here; each program makes its own SDK calls.

Standard library only: it is imported by programs that run in the throwaway deepgram-sdk venvs, not in the
project's environment. A program records each message its SDK delivered (`Transcript.record`, which prints it
as one JSON line for the test to read) and gives `run` its SDK's senders as an `Actions`; `run` walks the same
steps in the same order as js_client.mjs, waiting for the server's answer to each before the next.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import traceback
import wave
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SETTINGS_PROMPT = "You are a friendly voice assistant. Reply in at most ten words."
GREETING = "Hello! How can I help?"
WEATHER_FUNCTION = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city, for example Paris"}},
        "required": ["location"],
    },
}
#: What the client answers every FunctionCallRequest with (`content`, a string). Plain words: given JSON, the
#: local model tends to answer with a long recital of code and links.
FUNCTION_RESULT = "Sunny, 21 degrees Celsius."
USER_MESSAGE = "What's the weather in Paris?"
AGENT_MESSAGE = "Here is a message from the client."
PROMPT_UPDATE = "Always be polite."
SPEAK_MODEL = "aura-2-andromeda-en"

#: Longest wait for the server's answer to one step.
STEP_TIMEOUT_S = 60.0
#: A v1 server closes a connection that sends nothing for about 10 s (CLIENT_MESSAGE_TIMEOUT), and the
#: script is silent while the agent thinks and speaks: like an app without a microphone, it sends KeepAlive.
KEEPALIVE_INTERVAL_S = 4.0
FRAME_MS = 20
TRAILING_SILENCE_S = 1.5


class StepFailed(Exception):
    """The server did not answer a step in time (or the connection closed first)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="the server's base URL, e.g. ws://127.0.0.1:8080")
    parser.add_argument("wav", help="speech to stream: a 16 kHz mono linear16 WAV file")
    parser.add_argument("--key", default="test-key", help="API key the client presents")
    parser.add_argument(
        "--speed", type=float, default=2.0, help="stream this many times faster than real time"
    )
    return parser.parse_args()


@dataclass(frozen=True)
class Actions:
    """One SDK's way of sending each client message of the script."""

    send_audio: Callable[[bytes], Any]
    inject_user_message: Callable[[str], Any]
    inject_agent_message: Callable[[str], Any]
    update_prompt: Callable[[str], Any]
    update_speak: Callable[[str], Any]
    keep_alive: Callable[[], Any]


class Transcript:
    """Every message received, in order, printed as it arrives; steps wait on it from another thread."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def record(self, message: dict[str, Any]) -> None:
        with self._changed:
            self.messages.append(message)
            print(json.dumps(message), flush=True)
            self._changed.notify_all()

    def note(self, **fields: Any) -> None:
        """A line about what the client did (not a received message): `{"client": ...}`."""
        print(json.dumps({"client": fields}), flush=True)

    def mark(self) -> int:
        with self._changed:
            return len(self.messages)

    def wait_for(self, kind: str, after: int) -> int:
        """Index of the first message of type `kind` at or after index `after`."""

        def found() -> int | None:
            for index in range(after, len(self.messages)):
                if self.messages[index].get("type") == kind:
                    return index
            return None

        def closed() -> bool:
            return any(m.get("type") == "Close" for m in self.messages[after:])

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or closed(), STEP_TIMEOUT_S)
            index = found()
            if index is None:
                raise StepFailed(
                    f"no {kind} "
                    + ("before the connection closed" if closed() else f"within {STEP_TIMEOUT_S} s")
                )
            return index

    def summary(self, sdk: str, completed: bool, failure: str | None) -> dict[str, Any]:
        with self._changed:
            counts: dict[str, int] = {}
            for message in self.messages:
                counts[message["type"]] = counts.get(message["type"], 0) + 1
            audio = sum(m["bytes"] for m in self.messages if m["type"] == "Audio")
        return {
            "summary": {
                "sdk": sdk,
                "completed": completed,
                "failure": failure,
                "counts": counts,
                "audio_bytes": audio,
            }
        }


def speech_frames(path: str) -> list[bytes]:
    with wave.open(path, "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (1, 2, 16000):
            raise SystemExit(f"{path}: expected 16 kHz mono linear16")
        pcm = wav.readframes(wav.getnframes())
    frame_bytes = 16000 * 2 * FRAME_MS // 1000
    silence = bytes(int(16000 * 2 * TRAILING_SILENCE_S))
    audio = pcm + silence
    return [audio[start : start + frame_bytes] for start in range(0, len(audio), frame_bytes)]


def stream(frames: list[bytes], send: Callable[[bytes], Any], speed: float) -> None:
    """Send 20 ms frames paced at `speed` times real time, as a microphone would (but faster)."""
    start = time.monotonic()
    for index, frame in enumerate(frames):
        send(frame)
        delay = start + (index + 1) * FRAME_MS / 1000 / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def run(transcript: Transcript, actions: Actions, wav: str, speed: float) -> None:
    """The conversation, with KeepAlive every few seconds throughout; raises StepFailed at the first step
    the server does not answer."""
    stop = threading.Event()

    def keep_alive() -> None:
        while not stop.wait(KEEPALIVE_INTERVAL_S):
            actions.keep_alive()

    ticker = threading.Thread(target=keep_alive, daemon=True)
    ticker.start()
    try:
        steps(transcript, actions, wav, speed)
    finally:
        stop.set()
        ticker.join()


def steps(transcript: Transcript, actions: Actions, wav: str, speed: float) -> None:
    transcript.wait_for("Welcome", 0)
    transcript.wait_for("SettingsApplied", 0)
    transcript.wait_for("AgentAudioDone", 0)  # the greeting

    mark = transcript.mark()
    transcript.note(step="speech")
    stream(speech_frames(wav), actions.send_audio, speed)
    transcript.wait_for("AgentAudioDone", mark)

    mark = transcript.mark()
    transcript.note(step="InjectUserMessage")
    actions.inject_user_message(USER_MESSAGE)
    request = transcript.wait_for("FunctionCallRequest", mark)
    transcript.wait_for("AgentAudioDone", request)

    mark = transcript.mark()
    transcript.note(step="InjectAgentMessage")
    actions.inject_agent_message(AGENT_MESSAGE)
    transcript.wait_for("AgentAudioDone", mark)

    mark = transcript.mark()
    transcript.note(step="UpdatePrompt")
    actions.update_prompt(PROMPT_UPDATE)
    transcript.wait_for("PromptUpdated", mark)

    mark = transcript.mark()
    transcript.note(step="UpdateSpeak")
    actions.update_speak(SPEAK_MODEL)
    transcript.wait_for("SpeakUpdated", mark)

    transcript.note(step="KeepAlive")
    actions.keep_alive()
    time.sleep(0.5)  # an Error answering it would arrive by now


def main(sdk: str, transcript: Transcript, converse: Callable[[], None]) -> int:
    """Run `converse` (connect, `run`, close) and print the summary; the exit status is 0 if it finished."""
    failure: str | None = None
    try:
        converse()
    except StepFailed as error:
        failure = str(error)
    except Exception as error:
        traceback.print_exc()
        failure = f"{type(error).__name__}: {error}"
    print(json.dumps(transcript.summary(sdk, failure is None, failure)), flush=True)
    return 0 if failure is None else 1
