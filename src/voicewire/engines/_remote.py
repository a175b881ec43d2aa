"""What the remote speech engines share: one HTTP client per endpoint, errors, and audio on the wire.

The endpoint and its key belong to the operator; the key travels only in the authorization header, never in
a log line, a `repr` or an error message. Every failure (refused connection, timeout, HTTP error status, a
body that is not what the API documents) becomes an `EngineError` that names the endpoint and the status.
"""

from __future__ import annotations

import io
import struct
import wave

import httpx
import numpy as np

from voicewire.engines.base import ENGINE_SAMPLE_RATE, EngineError, FloatAudio, PcmAudio

#: Most of an error body worth quoting (APIs answer JSON such as `{"err_code": ..., "err_msg": ...}`).
_ERROR_DETAIL_CHARS = 300


def http_client(
    base_url: str,
    *,
    authorization: str | None,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A client for one endpoint; `authorization` is the whole header value ("Bearer k", "Token k")."""
    headers = {"Authorization": authorization} if authorization else {}
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
    )


class HttpEndpoint:
    """One remote API endpoint: its HTTP client, its name in errors, and a `repr` without the key."""

    def __init__(
        self,
        base_url: str,
        *,
        what: str,
        model: str,
        authorization: str | None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        #: How errors name this endpoint, e.g. "speech endpoint http://host/v1".
        self._what = f"{what} {self.base_url}"
        self._client = http_client(
            base_url, authorization=authorization, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        await self._client.aclose()


async def raise_for_status(response: httpx.Response, what: str) -> None:
    """An `EngineError` quoting the start of the body for an HTTP error status; nothing otherwise."""
    if response.status_code < 400:
        return
    detail = (await response.aread()).decode(errors="replace")[:_ERROR_DETAIL_CHARS]
    raise EngineError(f"{what} answered HTTP {response.status_code}: {detail}")


def transport_error(what: str, error: httpx.HTTPError) -> EngineError:
    return EngineError(f"{what} failed: {type(error).__name__}: {error}")


def wav_bytes(audio: FloatAudio, sample_rate: int = ENGINE_SAMPLE_RATE) -> bytes:
    """16-bit mono WAV, the one upload format every transcription server accepts."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


class Int16Stream:
    """Turns a byte stream of s16le PCM into int16 arrays, carrying an odd byte over to the next chunk."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, chunk: bytes) -> PcmAudio:
        data = self._carry + chunk
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        return np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)


#: A WAV header this long without a `data` chunk is not a WAV stream.
_MAX_WAV_HEADER_BYTES = 4096


class WavStreamReader:
    """Reads a streamed 16-bit mono WAV: the header first (sizes may be 0 or 0xFFFFFFFF), then PCM.

    Servers that stream WAV cannot know the length up front, so chunk sizes are not trusted: everything
    after the `data` chunk header is audio.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._header = b""
        self._pcm: Int16Stream | None = None
        self.sample_rate: int | None = None

    def feed(self, chunk: bytes) -> PcmAudio:
        if self._pcm is not None:
            return self._pcm.feed(chunk)
        self._header += chunk
        audio_start = self._parse_header()
        if audio_start is None:
            if len(self._header) > _MAX_WAV_HEADER_BYTES:
                raise EngineError(f"{self._what} sent no WAV data chunk in {_MAX_WAV_HEADER_BYTES} bytes")
            return np.zeros(0, dtype=np.int16)
        self._pcm = Int16Stream()
        return self._pcm.feed(self._header[audio_start:])

    def _parse_header(self) -> int | None:
        header = self._header
        if len(header) >= 12 and (header[:4] != b"RIFF" or header[8:12] != b"WAVE"):
            raise EngineError(f"{self._what} did not send a WAV stream")
        position = 12
        while len(header) >= position + 8:
            chunk_id = header[position : position + 4]
            (size,) = struct.unpack("<I", header[position + 4 : position + 8])
            body = position + 8
            if chunk_id == b"data":
                return body
            if chunk_id == b"fmt ":
                if len(header) < body + 16:
                    return None
                audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", header[body : body + 16])
                if audio_format != 1 or channels != 1 or bits != 16:
                    raise EngineError(
                        f"{self._what} sent WAV that is not 16-bit mono PCM "
                        f"(format {audio_format}, {channels} channels, {bits} bits)"
                    )
                self.sample_rate = rate
            position = body + size + size % 2
        return None
