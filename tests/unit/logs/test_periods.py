"""lib.logs.state.periods: the periods a window is read from cover each of its hours once and
no other hour, whatever the window, added only or with periods taken away."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from lib.logs.state.periods import bounded, cover, cover_to_any, floor, following

BASE = datetime(2023, 1, 1, tzinfo=UTC)  # no period the windows are read from starts earlier
ORIGIN = datetime(2023, 11, 30, tzinfo=UTC)  # windows from here: a leap year, year ends
HOURS = 3 * 366 * 24


def _hour(index: int) -> datetime:
    return ORIGIN + timedelta(hours=index)


def _index(moment: datetime) -> int:
    return int((moment - BASE) / timedelta(hours=1))


def _coverage(parts, span: int) -> list[int]:
    """How many times each hour of [BASE, BASE + span hours) is counted, signs applied."""
    steps = [0] * (span + 1)
    for part in parts:
        assert part.start == floor(part.start, part.grain)
        assert part.end == floor(part.end, part.grain)
        low, high = _index(part.start), _index(part.end)
        assert 0 <= low < high <= span, part
        steps[low] += part.sign
        steps[high] -= part.sign
    counted, total = [], 0
    for step in steps[:-1]:
        total += step
        counted.append(total)
    return counted


@given(st.integers(0, HOURS), st.integers(1, HOURS), st.booleans())
def test_a_window_is_every_hour_of_it_once(start, length, signed):
    end = min(start + length, HOURS)
    if end <= start:
        return
    # a span of whole years around the window, so that no period reaches past it
    span = _index(following(floor(_hour(HOURS), "year"), "year"))
    parts = cover(_hour(start), _hour(end), signed=signed)
    assert all(part.sign == 1 for part in parts) or signed
    counted = _coverage(parts, span)
    low, high = _index(_hour(start)), _index(_hour(end))
    assert counted[:low] == [0] * low
    assert counted[low:high] == [1] * (high - low)
    assert counted[high:] == [0] * (span - high)


def test_a_long_window_is_read_from_few_periods():
    parts = cover(datetime(1995, 9, 3, 5, tzinfo=UTC), datetime(1996, 5, 20, 17, tzinfo=UTC))
    assert len(parts) <= 6
    assert {part.grain for part in parts} <= {"month", "day", "hour"}


def test_a_window_past_the_data_reads_whole_years():
    first, last = datetime(1995, 8, 1, 4, tzinfo=UTC), datetime(1996, 7, 31, 23, tzinfo=UTC)
    start, end = bounded(datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC), first,
                         last)  # fmt: skip
    assert (start, end) == (datetime(1995, 1, 1, tzinfo=UTC), datetime(1997, 1, 1, tzinfo=UTC))
    assert [p.grain for p in cover(start, end)] == ["year"]
    assert bounded(datetime(1997, 1, 1, tzinfo=UTC), datetime(1998, 1, 1, tzinfo=UTC), first,
                   last) is None  # fmt: skip


@given(st.integers(0, HOURS), st.integers(1, HOURS), st.lists(st.integers(0, HOURS), max_size=3),
       st.booleans())  # fmt: skip
def test_a_cover_to_any_end_counts_every_hour_before_the_first_end_once(start, length, more,
                                                                         signed):  # fmt: skip
    """For counts that hold nothing from the earliest end on, the hours after it may be read
    any number of times; those before it, once from the start, none before the start."""
    first_end = min(start + length, HOURS)
    if first_end <= start:
        return
    ends = (_hour(first_end), *(_hour(max(first_end, e)) for e in more))
    span = _index(following(floor(_hour(HOURS), "year"), "year"))
    parts = cover_to_any(_hour(start), ends, signed=signed)
    assert all(part.sign == 1 for part in parts) or signed
    counted = _coverage(parts, span)
    low, high = _index(_hour(start)), _index(_hour(first_end))
    assert counted[:low] == [0] * low
    assert counted[low:high] == [1] * (high - low)


def test_a_cover_to_any_end_takes_the_whole_period_over_one_less_its_last_days():
    start, rolled = datetime(1995, 8, 1, tzinfo=UTC), datetime(1995, 8, 30, tzinfo=UTC)
    assert sorted(p.sign for p in cover(start, rolled)) == [-1, 1]  # August less two days
    parts = cover_to_any(start, (rolled, datetime(1995, 9, 1, tzinfo=UTC)))
    assert [(p.grain, p.sign) for p in parts] == [("month", 1)]
    assert cover_to_any(rolled, (rolled,)) == []
