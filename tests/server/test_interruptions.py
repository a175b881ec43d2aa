"""What a short sound over the agent must say to interrupt it."""

from __future__ import annotations

from voicewire.server.interruptions import is_interruption


def test_commands_interrupt_and_backchannels_do_not() -> None:
    for transcript in ("Stop.", "Wait!", "No, no.", "Hold on.", "Excuse me?", "Yeah, but no."):
        assert is_interruption(transcript), transcript
    for transcript in (
        "Mm-hmm.",
        "Uh-huh.",
        "Yeah.",
        "Okay, right.",
        "Hmm?",
        "",
        "...",
        " Thank you.",
        "you",
    ):
        assert not is_interruption(transcript), transcript
