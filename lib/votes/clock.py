"""A kiosk's clock, checked against the results writer's: votes are stamped in the writer's time,
and refused when the kiosk's own clock is off by more than ``VOTE_CLOCK_SKEW``.

Why the results writer: the worker judges a vote's time by the servers' clock, and a kiosk can
reach no server clock but one. It has no database credentials, RabbitMQ tells no time, but the
results writer stamps ``generated_at`` (its clock) into every ``results.json`` it writes, every
``RESULTS_INTERVAL`` seconds, into the ``CACHE_DIR`` the kiosk already reads.

How: a change of ``results.json`` seen at monotonic time ``M`` with ``generated_at`` ``G`` says
that the writer's clock read at least ``G`` at ``M`` (``G`` is stamped before the file is written,
and the change is seen after): the writer's time now is at least ``G + (monotonic() - M)``. Each
change seen is such a lower bound, short of the truth by how late the change was seen (the
writer's query and write, and the 0.25 s poll); the kiosk takes the tightest of the last
``WINDOW``. That bound runs on the monotonic clock, so it holds while the writer is stopped (its
error then grows by the clocks' drift, parts per million) and whatever the kiosk's wall clock
does. The first version of the file a process reads says nothing: its age is unknown.

Until a change has been seen (the first ``RESULTS_INTERVAL`` or so after a kiosk starts, or for
as long as the writer is stopped), a kiosk stamps votes with its own clock and refuses them only
when the last results show its clock off by more than the bound: behind ``generated_at`` by more
(certain: that time has passed), or ahead of it by more (its clock is ahead, or the results are
that stale: the kiosk cannot tell, and refuses). No results at all (the worker has never run):
no check, and the worker's own bound on a vote's time is what holds.

The bounds live in shared memory made before the kiosk's server processes fork, so that every
process of a kiosk knows what any of them saw (CLOCK_MONOTONIC is the machine's, not a
process's). ``wall`` and ``monotonic`` are injectable, for tests and for ``--clock-offset``.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lib.votes.message import VoteError

logger = logging.getLogger(__name__)

WINDOW = 32  # lower bounds kept: ~16 refreshes seen by two server processes
POLL = 0.25  # seconds between looks at results.json


class KioskClock:
    """The results writer's time as this kiosk knows it, and whether to take votes by it.
    ``bound``: ``VOTE_CLOCK_SKEW``; ``opens_at``: ``VOTES_OPEN_AT`` (a vote stamped earlier is
    refused, 403, rather than accepted and dead-lettered by the worker)."""

    def __init__(
        self,
        bound: timedelta,
        opens_at: datetime | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.bound = bound.total_seconds()
        self.opens_at = opens_at
        self._wall, self._monotonic = wall, monotonic
        self._bounds = multiprocessing.Array("d", [math.nan] * WINDOW)  # G - M of each change
        self._next = multiprocessing.Value("q", 0, lock=False)  # guarded by _bounds' lock
        self._lock = threading.Lock()
        self._last: float | None = None  # this process's last generated_at seen (epoch s)
        self._watching: int | None = None  # the process whose thread polls

    # --- what the kiosk sees --------------------------------------------------------------------

    def observe(self, generated: datetime | None) -> None:
        """``generated_at`` of the results as read now (None: no results). A value other than
        the last this process read is a change seen now: a lower bound on the writer's time."""
        if generated is None:
            return
        stamp, now = generated.timestamp(), self._monotonic()
        with self._lock:
            last, self._last = self._last, stamp
        if last is None or stamp == last:
            return
        with self._bounds.get_lock():
            self._bounds[self._next.value % WINDOW] = stamp - now
            self._next.value += 1

    def watch(self, read: Callable[[], datetime | None]) -> None:
        """Poll ``read`` (the results' ``generated_at``, or None) every ``POLL`` seconds in a
        daemon thread of this process, once per process (call it after the server forks, at each
        request: it returns at once when this process already watches). The first read is done
        here, so that a vote right after has the last results to judge by."""
        if self._watching == os.getpid():
            return
        with self._lock:
            if self._watching == os.getpid():
                return
            self._watching = os.getpid()
            self._last = None  # what the parent process saw is not this process's to compare
        self._look(read)
        thread = threading.Thread(target=self._poll, args=(read,), name="kiosk-clock", daemon=True)
        thread.start()

    def _poll(self, read: Callable[[], datetime | None]) -> None:
        while True:
            time.sleep(POLL)
            self._look(read)

    def _look(self, read: Callable[[], datetime | None]) -> None:
        try:
            self.observe(read())
        except Exception:  # noqa: BLE001 - a bad read must not end the watch
            logger.debug("reading the results' time failed", exc_info=True)

    # --- what it answers ------------------------------------------------------------------------

    def _writer_time(self) -> float | None:
        """The writer's time now (epoch seconds) as the tightest bound says; None before any."""
        with self._bounds.get_lock():  # one slice of the raw array: indexing the synchronized
            bounds = self._bounds.get_obj()[:]  # one took its lock per item, 33 a vote's look
        tightest = max((b for b in bounds if not math.isnan(b)), default=None)
        return None if tightest is None else self._monotonic() + tightest

    def now(self) -> datetime:
        """The time to stamp a vote with: the writer's time if known, else this kiosk's."""
        return self._at(self._writer_time())

    def _at(self, writer: float | None) -> datetime:
        """The time to stamp a vote with, given the writer's time (``_writer_time``)."""
        return datetime.fromtimestamp(self._wall() if writer is None else writer, UTC)

    def offset(self) -> float | None:
        """Seconds this kiosk's clock is ahead of the writer's (negative: behind), as far as the
        changes seen tell (it may read a little ahead: the bounds fall short); None before any."""
        return self._offset(self._writer_time())

    def _offset(self, writer: float | None) -> float | None:
        return None if writer is None else self._wall() - writer

    def refusal(self) -> str | None:
        """Why no vote is taken now (one line a client may see), or None."""
        return self._refusal(self._offset(self._writer_time()))

    def _refusal(self, offset: float | None) -> str | None:
        """``refusal``, given the offset (``offset``) it is judged by."""
        if offset is not None:
            if abs(offset) <= self.bound:
                return None
            way = "ahead of" if offset > 0 else "behind"
            return (
                f"this kiosk's clock is {abs(offset):.0f}s {way} the results writer's, more "
                f"than VOTE_CLOCK_SKEW ({self.bound:g}s): votes are refused until it is set right"
            )
        last = self._last
        if last is None:
            return None  # no results yet: nothing to check against
        since = self._wall() - last
        if since < -self.bound:
            return (
                f"this kiosk's clock is at least {-since:.0f}s behind the results writer's, "
                f"more than VOTE_CLOCK_SKEW ({self.bound:g}s): votes are refused until it is "
                f"set right"
            )
        if since > self.bound:
            return (
                f"this kiosk's clock cannot be checked: by it the results are {since:.0f}s old, "
                f"more than VOTE_CLOCK_SKEW ({self.bound:g}s), so it is ahead or the worker has "
                f"stopped writing them; votes are refused until the results are refreshed"
            )
        return None

    def stamp(self) -> datetime:
        """The time to stamp a vote with now; raises VoteError 503 (``refusal``) or 403 (the
        vote has not opened by that time)."""
        writer = self._writer_time()  # looked up once a vote: the refusal and the stamp agree
        refusal = self._refusal(self._offset(writer))
        if refusal is not None:
            raise VoteError(503, refusal)
        when = self._at(writer)
        if self.opens_at is not None and when < self.opens_at:
            raise VoteError(403, f"voting opens at {self.opens_at.isoformat()}")
        return when

    def state(self) -> dict:
        """For ``/health``: whether the clock was checked against the writer's, the offset, the
        bound, and the refusal if any."""
        offset = self.offset()
        return {
            "checked": offset is not None,
            "offset_seconds": None if offset is None else round(offset, 3),
            "bound_seconds": self.bound,
            "refusal": self.refusal(),
        }
