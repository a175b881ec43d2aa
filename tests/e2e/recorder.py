"""Collects the events an SDK client emits, from any thread, and waits for them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

#: Longest wait for one expected event.
WAIT = 10.0


@dataclass
class Event:
    name: str
    payload: Any


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, name: str, payload: Any) -> None:
        with self._changed:
            self.events.append(Event(name, payload))
            self._changed.notify_all()

    def count(self, name: str) -> int:
        with self._changed:
            return sum(1 for e in self.events if e.name == name)

    def wait_for(self, name: str, count: int = 1) -> Event:
        """Block until the `count`-th event called `name` has arrived; return it."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._nth(name, count) is not None, WAIT):
                raise AssertionError(f"no {name} #{count} within {WAIT} s; got {self.names()}")
            event = self._nth(name, count)
            assert event is not None
            return event

    def _nth(self, name: str, count: int) -> Event | None:
        matching = [e for e in self.events if e.name == name]
        return matching[count - 1] if len(matching) >= count else None

    def names(self) -> list[str]:
        """Event names in order, with runs of AudioData collapsed."""
        with self._changed:
            out: list[str] = []
            for event in self.events:
                if not (event.name == "AudioData" and out and out[-1] == "AudioData"):
                    out.append(event.name)
            return out

    def payloads(self, name: str) -> list[Any]:
        with self._changed:
            return [e.payload for e in self.events if e.name == name]
