"""Audio that arrives before the settings (a 3.11 microphone may start first), kept within a bound."""

from __future__ import annotations

import collections


class EarlyAudio:
    """A bounded FIFO of frames; past the bound the oldest frames go."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._frames: collections.deque[bytes] = collections.deque()
        self.size = 0

    def __bool__(self) -> bool:
        return bool(self._frames)

    def add(self, data: bytes) -> bool:
        """Keep `data`; True when older audio had to be dropped for it."""
        self._frames.append(data)
        self.size += len(data)
        dropped = False
        while self.size > self.limit and self._frames:
            self.size -= len(self._frames.popleft())
            dropped = True
        return dropped

    def take(self) -> list[bytes]:
        """Everything kept, oldest first; the buffer is empty afterwards."""
        frames, self._frames, self.size = list(self._frames), collections.deque(), 0
        return frames
