"""`DeepgramClient(...).agent.websocket.v("1")`, so seed code ports by changing only its imports.

Unlike deepgram-sdk 3.11 it never changes the options it is given: the seed rebuilt `config.headers` when it
set the key (losing custom headers) and overwrote `config.url` with its hosted endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

from voicewire.client.asyncio import AsyncAgentWebSocketClient
from voicewire.client.errors import VoicewireError
from voicewire.client.options import ClientOptions
from voicewire.client.sync import AgentWebSocketClient

#: Environment variables the key is read from when neither the argument nor the options carry one.
API_KEY_ENVS = ("VOICEWIRE_API_KEY", "DEEPGRAM_API_KEY")

ClientT = TypeVar("ClientT", AgentWebSocketClient, AsyncAgentWebSocketClient)


class Version(Generic[ClientT]):
    """The seed's `.v("1")` step; version 1 is the only one this dialect has."""

    def __init__(self, config: ClientOptions, factory: Callable[[ClientOptions], ClientT]) -> None:
        self._config = config
        self._factory: Callable[[ClientOptions], ClientT] = factory

    def v(self, version: str = "") -> ClientT:
        if version != "1":
            raise VoicewireError(f"Invalid module version {version!r}: only '1' exists")
        return self._factory(self._config)


class AgentRouter:
    def __init__(self, config: ClientOptions) -> None:
        self._config = config

    @property
    def websocket(self) -> Version[AgentWebSocketClient]:
        return Version(self._config, AgentWebSocketClient)

    @property
    def asyncwebsocket(self) -> Version[AsyncAgentWebSocketClient]:
        return Version(self._config, AsyncAgentWebSocketClient)


class DeepgramClient:
    """Entry point shaped like the seed's; the key comes from the argument, the options or the environment."""

    def __init__(self, api_key: str = "", config: ClientOptions | None = None) -> None:
        key = api_key or (config.api_key if config is not None else "")
        for name in API_KEY_ENVS:
            key = key or os.environ.get(name, "")
        self.api_key = key
        self.config = config.with_api_key(key) if config is not None else ClientOptions(api_key=key)

    @property
    def agent(self) -> AgentRouter:
        return AgentRouter(self.config)
