"""A local HTTP server on 127.0.0.1 that speaks the documented speech APIs, for the remote engines' tests.

* `POST /v1/audio/transcriptions` (OpenAI): multipart form with `file`, `model`, `response_format`.
* `POST /v1/audio/speech` (OpenAI): JSON body; `pcm` or `wav`, sent chunked as it is "synthesised".
* `POST /v1/listen` (Deepgram): the audio as the body, options in the query, `Authorization: Token`.
* `POST /v1/speak` (Deepgram): `{"text": ...}`, options in the query, raw linear16 sent chunked.

Every request is recorded; `status`, `delay_s` and `break_after_chunks` make it fail the way real servers
do (an error status with a JSON body, a server slower than the client's timeout, a connection cut
mid-stream).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import io
import json
import struct
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

#: The API key the server accepts.
KEY = "test-key"
TRANSCRIPT = "turn the lights on"
#: Samples per streamed chunk of synthesised audio, and chunks per request.
CHUNK_SAMPLES = 2400
CHUNKS = 4


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    fields: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class SpeechApi:
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    break_after_chunks: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


#: The audio the fake TTS sends for any text: a ramp, so tests can check that every sample arrived in order.
SYNTHESISED = (np.arange(CHUNK_SAMPLES * CHUNKS) % 1000).astype(np.int16)


def _wav_header(rate: int) -> bytes:
    """A streaming WAV header: sizes unknown (0xFFFFFFFF), as streaming servers send it."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF\xff\xff\xff\xffWAVEfmt " + struct.pack("<I", 16) + fmt + b"data\xff\xff\xff\xff"


def _wav_rate(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getframerate()


def _handler(api: SpeechApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            record = Recorded(url.path, parse_qs(url.query), dict(self.headers.items()), body=body)
            api.requests.append(record)
            time.sleep(api.delay_s)
            deepgram = url.path in ("/v1/listen", "/v1/speak")
            expected = f"Token {KEY}" if deepgram else f"Bearer {KEY}"
            if self.headers.get("Authorization") != expected:
                return self._json(401, {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."})
            if api.status >= 400:
                return self._json(api.status, {"error": {"message": "overloaded", "code": api.status}})
            if url.path == "/v1/audio/transcriptions":
                return self._transcription(record)
            if url.path == "/v1/listen":
                record.fields["wav_rate"] = _wav_rate(body)
                alternative = {"transcript": TRANSCRIPT, "confidence": 0.98, "words": []}
                document = {"metadata": {}, "results": {"channels": [{"alternatives": [alternative]}]}}
                return self._json(200, document)
            if url.path == "/v1/audio/speech":
                request = json.loads(body)
                record.fields.update(request)
                header = _wav_header(24000) if request.get("response_format") == "wav" else b""
                return self._stream(header, SYNTHESISED)
            if url.path == "/v1/speak":
                record.fields.update(json.loads(body))
                return self._stream(b"", SYNTHESISED)
            self._json(404, {"error": "not found"})

        def _transcription(self, record: Recorded) -> None:
            content_type = self.headers["Content-Type"]
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + record.body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                record.fields[str(name)] = payload if part.get_filename() else payload.decode()
            upload = record.fields["file"]
            record.fields["wav_rate"] = _wav_rate(upload)
            if record.fields.get("response_format") == "text":
                data = (TRANSCRIPT + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self._json(200, {"text": " " + TRANSCRIPT})

        def _json(self, status: int, document: Any) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, header: bytes, audio: np.ndarray[Any, np.dtype[np.int16]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            data = audio.astype("<i2").tobytes()
            # An odd split on purpose: a sample may straddle two chunks.
            pieces = [header + data[: CHUNK_SAMPLES * 2 + 1]]
            step = CHUNK_SAMPLES * 2
            pieces += [data[start : start + step] for start in range(step + 1, len(data), step)]
            for index, piece in enumerate(pieces):
                if api.break_after_chunks is not None and index >= api.break_after_chunks:
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
                time.sleep(0.01)
            self.wfile.write(b"0\r\n\r\n")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or stopped reading closes its end; that is what the tests do."""


@contextlib.contextmanager
def speech_api() -> Iterator[SpeechApi]:
    api = SpeechApi()
    server = _QuietServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
