"""The idle watchdog: a session with no message and no audio for too long is ended."""

from __future__ import annotations

from collections.abc import Callable

from voicewire.server.clock import Clock


class IdleWatchdog:
    def __init__(self, clock: Clock, timeout: float, on_idle: Callable[[], None]) -> None:
        self.timeout = timeout
        self._clock = clock
        self._on_idle = on_idle
        self._last_activity = clock.now()

    def touch(self) -> None:
        self._last_activity = self._clock.now()

    async def run(self) -> None:
        """Sleep until the session has been idle for `timeout`, then call `on_idle` once."""
        while True:
            remaining = self._last_activity + self.timeout - self._clock.now()
            if remaining <= 0:
                self._on_idle()
                return
            await self._clock.sleep(remaining)
