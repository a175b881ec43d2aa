"""Text-to-speech over Deepgram's streaming API (the `/speak` WebSocket), one connection per sentence.

The Aura voices of the REST engine (`tts_deepgram`), for endpoints that speak only the streaming protocol:
the URL carries `model`, `encoding=linear16` and `sample_rate`; the client sends `{"type": "Speak",
"text": ...}` and `{"type": "Flush"}`, the server streams binary linear16 audio and then `{"type":
"Flushed"}`, and the client ends with `{"type": "Close"}`. Closing the generator closes the connection,
which stops synthesis (barge-in).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from voicewire.engines._remote import Int16Stream
from voicewire.engines.base import EngineError, PcmAudio
from voicewire.engines.stt_deepgram import DEEPGRAM_URL
from voicewire.engines.stt_deepgram_live import websocket_url
from voicewire.engines.tts_deepgram import DEFAULT_VOICE

logger = logging.getLogger(__name__)


class DeepgramLiveTts:
    """One Deepgram streaming endpoint speaking Aura voices at `sample_rate`."""

    def __init__(
        self,
        base_url: str = DEEPGRAM_URL,
        *,
        model: str = DEFAULT_VOICE,
        api_key: str | None = None,
        sample_rate: int = 24000,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = websocket_url(base_url)
        self.model = model
        self._sample_rate = sample_rate
        self._timeout = timeout
        self._headers = {"Authorization": f"Token {api_key}"} if api_key else {}
        self._what = f"Deepgram streaming speak endpoint {self.base_url}"

    def __repr__(self) -> str:
        return f"DeepgramLiveTts(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def has_voice(self, voice: str) -> bool:
        return voice.startswith("aura-")

    async def aclose(self) -> None:
        """Nothing to release: connections last one sentence."""

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncGenerator[PcmAudio, None]:
        query = {
            "model": voice if voice is not None and self.has_voice(voice) else self.model,
            "encoding": "linear16",
            "sample_rate": str(self._sample_rate),
        }
        url = f"{self.base_url}/speak?{urlencode(query)}"
        pcm = Int16Stream()
        try:
            async with connect(url, additional_headers=self._headers, proxy=None, max_size=2**22) as ws:
                await ws.send(json.dumps({"type": "Speak", "text": text}))
                await ws.send(json.dumps({"type": "Flush"}))
                while True:
                    async with asyncio.timeout(self._timeout):
                        message = await ws.recv()
                    if isinstance(message, bytes):
                        audio = pcm.feed(message)
                        if audio.size:
                            yield audio
                    elif self._flushed(message):
                        break
                with contextlib.suppress(WebSocketException):
                    await ws.send(json.dumps({"type": "Close"}))
        except TimeoutError as error:
            raise EngineError(f"{self._what} sent nothing for {self._timeout:g} s") from error
        except InvalidStatus as error:
            body = error.response.body.decode(errors="replace")[:300] if error.response.body else ""
            raise EngineError(f"{self._what} answered HTTP {error.response.status_code}: {body}") from error
        except (OSError, WebSocketException) as error:
            raise EngineError(f"{self._what} failed: {type(error).__name__}: {error}") from error

    def _flushed(self, message: str) -> bool:
        try:
            document = json.loads(message)
        except json.JSONDecodeError as error:
            raise EngineError(f"{self._what} sent invalid JSON: {message[:200]!r}") from error
        kind = document.get("type") if isinstance(document, dict) else None
        if kind == "Error":
            raise EngineError(f"{self._what} reported an error: {message[:300]}")
        return kind == "Flushed"
