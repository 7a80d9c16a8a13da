"""Logging that cannot flood: one line per interval, and how many were left out meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable


class LogThrottle:
    """``admit()`` says whether to log an event now: the first in every ``interval`` seconds
    is admitted (with how many were left out since the last admitted one), the rest are counted.
    Not thread-safe: one per thread, such as the worker's consuming loop."""

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._interval, self._clock = interval, clock
        self._next = float("-inf")
        self._left_out = 0

    def admit(self) -> int | None:
        """None: do not log this one. Else the number of events left out before it."""
        now = self._clock()
        if now < self._next:
            self._left_out += 1
            return None
        left_out, self._left_out, self._next = self._left_out, 0, now + self._interval
        return left_out
