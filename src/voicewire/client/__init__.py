"""The voicewire Python SDK: agent clients compatible with deepgram-sdk 3.11, for a voicewire server.

Seed code ports by changing its imports: `DeepgramClient`, `DeepgramClientOptions`, `DeepgramError` and
`AgentWebSocketEvents` keep their names; the message classes come from `voicewire.protocol`.
"""

from voicewire.client._core import KEEPALIVE_INTERVAL
from voicewire.client.asyncio import AsyncAgentWebSocketClient
from voicewire.client.compat import DeepgramClient
from voicewire.client.devices import (
    CHANNELS,
    CHUNK,
    PLAYBACK_DELTA,
    RATE,
    AudioSink,
    AudioSource,
    BufferSink,
    Microphone,
    SoundDeviceSink,
    SoundDeviceSource,
    Speaker,
    WavFileSource,
)
from voicewire.client.errors import DeepgramError, DeviceError, KeytermsError, SettingsError, VoicewireError
from voicewire.client.options import DEFAULT_URL, ClientOptions, DeepgramClientOptions
from voicewire.client.sync import AgentWebSocketClient
from voicewire.protocol import AgentWebSocketEvents

__all__ = [
    "CHANNELS",
    "CHUNK",
    "DEFAULT_URL",
    "KEEPALIVE_INTERVAL",
    "PLAYBACK_DELTA",
    "RATE",
    "AgentWebSocketClient",
    "AgentWebSocketEvents",
    "AsyncAgentWebSocketClient",
    "AudioSink",
    "AudioSource",
    "BufferSink",
    "ClientOptions",
    "DeepgramClient",
    "DeepgramClientOptions",
    "DeepgramError",
    "DeviceError",
    "KeytermsError",
    "Microphone",
    "SettingsError",
    "SoundDeviceSink",
    "SoundDeviceSource",
    "Speaker",
    "VoicewireError",
    "WavFileSource",
]
