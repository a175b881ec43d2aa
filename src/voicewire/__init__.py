"""voicewire: a self-hosted voice agent server and a Python SDK for the Deepgram Voice Agent protocol."""

__version__ = "0.1.0"
