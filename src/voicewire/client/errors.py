"""The client's exception hierarchy: one base to catch, named like the seed SDK's so ports keep working."""

from __future__ import annotations

from voicewire.protocol import KeytermsNotSupportedError


class VoicewireError(Exception):
    """Base of every error the client raises itself (bad options, bad settings, missing devices)."""


#: deepgram-sdk 3.11 raised `DeepgramError`; ported `except DeepgramError` blocks keep catching.
DeepgramError = VoicewireError


class SettingsError(VoicewireError, ValueError):
    """The settings given to `start()` cannot be turned into a SettingsConfiguration message."""


class KeytermsError(SettingsError, KeytermsNotSupportedError):
    """Keyterms were given for a model that cannot use them.

    Also a `KeytermsNotSupportedError`, so code written against the protocol core catches it too.
    """


class DeviceError(VoicewireError):
    """An audio device cannot be opened, e.g. because the optional `sounddevice` package is missing."""
