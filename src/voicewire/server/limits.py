"""Bounds on what one client message may ask of the engines, checked before anything is queued.

Frame sizes bound each message, but not what it costs: a few kilobytes of text to speak keep a shared voice
busy for minutes, and instructions or function results beyond the LLM's context make every later turn fail.
These checks turn such requests into a clear `Error` up front.
"""

from __future__ import annotations

from voicewire.server.config import ServerConfig


def inject_limit_problem(what: str, text: str, config: ServerConfig) -> str | None:
    """Why `text` may not be spoken or answered as one injection, or None if it may."""
    if len(text) <= config.max_inject_chars:
        return None
    return (
        f"{what} has {len(text)} characters; at most {config.max_inject_chars} may be injected at once "
        "(send longer text in several messages)"
    )
