"""The voice agent server: `AgentServer` (network edge), `Session` (one conversation), `ServerConfig`."""

from voicewire.server.app import AgentServer
from voicewire.server.config import ConfigError, ServerConfig, TurnConfig, load_config
from voicewire.server.metrics import TurnMetrics
from voicewire.server.session import Session, State

__all__ = [
    "AgentServer",
    "ConfigError",
    "ServerConfig",
    "Session",
    "State",
    "TurnConfig",
    "TurnMetrics",
    "load_config",
]
