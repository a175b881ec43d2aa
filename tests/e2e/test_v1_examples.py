"""The README's v1 examples (examples/v1/) run as written with Deepgram's own SDKs against a real server.

The server has scripted engines, so what is checked is the protocol, not the models: the greeting, the
user's words coming back as text, and agent audio, with no Error.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.net import FAST_TURNS
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, ScriptedVad
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "v1"
KEY = "example-key-of-enough-length"


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    registry = EngineRegistry(
        vad_factory=ScriptedVad,
        stt=ScriptedStt(["testing one two three"]),
        llm=ScriptedLlm(),
        tts=ScriptedTts(),
    )
    config = ServerConfig(port=0, api_keys=(KEY,), turns=FAST_TURNS, output_pacing=10.0)
    async with AgentServer(config, registry) as server:
        yield f"ws://127.0.0.1:{server.port}"


async def run(command: list[str], url: str, cwd: Path) -> str:
    environment = {**os.environ, "VOICEWIRE_URL": url, "VOICEWIRE_API_KEY": KEY}
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()[-3000:]
    return stdout.decode()


def check(output: str) -> None:
    assert "Hello! How can I help?" in output  # the greeting
    assert "testing one two three" in output  # the user's words, as the agent heard them
    assert "bytes of audio" in output
    assert "Error" not in output


async def test_the_python_example(server_url: str, official_sdks: dict[str, str], speech_16k: Path) -> None:
    output = await run(
        [official_sdks["py7"], str(EXAMPLES / "python_sdk.py"), str(speech_16k)], server_url, EXAMPLES
    )
    check(output)


async def test_the_node_example(
    server_url: str, official_sdks: dict[str, str], speech_16k: Path, tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None or "js" not in official_sdks:
        pytest.skip("node or npm is not installed (`make test` installs them as root)")
    # As if `npm install @deepgram/sdk` had run beside the example.
    shutil.copy(EXAMPLES / "node_sdk.mjs", tmp_path)
    (tmp_path / "node_modules").symlink_to(Path(official_sdks["js"]) / "node_modules")
    output = await run([node, "node_sdk.mjs", str(speech_16k)], server_url, tmp_path)
    check(output)
    assert json.loads(next(line for line in output.splitlines() if '"Welcome"' in line))["request_id"]
