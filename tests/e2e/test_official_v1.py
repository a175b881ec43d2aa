"""Deepgram's own v1 clients, unmodified, each hold a whole conversation with voicewire on the real engines.

deepgram-sdk 4.8.1 (the last 4.x), deepgram-sdk 7.17.0 and @deepgram/sdk 5.13.0 (Node.js) run as subprocesses
from throwaway installs outside the repository (tests/e2e/official/install.sh, which `make test` runs first
and these tests run again, a no-op once installed), each pointed at the server the way its documentation says.
Each program (tests/e2e/official/) walks the same script: Settings with a greeting and a client-side function,
real speech, InjectUserMessage (which makes the agent call the function), InjectAgentMessage, UpdatePrompt,
UpdateSpeak, KeepAlive; it prints every message its SDK delivered as a JSON line and a `{"client": {"step"}}`
line before each step, so the checks below can say which step a message answered.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import OFFICIAL
from tests.wer import wer
from voicewire.engines.llm_llamacpp import LlamaCppLlm
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.stt_whisper import WhisperStt
from voicewire.engines.tts_piper import PiperTts
from voicewire.engines.vad_silero import SileroModel
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig

pytestmark = pytest.mark.models

SPOKEN = "testing 123 testing 123"
API_KEY = "official-client-key-0123456789"
#: What the programs send (tests/e2e/official/conversation.py and js_client.mjs).
GREETING = "Hello! How can I help?"
USER_MESSAGE = "What's the weather in Paris?"
AGENT_MESSAGE = "Here is a message from the client."
#: A whole conversation took 32-49 s on 2 cores busy with other work (load 6); this bounds a stuck one. Each
#: step of the programs also gives up after 60 s: a machine busier still can make one reply that slow.
CONVERSATION_TIMEOUT_S = 300
STEPS = (
    "setup",
    "speech",
    "InjectUserMessage",
    "InjectAgentMessage",
    "UpdatePrompt",
    "UpdateSpeak",
    "KeepAlive",
)


@pytest.fixture
async def server_url(
    whisper_tiny: WhisperStt, smollm2: LlamaCppLlm, piper_joe: PiperTts
) -> AsyncIterator[str]:
    """The base URL a v1 client is given (it appends /v1/agent/converse itself)."""
    registry = EngineRegistry(vad_factory=SileroModel().stream, stt=whisper_tiny, llm=smollm2, tts=piper_joe)
    # The clients only count the agent's audio: sending it 10x faster than real time instead of 2x keeps a
    # rambling 100-token reply from taking 15 s.
    config = ServerConfig(port=0, api_keys=(API_KEY,), output_pacing=10.0)
    async with AgentServer(config, registry) as server:
        yield f"ws://127.0.0.1:{server.port}"


def client_command(name: str, sdks: dict[str, str]) -> list[str]:
    if name == "js":
        node = shutil.which("node")
        if node is None:
            pytest.skip(
                "node is not installed, so @deepgram/sdk cannot run (`make test` installs it as root)"
            )
        if "js" not in sdks:
            pytest.fail("node is installed but npm is not, so @deepgram/sdk could not be installed")
        return [node, str(OFFICIAL / "js_client.mjs"), "--prefix", sdks["js"]]
    return [sdks[name], str(OFFICIAL / f"{name}_client.py")]


async def run_client(command: list[str], url: str, speech: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, printed lines and stderr of one client program (awaited, so the server keeps serving)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        url,
        str(speech),
        "--key",
        API_KEY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), CONVERSATION_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
    lines = [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]
    return process.returncode or 0, lines, stderr.decode()


def by_step(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The messages received during each step (from its `client` line to the next)."""
    steps: dict[str, list[dict[str, Any]]] = {step: [] for step in STEPS}
    current = "setup"
    for line in lines:
        if "client" in line:
            current = line["client"].get("step", current)
        elif "type" in line:
            steps[current].append(line)
    return steps


