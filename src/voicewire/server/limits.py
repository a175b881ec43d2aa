"""Bounds on what one client message may ask of the engines, checked before anything is queued.

Frame sizes bound each message, but not what it costs: a few kilobytes of text to speak keep a shared voice
busy for minutes, and instructions or function results beyond the LLM's context make every later turn fail.
These checks turn such requests into a clear `Error` up front.
"""

from __future__ import annotations

from typing import Protocol, TypeGuard

from voicewire.server.config import ServerConfig


def inject_limit_problem(what: str, text: str, config: ServerConfig) -> str | None:
    """Why `text` may not be spoken or answered as one injection, or None if it may."""
    if len(text) <= config.max_inject_chars:
        return None
    return (
        f"{what} has {len(text)} characters; at most {config.max_inject_chars} may be injected at once "
        "(send longer text in several messages)"
    )


#: Share of a local model's context the system prompt may fill; the rest holds the conversation and answer.
INSTRUCTIONS_SHARE = 0.5
#: Share of the context one function result may fill, at about `CHARS_PER_TOKEN` characters a token.
RESULT_SHARE = 0.25
CHARS_PER_TOKEN = 4


class BoundedContext(Protocol):
    """A language model whose context is known (the local llama.cpp engine; remote APIs keep their own)."""

    @property
    def context_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...


def _bounded(llm: object) -> TypeGuard[BoundedContext]:
    """What a runtime-checkable `isinstance` would test, without its cost on Python 3.11 (tens of
    microseconds), paid by every `UpdateInstructions`."""
    return hasattr(llm, "context_tokens") and hasattr(llm, "count_tokens")


def instructions_problem(llm: object, prompt: str) -> str | None:
    """Why `prompt` cannot be the system prompt of `llm`, or None if it fits.

    The system prompt is always kept whole, so one that leaves no room for the conversation would make every
    later turn fail; it is refused up front instead.
    """
    if not _bounded(llm):
        return None
    budget = int(llm.context_tokens * INSTRUCTIONS_SHARE)
    tokens = llm.count_tokens(prompt)
    if tokens <= budget:
        return None
    return (
        f"Instructions of {tokens} tokens do not fit the language model, which reads {llm.context_tokens} "
        f"tokens in all, at most {budget} of them instructions; they were left unchanged"
    )


def result_chars(llm: object, ceiling: int) -> int:
    """The longest function result, in characters, that `llm` can read alongside the conversation."""
    if not _bounded(llm):
        return ceiling
    return max(1, min(ceiling, int(llm.context_tokens * RESULT_SHARE) * CHARS_PER_TOKEN))
