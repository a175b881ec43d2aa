"""The playground in a real browser: Debian's chromium, driven by Playwright, with a fake microphone.

The conversation test plays real speech to the real server with the real default engines. Chromium loops the
capture file: the speech comes back about 6.5 s after it ended, while the agent (asked for long answers) is
still speaking. That second utterance is the barge-in the page must answer by dropping its queued audio.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server.net import fast_config, http_service, running
from tests.wer import wer
from voicewire.audio import read_wav, resample, write_wav
from voicewire.engines.llm_llamacpp import LlamaCppLlm
from voicewire.engines.registry import EngineRegistry
from voicewire.engines.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, scripted_registry
from voicewire.engines.stt_whisper import WhisperStt
from voicewire.engines.tts_piper import PiperTts
from voicewire.engines.vad_silero import SileroModel
from voicewire.server.app import AgentServer
from voicewire.server.config import ServerConfig, TurnConfig

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
SPEECH = Path(__file__).resolve().parents[1] / "data" / "audio" / "testing-8k-mulaw.wav"
SAID = "Testing 1 2 3 testing 1 2 3"
#: Set to a path (e.g. docs/playground.png) to keep the screenshot taken mid-conversation.
SCREENSHOT_ENV = "VOICEWIRE_PLAYGROUND_SCREENSHOT"
WAIT_MS = 30_000
#: Silence added after the recording (whose own pauses make 1.7 s): time for the reply to start before the
#: speech comes back, also on a loaded machine.
PAUSE_S = 5.0
#: A long reply keeps the agent speaking when the speech comes back.
PROMPT = "You are a storyteller. Always answer with a story of at least five sentences."


def spaced_digits(text: str) -> str:
    """ "123" and "1, 2, 3" are the same words spoken: compare digit by digit."""
    return re.sub(r"(?<=\d)(?=\d)", " ", text)


@contextlib.asynccontextmanager
async def chromium(*args: str) -> AsyncIterator[Any]:
    """A fresh headless Debian chromium with a fake, always-allowed microphone; page errors fail the test."""
    playwright = pytest.importorskip("playwright.async_api")
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (`make browser` installs it)")
    # No GPU process: it costs a third of the browser's CPU, which the models' threads need on 2 cores.
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--disable-gpu", *args]
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        context = await browser.new_context(viewport={"width": 860, "height": 860})
        problems: list[str] = []
        context.on("weberror", lambda error: problems.append(str(error.error)))
        try:
            yield context
        finally:
            await browser.close()
        assert not problems, problems


async def wait_until(page: Any, predicate: str, what: str, timeout_ms: int = WAIT_MS) -> None:
    """Wait for a predicate on the page; on a timeout, fail with the page's counters and transcript."""
    try:
        await page.wait_for_function(predicate, timeout=timeout_ms, polling=250)  # not every frame: CPU
    except Exception as exc:
        if type(exc).__name__ != "TimeoutError":
            raise
        pytest.fail(f"timed out waiting for {what}; the page: {await page.evaluate('window.voicewire')}")


@pytest.fixture
def fake_microphone(tmp_path: Path) -> Path:
    """Chromium's fake capture device reads 16-bit PCM WAV: the mu-law recording at 48 kHz, then a pause."""
    recording = read_wav(SPEECH)
    speech = resample(recording.pcm16(), recording.sample_rate, 48_000)
    path = tmp_path / "testing-48k-linear16.wav"
    write_wav(path, np.concatenate((speech, np.zeros(int(PAUSE_S * 48_000), np.int16))), 48_000)
    return path


@pytest.fixture
async def playground_url(
    whisper_tiny: WhisperStt, smollm2: LlamaCppLlm, piper_joe: PiperTts
) -> AsyncIterator[str]:
    registry = EngineRegistry(vad_factory=SileroModel().stream, stt=whisper_tiny, llm=smollm2, tts=piper_joe)
    await registry.warm_up()  # as `voicewire serve` does before it is ready: the first reply is not cold
    async with AgentServer(ServerConfig(port=0), registry) as server:
        yield f"http://127.0.0.1:{server.port}/"