def types(messages: list[dict[str, Any]]) -> list[str]:
    """Message types in order, with runs of audio frames collapsed to one "Audio"."""
    out: list[str] = []
    for message in messages:
        if not (message["type"] == "Audio" and out and out[-1] == "Audio"):
            out.append(message["type"])
    return out


def spoken_replies(messages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Each reply as (its assistant text, the audio bytes before its AgentAudioDone)."""
    replies: list[tuple[str, int]] = []
    text: list[str] = []
    audio = 0
    for message in messages:
        if message["type"] == "ConversationText" and message["role"] == "assistant":
            text.append(message["content"])
        elif message["type"] == "Audio":
            audio += message["bytes"]
        elif message["type"] == "AgentAudioDone":
            replies.append((" ".join(text), audio))
            text, audio = [], 0
    return replies


def check_conversation(lines: list[dict[str, Any]]) -> None:
    """What a user of any of the three SDKs must have seen, step by step."""
    assert lines and "summary" in lines[-1], "the program ended without its summary (see its stderr)"
    summary = lines[-1]["summary"]
    messages = [line for line in lines if "type" in line]
    assert not [m for m in messages if m["type"] in ("Error", "SdkError")]
    assert summary["completed"], summary
    steps = by_step(lines)

    setup = steps["setup"]
    welcome = next((m for m in setup if m["type"] == "Welcome"), {})
    assert isinstance(welcome.get("request_id"), str) and welcome["request_id"], types(setup)
    assert "SettingsApplied" in types(setup)
    greeting = spoken_replies(setup)
    assert greeting and greeting[0][0] == GREETING and greeting[0][1] > 0, greeting  # spoken first

    speech = steps["speech"]
    assert "UserStartedSpeaking" in types(speech)
    heard = [m["content"] for m in speech if m["type"] == "ConversationText" and m["role"] == "user"]
    assert heard and wer(SPOKEN, heard[0]) <= 0.25, heard
    replies = spoken_replies(speech)
    assert replies and replies[0][0].strip() and replies[0][1] > 0, replies

    injected = steps["InjectUserMessage"]
    assert {"type": "ConversationText", "role": "user", "content": USER_MESSAGE}.items() <= next(
        (m for m in injected if m["type"] == "ConversationText"), {}
    ).items(), types(injected)
    request = next((m for m in injected if m["type"] == "FunctionCallRequest"), None)
    assert request is not None, types(injected)
    [call] = request["functions"]
    assert (call["name"], call["client_side"]) == ("get_weather", True) and call["id"]
    assert isinstance(json.loads(call["arguments"]), dict)  # JSON text
    after_call = injected[injected.index(request) :]
    answer = spoken_replies(after_call)
    assert answer and answer[0][0].strip() and answer[0][1] > 0, types(injected)

    spoken = spoken_replies(steps["InjectAgentMessage"])
    assert spoken and spoken[0][0] == AGENT_MESSAGE and spoken[0][1] > 0, spoken
    assert "PromptUpdated" in types(steps["UpdatePrompt"])
    assert "SpeakUpdated" in types(steps["UpdateSpeak"])

    for started in (m for m in messages if m["type"] == "AgentStartedSpeaking"):
        assert started["total_latency"] >= started["ttt_latency"] >= 0 and started["tts_latency"] >= 0
    assert all(m["bytes"] % 2 == 0 for m in messages if m["type"] == "Audio")  # whole linear16 samples
    assert "History" in types(messages)  # flags.history is on unless the client turns it off
    assert types(messages).count("Open") == 1 and types(messages)[-1] == "Close"


@pytest.mark.parametrize("client", ["py4", "py7", "js"])
async def test_an_official_client_holds_a_whole_conversation(
    client: str, official_sdks: dict[str, str], speech_16k: Path, server_url: str
) -> None:
    command = client_command(client, official_sdks)
    status, lines, stderr = await run_client(command, server_url, speech_16k)
    # Shown by pytest when a check fails (or with -rP): what the SDK delivered, audio frames left out.
    print("\n".join(json.dumps(line) for line in lines if line.get("type") != "Audio"))
    print(stderr[-4000:], file=sys.stderr)
    check_conversation(lines)
    assert status == 0
