"""Speech-to-text over Deepgram's streaming API (the `/listen` WebSocket), one connection per utterance.

The same Nova models as the prerecorded API (`stt_deepgram`), for deployments whose Deepgram endpoint
(self-hosted, or behind a proxy) speaks only the streaming protocol: the URL carries the options
(`model`, `encoding=linear16`, `sample_rate=16000`, `channels=1`, one `keyterm` per key term), the
`Authorization: Token` header the key; the audio goes up in 100 ms binary frames, then `{"type":
"CloseStream"}`; the server answers `Results` messages (the transcript of each final one is kept),
`Metadata`, and closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError, FloatAudio, Transcript
from voicewire.engines.stt_deepgram import DEEPGRAM_URL

logger = logging.getLogger(__name__)

#: Audio per binary frame: Deepgram recommends 20-100 ms.
FRAME_SAMPLES = ENGINE_SAMPLE_RATE // 10


def websocket_url(base_url: str) -> str:
    """`https://host/v1` -> `wss://host/v1` (and http -> ws): the streaming API lives beside the REST one."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


class DeepgramLiveStt:
    """One Deepgram streaming endpoint; every utterance gets its own connection."""

    def __init__(
        self,
        base_url: str = DEEPGRAM_URL,
        *,
        model: str = "nova-3",
        api_key: str | None = None,
        language: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = websocket_url(base_url)
        self.model = model
        self._language = language
        self._timeout = timeout
        self._headers = {"Authorization": f"Token {api_key}"} if api_key else {}
        self._what = f"Deepgram streaming endpoint {self.base_url}"

    def __repr__(self) -> str:
        return f"DeepgramLiveStt(base_url={self.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Nothing to release: connections last one utterance."""

    async def transcribe(self, audio: FloatAudio, *, keyterms: Sequence[str] = ()) -> Transcript:
        params: list[tuple[str, str]] = [
            ("model", self.model),
            ("encoding", "linear16"),
            ("sample_rate", str(ENGINE_SAMPLE_RATE)),
            ("channels", "1"),
            ("smart_format", "true"),
        ]
        if self._language:
            params.append(("language", self._language))
        params.extend(("keyterm", term) for term in keyterms)
        url = f"{self.base_url}/listen?{urlencode(params)}"
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        try:
            async with asyncio.timeout(self._timeout):
                return Transcript(await self._stream(url, pcm), language=self._language or "en")
        except TimeoutError as error:
            raise EngineError(f"{self._what} timed out after {self._timeout:g} s") from error
        except InvalidStatus as error:
            body = error.response.body.decode(errors="replace")[:300] if error.response.body else ""
            raise EngineError(f"{self._what} answered HTTP {error.response.status_code}: {body}") from error
        except (OSError, WebSocketException) as error:
            raise EngineError(f"{self._what} failed: {type(error).__name__}: {error}") from error

    async def _stream(self, url: str, pcm: bytes) -> str:
        finals: list[str] = []
        async with connect(url, additional_headers=self._headers, proxy=None, max_size=2**20) as ws:
            step = FRAME_SAMPLES * 2
            for start in range(0, len(pcm), step):
                await ws.send(pcm[start : start + step])
            await ws.send(json.dumps({"type": "CloseStream"}))
            # Ends when the server closes normally; any other close raises ConnectionClosedError.
            async for message in ws:
                if isinstance(message, str):
                    finals.extend(self._final_transcript(message))
        return " ".join(text for text in finals if text)

    def _final_transcript(self, message: str) -> list[str]:
        try:
            document = json.loads(message)
        except json.JSONDecodeError as error:
            raise EngineError(f"{self._what} sent invalid JSON: {message[:200]!r}") from error
        if (
            not isinstance(document, dict)
            or document.get("type") != "Results"
            or not document.get("is_final")
        ):
            return []
        try:
            text = document["channel"]["alternatives"][0]["transcript"]
        except (KeyError, IndexError, TypeError) as error:
            raise EngineError(f"{self._what} sent Results without a transcript: {message[:200]!r}") from error
        return [str(text).strip()]