@pytest.mark.models
async def test_a_conversation_in_chromium(playground_url: str, fake_microphone: Path, tmp_path: Path) -> None:
    async with chromium(f"--use-file-for-fake-audio-capture={fake_microphone}") as browser:
        page = await browser.new_page()
        await page.goto(playground_url)
        await page.click("summary")
        await page.fill("#prompt", PROMPT)
        await page.reload()  # the settings are remembered
        assert await page.input_value("#prompt") == PROMPT
        await page.click("#talk")

        # Predicates are functions: a string would be eval()ed in the page, which its CSP forbids.
        # The user's words, then the agent's reply, heard as audio the page scheduled.
        await wait_until(
            page,
            "() => voicewire.transcript.some(l => l.role === 'assistant') && voicewire.scheduledSamples > 0",
            "an agent reply with audio",
        )
        # The loop brings the speech back during the reply: its UserStartedSpeaking flushes the playback.
        await wait_until(page, "() => voicewire.flushes > 0", "a flush of the playback")
        # The conversation goes on: the second utterance gets its own reply.
        await wait_until(
            page,
            """() => voicewire.transcript.filter(l => l.role === 'user').length >= 2
                && voicewire.transcript.at(-1).role === 'assistant'
                && voicewire.status === 'agent speaking'""",
            "the reply to the second utterance",
        )
        await page.click("summary")  # the settings, open in the screenshot
        await page.screenshot(
            path=os.environ.get(SCREENSHOT_ENV) or tmp_path / "playground.png", full_page=True
        )
        state: dict[str, Any] = await page.evaluate("window.voicewire")

        await page.click("#stop")
        await wait_until(page, "() => voicewire.status === 'closed'", "the socket to close", 5_000)
        assert await page.evaluate("voicewire.closeCode") == 1000

    user = [line["content"] for line in state["transcript"] if line["role"] == "user"]
    agent = [line["content"] for line in state["transcript"] if line["role"] == "assistant"]
    assert wer(SAID, spaced_digits(user[0])) <= 0.15, user
    assert agent and agent[0].strip()
    assert state["scheduledSamples"] > 0.3 * 24_000  # at least 0.3 s of agent audio at the page's 24 kHz
    assert state["flushes"] >= 1 and state["droppedSamples"] > 0
    assert state["latencies"] and all(0 < latency < 10 for latency in state["latencies"])
    assert state["sentSamples"] > 3 * 16_000  # the microphone really streamed, at 16 kHz


async def test_playback_is_scheduled_and_flushed_on_barge_in(fake_microphone: Path) -> None:
    """The same microphone with instant scripted engines: a three-sentence reply of tones (9.5 s) is still
    playing when the speech comes back, whatever the machine's load."""
    reply = "This reply has three sentences. It goes on for a while. The speech comes back before its end."
    stt = ScriptedStt(["testing one two three"])
    llm = ScriptedLlm(respond=lambda messages: [reply])
    registry = scripted_registry(stt=stt, llm=llm, tts=ScriptedTts(seconds_per_char=0.1))
    # Energy VAD: the pauses between the words must not end the turn.
    config = fast_config(turns=TurnConfig(end_of_turn_ms=1000, speculative_stt=False))
    async with (
        running(config, registry) as server,
        chromium(f"--use-file-for-fake-audio-capture={fake_microphone}") as browser,
    ):
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{server.port}/")
        await page.click("#talk")
        await wait_until(page, "() => voicewire.status === 'agent speaking'", "the reply")
        await wait_until(page, "() => voicewire.flushes > 0", "a flush of the playback")
        state: dict[str, Any] = await page.evaluate("window.voicewire")
        lines = await page.locator(".line.agent p").all_text_contents()
        await page.click("#stop")
        await wait_until(page, "() => voicewire.status === 'closed'", "the socket to close", 5_000)
    assert state["transcript"][:2] == [
        {"role": "user", "content": "testing one two three"},
        {"role": "assistant", "content": reply},  # one line for the reply's sentences
    ]
    assert lines[0] == reply
    assert 0 < state["droppedSamples"] < state["scheduledSamples"]
    # The first utterance reached the server at 16 kHz and lasted about as long as the speech (3 s).
    assert 2.0 < len(stt.utterances[0]) / 16_000 < 4.5


async def test_with_api_keys_the_page_asks_for_one_and_sends_it_as_a_subprotocol() -> None:
    key = "playground-key-0123456789"
    async with running(fast_config(api_keys=(key,))) as server, chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{server.port}/")
        await page.wait_for_selector("#api-key", state="visible")
        await page.click("#talk")
        assert await page.text_content("#status") == "error: this server needs an API key"
        await page.fill("#api-key", "wrong-key-0123456789")
        await page.click("#talk")
        await wait_until(page, "() => voicewire.status.startsWith('error: could not connect')", "a refusal")
        assert server.sessions_served == 0
        await page.fill("#api-key", key)
        await page.click("#talk")
        await wait_until(page, "() => voicewire.status === 'listening'", "the session to start", 10_000)
        assert server.sessions_served == 1
        await page.click("#stop")
        await wait_until(page, "() => voicewire.status === 'closed'", "the socket to close", 5_000)
        assert await page.evaluate("voicewire.closeCode") == 1000


async def test_a_page_from_another_origin_cannot_open_a_session() -> None:
    """Cross-site WebSocket hijacking, tried from a real browser: a page of another local service (another
    port is another origin) opens a socket to the agent. The server sees its Origin and refuses it."""
    attempt = """url => new Promise(resolve => {
        const socket = new WebSocket(url);
        let opened = false;
        socket.onopen = () => { opened = true; socket.close(1000); };
        socket.onclose = event => resolve(opened);
    })"""
    with http_service() as other_site:
        foreign = other_site.url("/")
        async with running() as server, chromium() as browser:
            page = await browser.new_page()
            await page.goto(foreign)
            assert await page.evaluate(attempt, server.url) is False
            assert server.sessions_served == 0
        # Allowed by the server's configuration, the same page gets through: the refusal above was the check.
        async with running(fast_config(allowed_origins=(foreign,))) as server, chromium() as browser:
            page = await browser.new_page()
            await page.goto(foreign)
            assert await page.evaluate(attempt, server.url) is True
