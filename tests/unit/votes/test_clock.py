"""A kiosk's clock against the results writer's, with clocks the test turns: votes stamped in the
writer's time within the bound, refused beyond it, and what can be told before any change of
the results has been seen."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from lib.votes.clock import KioskClock
from lib.votes.message import VoteError

BOUND = timedelta(minutes=5)
T0 = 1_800_000_000.0  # the writer's time when the test starts (epoch seconds)


class Clocks:
    """The writer's true time and a kiosk's wall clock ``offset`` off it; a monotonic clock
    that has nothing to do with either."""

    def __init__(self, offset: float):
        self.true, self.offset, self.mono = T0, offset, 12345.0

    def wall(self) -> float:
        return self.true + self.offset

    def monotonic(self) -> float:
        return self.mono

    def pass_(self, seconds: float) -> None:
        self.true += seconds
        self.mono += seconds

    def written(self, age: float = 0.0) -> datetime:
        """``generated_at`` of results written ``age`` seconds ago."""
        return datetime.fromtimestamp(self.true - age, UTC)


def clock_for(clocks: Clocks, opens_at: datetime | None = None) -> KioskClock:
    return KioskClock(BOUND, opens_at, wall=clocks.wall, monotonic=clocks.monotonic)


def refreshes(clock: KioskClock, clocks: Clocks, count: int, seen_after: float = 0.1) -> None:
    """The writer refreshes every 2 s; each change is seen ``seen_after`` seconds late."""
    for _ in range(count):
        generated = clocks.written()
        clocks.pass_(seen_after)
        clock.observe(generated)
        clocks.pass_(2 - seen_after)


@pytest.mark.parametrize("offset", [-299.0, -45.0, 0.0, 45.0, 299.0])
def test_within_the_bound_votes_are_stamped_in_the_writers_time(offset):
    clocks = Clocks(offset)
    clock = clock_for(clocks)
    clock.observe(clocks.written(age=1.3))  # the file as first read: its age is unknown
    assert clock.offset() is None
    refreshes(clock, clocks, 5)
    assert clock.offset() == pytest.approx(offset, abs=0.11)
    assert clock.stamp().timestamp() == pytest.approx(clocks.true, abs=0.11)
    assert clock.stamp().timestamp() <= clocks.true  # never ahead of the writer
    assert clock.state()["checked"] and clock.state()["refusal"] is None


@pytest.mark.parametrize(("offset", "way"), [(301.0, "ahead of"), (-600.0, "behind")])
def test_beyond_the_bound_votes_are_refused_with_the_reason(offset, way):
    clocks = Clocks(offset)
    clock = clock_for(clocks)
    clock.observe(clocks.written(age=1.0))
    refreshes(clock, clocks, 3)
    with pytest.raises(VoteError) as refused:
        clock.stamp()
    assert refused.value.status == 503
    assert f"s {way} the results writer's, more than VOTE_CLOCK_SKEW (300s)" in (
        refused.value.reason
    )
    assert clock.state()["refusal"] == refused.value.reason


def test_the_tightest_bound_wins_and_the_writer_stopping_changes_nothing():
    clocks = Clocks(20.0)
    clock = clock_for(clocks)
    clock.observe(clocks.written())
    for late in (1.5, 0.02, 0.9):  # changes seen late by so much
        refreshes(clock, clocks, 1, seen_after=late)
    assert clock.offset() == pytest.approx(20.02, abs=1e-6)
    clocks.pass_(3600)  # no refresh for an hour: the bound runs on the monotonic clock
    assert clock.offset() == pytest.approx(20.02, abs=1e-6)


def test_the_kiosks_wall_clock_set_right_is_seen_at_once():
    clocks = Clocks(400.0)
    clock = clock_for(clocks)
    clock.observe(clocks.written())
    refreshes(clock, clocks, 2)
    assert clock.refusal() is not None
    clocks.offset = 0.5  # an operator sets the clock; the bounds did not move
    assert clock.refusal() is None and clock.offset() == pytest.approx(0.5, abs=0.11)


def test_before_any_change_a_clock_is_judged_by_the_last_results_when_it_can_be():
    clocks = Clocks(0.0)
    assert clock_for(clocks).stamp().timestamp() == clocks.wall()  # no results: no check
    for offset, age, refused in [
        (45.0, 1.0, None),  # by it the results are 46 s old: within the bound
        (-45.0, 1.0, None),
        (-400.0, 1.0, "at least 399s behind"),  # results from its future: certainly behind
        (400.0, 1.0, "cannot be checked: by it the results are 401s old"),
        (0.0, 900.0, "cannot be checked"),  # a worker stopped for 15 minutes: cannot tell
    ]:
        clocks = Clocks(offset)
        clock = clock_for(clocks)
        clock.observe(clocks.written(age))
        assert clock.offset() is None
        if refused is None:
            assert clock.stamp().timestamp() == clocks.wall()  # its own clock, unchecked
        else:
            with pytest.raises(VoteError, match=refused):
                clock.stamp()


def test_a_vote_before_the_opening_is_refused_by_the_writers_time():
    clocks = Clocks(-45.0)  # behind: its own clock would say the vote has not opened
    opens_at = datetime.fromtimestamp(T0 + 10, UTC)
    clock = clock_for(clocks, opens_at)
    clock.observe(clocks.written())
    with pytest.raises(VoteError) as early:
        clock.stamp()
    assert early.value.status == 403 and "voting opens at" in early.value.reason
    refreshes(clock, clocks, 6)  # 12 s later, by the writer's clock: open
    assert clock.stamp() >= opens_at


def test_what_every_process_saw_is_shared():
    clocks = Clocks(30.0)
    clock = clock_for(clocks)
    clock.observe(clocks.written())
    refreshes(clock, clocks, 2)
    child = os.fork()
    if child == 0:  # a server process forked after the clock was made
        ok = clock.offset() is not None and abs(clock.offset() - 30.0) < 0.2
        clock._bounds[5] = clock._bounds[0] + 0.05  # noqa: SLF001 - what it sees, shared
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert clock.offset() == pytest.approx(29.95, abs=0.11)


def test_watch_reads_at_once_and_then_polls():
    seen: list[datetime] = []
    generated = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def read() -> datetime:
        seen.append(generated)
        return generated

    clock = KioskClock(BOUND)
    clock.watch(read)
    assert len(seen) == 1  # before returning: a vote right after has results to judge by
    clock.watch(read)  # the same process: one thread
    time.sleep(0.6)
    assert 2 <= len(seen) <= 5
