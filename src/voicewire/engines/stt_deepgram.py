"""Speech-to-text over Deepgram's prerecorded API (`POST {base_url}/listen`, `Authorization: Token <key>`).

For operators who hold a Deepgram key (or run Deepgram self-hosted): a client's `listen.model: nova-3` then
means the real model. The utterance is the request body (a 16 kHz WAV, `Content-Type: audio/wav`); options
are query parameters (`model`, `smart_format`, `language`, and one `keyterm` per key term, which Nova-3
reads as prompting). The transcript is at `results.channels[0].alternatives[0].transcript`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from voicewire.engines._remote import HttpEndpoint, raise_for_status, transport_error, wav_bytes
from voicewire.engines.base import EngineError, FloatAudio, Transcript

logger = logging.getLogger(__name__)

DEEPGRAM_URL = "https://api.deepgram.com/v1"


class DeepgramStt(HttpEndpoint):
    """One Deepgram endpoint; `model` is used when the caller names none."""

    def __init__(
        self,
        base_url: str = DEEPGRAM_URL,
        *,
        model: str = "nova-3",
        api_key: str | None = None,
        language: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            what="Deepgram listen endpoint",
            model=model,
            authorization=f"Token {api_key}" if api_key else None,
            timeout=timeout,
            transport=transport,
        )
        self._language = language

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("model", self.model),
            ("smart_format", "true"),
        ]
        if self._language:
            params.append(("language", self._language))
        params.extend(("keyterm", term) for term in keyterms)
        try:
            response = await self._client.post(
                "/listen",
                params=params,
                content=wav_bytes(audio),
                headers={"Content-Type": "audio/wav"},
            )
            await raise_for_status(response, self._what)
        except httpx.HTTPError as error:
            raise transport_error(self._what, error) from error
        return Transcript(self._transcript(response.text), language=self._language or "en")

    def _transcript(self, body: str) -> str:
        try:
            document: Any = json.loads(body)
            alternative = document["results"]["channels"][0]["alternatives"][0]
            text = alternative["transcript"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as error:
            raise EngineError(f"{self._what} sent no transcript: {body[:200]!r}") from error
        if not isinstance(text, str):
            raise EngineError(f"{self._what} sent a transcript that is not text: {body[:200]!r}")
        return text.strip()
