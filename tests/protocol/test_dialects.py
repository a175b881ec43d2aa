"""What every wire format promises the connection."""

from __future__ import annotations

import pytest

from voicewire.protocol.agent import UserAudio
from voicewire.protocol.dialects import WIRE_FORMATS


@pytest.mark.parametrize("path", sorted(WIRE_FORMATS))
def test_binary_is_audio_means_decode_gives_the_frame_as_user_audio(path: str) -> None:
    wire = WIRE_FORMATS[path]()
    assert wire.binary_is_audio  # the connection skips decode for these frames
    assert wire.decode(b"\x01\x02\x03\x04") == UserAudio(b"\x01\x02\x03\x04")
    assert wire.decode(b"") is None
