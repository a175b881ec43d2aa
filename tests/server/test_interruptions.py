"""What a short sound over the agent must say to interrupt it."""

from __future__ import annotations

from voicewire.server.interruptions import is_interruption


def test_commands_interrupt_and_backchannels_hums_and_coughs_do_not() -> None:
    for transcript in ("Stop.", "Wait!", "No, no.", "Hold on.", "Excuse me?", "Yeah, but no.", "Sorry?"):
        assert is_interruption(transcript), transcript
    # What Whisper wrote for eSpeak's "uh-huh." and "hmm.", and for coughs and silence.
    for transcript in (
        "Mm-hmm.",
        "Uh uh.",
        "them.",
        "Yeah.",
        "Okay, right.",
        "",
        "...",
        " Thank you.",
        "you",
    ):
        assert not is_interruption(transcript), transcript
