"""Replies are cleaned of what a voice cannot say."""

from __future__ import annotations

import pytest

from voicewire.server.speakable import speakable


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("I hope all is well. #FixItBites #TestOne23", "I hope all is well. Fix It Bites Test One 23"),
        ("**Great** question, _really_.", "Great question, really."),
        ("## Steps\n1. Call `get_weather`.", "Steps 1. Call get weather."),
        ("See https://example.com/a?b=c for more.", "See a link for more."),
        ("Sure! 😊👍", "Sure!"),
        ("Plain words stay as they are, 21.5 degrees.", "Plain words stay as they are, 21.5 degrees."),
        ("***", ""),
    ],
)
def test_marks_a_voice_would_read_aloud_are_removed(written: str, said: str) -> None:
    assert speakable(written) == said
