"""The session's only source of time, so tests can run a turn on a virtual timeline.

Everything that waits (audio pacing, idle timeout) or timestamps a turn goes through a `Clock`; turn detection
itself counts samples and needs no clock at all.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale; only differences are meaningful."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
