"""What a session prepares at a pause in the user's speech, before it knows the turn has ended.

At a pause (`turns.SpeechPaused`) the session starts STT on the utterance as it stands, and, with
`turns.speculative_reply`, a held reply to that transcript (`Reply(held=True)`: the LLM's first piece and
its audio, nothing sent). At most one of each exists, for the latest pause: speech resuming cancels both.
When the turn ends, the held reply is released only if it still answers it: the turn's utterance is the one
it was prepared for, and the conversation it read (history, prompt, voice, LLM: the session's `basis`) was
not replaced meanwhile. Otherwise it is cancelled, having sent and recorded nothing.

A held reply keeps the LLM paused after its first piece, and the model is shared by every session of the
process. When another call waits for it, the held reply gives it up (`drop_prepared`): work that may be
thrown away never delays another conversation's reply. The transcript is kept, so if the turn does end
there, only the reply is started afresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from voicewire.engines.base import FloatAudio, Transcript
from voicewire.server.reply import Reply


@dataclasses.dataclass(frozen=True)
class PreparedReply:
    reply: Reply
    task: asyncio.Task[None]
    #: What it was prepared from, compared by identity: any of it replaced makes the reply stale.
    basis: Sequence[object]

    def answers(self, utterance: FloatAudio, basis: Sequence[object]) -> bool:
        """Whether it may be released for a turn that ended with `utterance`, the conversation now `basis`.

        The detector only appends to an utterance, so one as long as the prepared one is the same audio."""
        prepared_for = self.reply.utterance
        return (
            not self.task.done()
            and prepared_for is not None
            and len(prepared_for) == len(utterance)
            and all(then is now for then, now in zip(self.basis, basis, strict=True))
        )


class Speculation:
    """The speculative transcript and the held reply of the user's latest pause, if any."""

    def __init__(self) -> None:
        self.transcript: asyncio.Task[Transcript | None] | None = None
        self.prepared: PreparedReply | None = None

    def cancel(self) -> None:
        """The user went on (or the turn was noise, or it is answered otherwise): drop both."""
        if self.transcript is not None:
            self.transcript.cancel()
            self.transcript = None
        self.drop_prepared()

    def drop_prepared(self) -> None:
        """Cancel the held reply and keep the transcript (the turn may still end as it assumed)."""
        if self.prepared is not None:
            self.prepared.task.cancel()
            self.prepared = None

    def take_prepared(self, utterance: FloatAudio, basis: Sequence[object]) -> PreparedReply | None:
        """The held reply, handed over with its transcript, if it answers the turn (`PreparedReply.answers`);
        if it does not, it is cancelled and the transcript with it (the turn is transcribed afresh)."""
        prepared, self.prepared = self.prepared, None
        if prepared is None:
            return None
        if not prepared.answers(utterance, basis):
            prepared.task.cancel()
            self.cancel()
            return None
        self.transcript = None  # the prepared reply awaits it
        return prepared

    def take_transcript(self) -> asyncio.Task[Transcript | None] | None:
        transcript, self.transcript = self.transcript, None
        return transcript
