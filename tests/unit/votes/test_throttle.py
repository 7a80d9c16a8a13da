"""Logging that cannot flood: the worker's dead letters."""

from __future__ import annotations

from lib.votes.throttle import LogThrottle


def test_one_line_per_interval_then_how_many_were_left_out():
    now = [0.0]
    throttle = LogThrottle(interval=1.0, clock=lambda: now[0])
    assert throttle.admit() == 0
    assert [throttle.admit() for _ in range(5)] == [None] * 5
    now[0] = 0.999
    assert throttle.admit() is None
    now[0] = 1.0
    assert throttle.admit() == 6  # the next line says six were not logged
    now[0] = 5.0
    assert throttle.admit() == 0
