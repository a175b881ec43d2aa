"""The idle watchdog: a session with no message and no audio for too long is ended.

Time while the agent is busy with a reply does not count: a client that goes quiet to listen to a slow
answer (a large model, a busy machine, a long function call) is not idle.
"""

from __future__ import annotations

from collections.abc import Callable

from voicewire.server.clock import Clock


class IdleWatchdog:
    def __init__(
        self, clock: Clock, timeout: float, on_idle: Callable[[], None], busy: Callable[[], bool]
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._on_idle = on_idle
        self._busy = busy
        self._last_activity = clock.now()

    def touch(self) -> None:
        self._last_activity = self._clock.now()

    async def run(self) -> None:
        """Sleep until the session has been idle for `timeout`, then call `on_idle` once."""
        while True:
            remaining = self._last_activity + self.timeout - self._clock.now()
            if remaining <= 0 and self._busy():
                self.touch()
                remaining = self.timeout
            if remaining <= 0:
                self._on_idle()
                return
            await self._clock.sleep(remaining)
