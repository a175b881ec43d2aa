"""Connection options: where to connect, how to authenticate, and the seed SDK's free-form option keys.

deepgram-sdk 3.11 hard-coded `agent.deepgram.com`, dropped custom headers when the key was set again, and
treated the string `"false"` as true. Here the URL is honoured, headers are only ever added to, and option
values are parsed as booleans the way a person would read them.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from voicewire import __version__
from voicewire.client.errors import VoicewireError

#: Where a client connects when neither `url` nor the environment says otherwise: a local voicewire server.
DEFAULT_URL = "ws://localhost:8080/agent"
#: Environment variable that overrides `DEFAULT_URL`, so one script can target different servers.
URL_ENV = "VOICEWIRE_URL"
#: The path of the "SettingsConfiguration" dialect, used when a URL names only a host.
DEFAULT_PATH = "/agent"
USER_AGENT = f"voicewire/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_LOOPBACK = {"localhost", "::1"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def parse_bool(value: object, name: str = "option") -> bool:
    """Read an option as a boolean; unknown words are an error rather than a silent guess."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise VoicewireError(f"{name} must be true or false, got {value!r}")


def websocket_url(url: str) -> str:
    """Normalise any accepted URL form to `ws(s)://host[:port]/path[?query]`.

    `http(s)://` maps to `ws(s)://`. A bare host gets `ws://` when it is a loopback address (a local server
    rarely has TLS) and `wss://` otherwise, like the seed. A missing path becomes `/agent`.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    host = urlsplit("//" + rest).hostname or ""
    if not scheme:
        scheme = "ws" if host in _LOOPBACK or host.startswith("127.") else "wss"
    ws_scheme = _SCHEMES.get(scheme.lower())
    if ws_scheme is None:
        raise VoicewireError(f"Unsupported URL scheme {scheme!r} in {url!r}")
    parts = urlsplit(f"{ws_scheme}://{rest}")
    if not parts.netloc:
        raise VoicewireError(f"URL {url!r} names no host")
    path = parts.path if parts.path not in ("", "/") else DEFAULT_PATH
    return urlunsplit((ws_scheme, parts.netloc, path, parts.query, ""))


def with_query(url: str, params: Mapping[str, Any] | None) -> str:
    """Add query parameters as the seed did: None skipped, bools lowercased, list items repeated."""
    if not params:
        return url
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    for key, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), parts.fragment))


def set_log_level(verbose: int | None) -> None:
    """Apply the seed's `verbose` level to the client's loggers; None leaves the app's logging alone."""
    if verbose is not None:
        logging.getLogger("voicewire.client").setLevel(verbose)


class ClientOptions:
    """Where and how a client connects, plus the seed's free-form `options` keys (protocol.md §1.2).

    `headers` holds the handshake headers: `Accept`, `User-Agent`, `Authorization: Token <key>` when a key is
    set, and the caller's headers over them.
    """

    def __init__(
        self,
        api_key: str | None = "",
        url: str = "",
        verbose: int | None = None,
        headers: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.api_key = api_key or ""
        self.url = websocket_url(url or os.environ.get(URL_ENV, "").strip() or DEFAULT_URL)
        self.verbose = verbose
        self.headers: dict[str, str] = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.api_key:
            self.headers["Authorization"] = f"Token {self.api_key}"
        self.headers.update(headers or {})
        self.options: dict[str, Any] = dict(options or {})

    def set_apikey(self, api_key: str) -> None:
        """Change the key; unlike the seed this keeps every other header."""
        self.api_key = api_key or ""
        if self.api_key:
            self.headers["Authorization"] = f"Token {self.api_key}"
        else:
            self.headers.pop("Authorization", None)

    def with_api_key(self, api_key: str) -> ClientOptions:
        """A copy using `api_key`, so a shared options object is never changed behind its owner's back."""
        clone = copy.copy(self)
        clone.headers = dict(self.headers)
        clone.options = dict(self.options)
        if api_key != self.api_key:
            clone.set_apikey(api_key)
        return clone

    def is_keep_alive_enabled(self) -> bool:
        return parse_bool(self.options.get("keepalive"), "keepalive") or parse_bool(
            self.options.get("keep_alive"), "keep_alive"
        )

    def __repr__(self) -> str:
        key = "***" if self.api_key else ""
        return f"ClientOptions(url={self.url!r}, api_key={key!r}, options={self.options!r})"


#: The seed's name, so `DeepgramClientOptions(...)` in ported code keeps working.
DeepgramClientOptions = ClientOptions
