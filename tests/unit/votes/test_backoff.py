"""The reconnect backoff shared by the kiosk's publisher and the worker."""

import pytest

from lib.votes.backoff import Backoff


def test_doubles_up_to_the_cap_and_starts_again_after_a_reset():
    backoff = Backoff(first=0.5, cap=10.0)
    assert [backoff.next() for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert [backoff.next() for _ in range(2)] == [0.5, 1]


@pytest.mark.parametrize(("first", "cap"), [(0, 1), (-1, 1), (2, 1)])
def test_nonsense_bounds_are_refused(first, cap):
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first, cap)
