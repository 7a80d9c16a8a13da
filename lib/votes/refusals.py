"""The refusals a kiosk answers, counted by status for ``/health`` and logged without flooding.

The counts live in shared memory made before gunicorn forks the server processes, so they are
the kiosk's, not one process's. Each process logs the first refusal in every ``interval``
seconds and, with its next line, how many it left out meanwhile. With ``counter`` (the kiosk's
``requests_refused`` metric, ``lib.votes.metrics``) each refusal is counted there too, by status.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)
COUNTED = (400, 401, 403, 404, 405, 408, 413, 415, 429, 431, 500, 503, 505)
_INDEX = {status: i for i, status in enumerate(COUNTED)}


class Refusals:
    """Counts by status (any status not in COUNTED as ``other``) and a rate-limited log."""

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        counter=None,
    ):
        self._counter = counter
        self._counts = multiprocessing.Array("q", len(COUNTED) + 1)
        self._interval, self._clock = interval, clock
        self._next_line = float("-inf")
        self._left_out = 0
        self._lock = threading.Lock()

    def record(self, status: int, reason: str, client: str) -> None:
        """Count a refusal of ``client`` (its address) with ``status``; log it unless a line
        was logged less than ``interval`` seconds ago."""
        with self._counts.get_lock():
            self._counts[_INDEX.get(status, len(COUNTED))] += 1
        if self._counter is not None:
            self._counter.labels(str(status)).inc()
        with self._lock:
            now = self._clock()
            if now < self._next_line:
                self._left_out += 1
                return
            left_out, self._left_out, self._next_line = self._left_out, 0, now + self._interval
        more = f" (and {left_out} more refusals not logged)" if left_out else ""
        logger.info("refused %d to %s: %s%s", status, client, reason, more)

    def counts(self) -> dict[str, int]:
        """Refusals so far by status (``"429": 12``), statuses never answered left out."""
        with self._counts.get_lock():
            values = list(self._counts)
        named = {str(status): n for status, n in zip(COUNTED, values, strict=False) if n}
        if values[-1]:
            named["other"] = values[-1]
        return named
