"""Speech-to-text over the OpenAI audio transcription API (`POST {base_url}/audio/transcriptions`).

Spoken by OpenAI, Groq, vLLM (Whisper models), LocalAI and the faster-whisper servers, so one engine moves
recognition onto any of them. The utterance goes up as a multipart 16 kHz WAV file with `model` and
`response_format` fields; `json` answers `{"text": ...}`, `text` answers the bare transcript. Key terms go
in `prompt`, which Whisper-family models read as preceding context, the nearest they have to boosting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Literal

import httpx

from voicewire.engines._remote import HttpEndpoint, raise_for_status, transport_error, wav_bytes
from voicewire.engines.base import EngineError, FloatAudio, Transcript

logger = logging.getLogger(__name__)

TranscriptionFormat = Literal["json", "text"]


class OpenAiStt(HttpEndpoint):
    """One transcription endpoint and the model it is asked for."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        response_format: TranscriptionFormat = "json",
        language: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            what="transcription endpoint",
            model=model,
            authorization=f"Bearer {api_key}" if api_key else None,
            timeout=timeout,
            transport=transport,
        )
        self._format = response_format
        self._language = language

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        fields = {"model": self.model, "response_format": self._format}
        if self._language:
            fields["language"] = self._language
        if keyterms:
            fields["prompt"] = ", ".join(keyterms)
        files = {"file": ("utterance.wav", wav_bytes(audio), "audio/wav")}
        try:
            response = await self._client.post("/audio/transcriptions", data=fields, files=files)
            await raise_for_status(response, self._what)
        except httpx.HTTPError as error:
            raise transport_error(self._what, error) from error
        if self._format == "text":
            return Transcript(response.text.strip(), language=self._language or "en")
        return Transcript(self._json_text(response.text), language=self._language or "en")

    def _json_text(self, body: str) -> str:
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            raise EngineError(f"{self._what} sent invalid JSON: {body[:200]!r}") from error
        if not isinstance(document, dict) or not isinstance(document.get("text"), str):
            raise EngineError(f"{self._what} sent no 'text' field: {body[:200]!r}")
        return str(document["text"]).strip()
