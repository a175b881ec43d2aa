"""voicewire: a self-hosted voice agent server and a Python SDK for the Deepgram Voice Agent protocol.

The SDK's names are importable from here, as they were from `deepgram`, so code written for
deepgram-sdk 3.11's agent client ports by changing `from deepgram import ...` to `from voicewire import ...`.
"""

# Set before the imports below: the client reads it for its User-Agent.
__version__ = "0.1.0"

from voicewire.client import *  # noqa: F403
from voicewire.client import __all__ as _client_names
from voicewire.protocol import *  # noqa: F403
from voicewire.protocol import __all__ as _protocol_names

__all__ = sorted({*_client_names, *_protocol_names})
