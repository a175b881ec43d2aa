"""Which part of a long conversation a model with a bounded context reads.

A voice conversation only grows, and a local model's context does not: SmolLM2 runs with 2,048 tokens, which
twenty spoken turns fill. Dropping just enough of the oldest messages every turn would keep the prompt full,
but it would also move the start of the history every turn, and llama.cpp only reuses the KV cache for the
prompt's unchanged prefix: every turn would re-read the whole history (seconds on 2 cores instead of tens of
milliseconds). So the history is dropped in steps of half the budget: the cut stays where it is while the
conversation grows by half a budget, and the model re-reads the history once per step, not once per turn.

The choice depends only on the messages, not on what came before, so several sessions sharing one model
each get a stable window of their own.
"""

from __future__ import annotations

from collections.abc import Sequence


def window_start(lengths: Sequence[int], roles: Sequence[str], budget: int) -> int:
    """The index of the first history message to keep so the kept ones fit in `budget` tokens.

    `lengths[i]` is the token count of message `i` (oldest first). The kept history starts at a user
    message where one is late enough, so a tool result keeps its call and the model never reads an answer
    to nothing. The last message is always kept, even alone over budget (the model then reports the
    overflow).
    """
    total = sum(lengths)
    if total <= budget or len(lengths) < 2:
        return 0
    step = max(1, budget // 2)
    to_drop = -(-(total - budget) // step) * step
    dropped = 0
    enough: int | None = None
    for index, length in enumerate(lengths):
        if dropped >= to_drop:
            if roles[index] == "user":
                return index
            enough = index if enough is None else enough
        dropped += length
    return len(lengths) - 1 if enough is None else enough
