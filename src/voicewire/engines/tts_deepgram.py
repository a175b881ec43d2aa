"""Text-to-speech over Deepgram's REST API (`POST {base_url}/speak?model=...`), read as it streams.

For operators with a Deepgram key: a client's `speak.model: aura-2-thalia-en` then means the real voice.
The body is `{"text": ...}`; `encoding=linear16&container=none&sample_rate=N` asks for raw s16le mono at
the configured rate, which Deepgram streams as it synthesises. The voice *is* the model: any `aura-*` name
is passed through, anything else gets the configured default model.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

import httpx

from voicewire.engines._remote import HttpEndpoint, Int16Stream, raise_for_status, transport_error
from voicewire.engines.base import PcmAudio
from voicewire.engines.stt_deepgram import DEEPGRAM_URL

logger = logging.getLogger(__name__)

DEFAULT_VOICE = "aura-2-thalia-en"


class DeepgramTts(HttpEndpoint):
    """One Deepgram endpoint speaking Aura voices at `sample_rate`."""

    def __init__(
        self,
        base_url: str = DEEPGRAM_URL,
        *,
        model: str = DEFAULT_VOICE,
        api_key: str | None = None,
        sample_rate: int = 24000,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            what="Deepgram speak endpoint",
            model=model,
            authorization=f"Token {api_key}" if api_key else None,
            timeout=timeout,
            transport=transport,
        )
        self._sample_rate = sample_rate

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def has_voice(self, voice: str) -> bool:
        return voice.startswith("aura-")

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        params = {
            "model": voice if voice is not None and self.has_voice(voice) else self.model,
            "encoding": "linear16",
            "container": "none",
            "sample_rate": str(self._sample_rate),
        }
        pcm = Int16Stream()
        try:
            async with self._client.stream("POST", "/speak", params=params, json={"text": text}) as response:
                await raise_for_status(response, self._what)
                async for chunk in response.aiter_bytes():
                    audio = pcm.feed(chunk)
                    if audio.size:
                        yield audio
        except httpx.HTTPError as error:
            raise transport_error(self._what, error) from error
