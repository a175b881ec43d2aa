"""Text-to-speech over the OpenAI speech API (`POST {base_url}/audio/speech`), read as it streams.

Spoken by OpenAI, LocalAI and the Kokoro and Piper servers. The request is JSON (`model`, `input`, `voice`,
`response_format`); `pcm` answers raw 24 kHz s16le mono, `wav` the same behind a WAV header (whose rate is
checked against the configured one). The body is read chunk by chunk, so the first audio reaches the
caller before the server has finished; closing the generator closes the response (barge-in).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterable
from typing import Literal

import httpx

from voicewire.engines._remote import (
    HttpEndpoint,
    Int16Stream,
    WavStreamReader,
    raise_for_status,
    transport_error,
)
from voicewire.engines.base import EngineError, PcmAudio

logger = logging.getLogger(__name__)

SpeechFormat = Literal["pcm", "wav"]
#: The rate of OpenAI's `pcm` format.
OPENAI_PCM_RATE = 24000


class OpenAiTts(HttpEndpoint):
    """One speech endpoint, its model, and the voices it is known to have (the first is the default)."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        voices: Iterable[str] = ("alloy",),
        api_key: str | None = None,
        response_format: SpeechFormat = "pcm",
        sample_rate: int = OPENAI_PCM_RATE,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            what="speech endpoint",
            model=model,
            authorization=f"Bearer {api_key}" if api_key else None,
            timeout=timeout,
            transport=transport,
        )
        self.voices = tuple(voices)
        if not self.voices:
            raise ValueError("OpenAiTts needs at least one voice")
        self._format = response_format
        self._sample_rate = sample_rate

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def has_voice(self, voice: str) -> bool:
        return voice in self.voices

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        """Other engines' voice names (e.g. an Aura name mapped here) get this endpoint's default voice."""
        body = {
            "model": self.model,
            "input": text,
            "voice": voice if voice in self.voices else self.voices[0],
            "response_format": self._format,
        }
        reader = WavStreamReader(self._what) if self._format == "wav" else Int16Stream()
        try:
            async with self._client.stream("POST", "/audio/speech", json=body) as response:
                await raise_for_status(response, self._what)
                async for chunk in response.aiter_bytes():
                    pcm = reader.feed(chunk)
                    self._check_rate(reader)
                    if pcm.size:
                        yield pcm
        except httpx.HTTPError as error:
            raise transport_error(self._what, error) from error

    def _check_rate(self, reader: WavStreamReader | Int16Stream) -> None:
        if isinstance(reader, WavStreamReader) and reader.sample_rate not in (None, self._sample_rate):
            raise EngineError(
                f"{self._what} sent {reader.sample_rate} Hz audio; sample_rate is set to {self._sample_rate}"
            )
