"""A window of whole hours as few periods as its counts can be read from.

A state keeps its counts per hour, day, month and year (``lib.logs.state.grains``). A window
``[start, end)`` is covered by periods of those grains, each added (sign +1) or, for counts
that add up, taken away (-1): the months of a window from 3 September to 20 May are September
less its first two days and three hours, October to April whole, and May's first 19 days and
17 hours. At each period the window cuts, the cheaper of the two is taken, by the rows each
grain's period holds (``WEIGHT``: a NASA-like log's clients, about 75,000 a month, 14,000 a day,
1,300 an hour). Pure functions of datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

GRAINS = ("year", "month", "day", "hour")  # coarse to fine
WEIGHT = {"year": 30.0, "month": 5.0, "day": 1.0, "hour": 0.1}  # rows read, a day's as 1


@dataclass(frozen=True)
class Part:
    """The periods of ``grain`` in ``[start, end)``, added (``sign`` 1) or taken away (-1)."""

    grain: str
    start: datetime
    end: datetime
    sign: int = 1


def floor(moment: datetime, grain: str) -> datetime:
    """The start of the ``grain`` period (UTC) that holds ``moment``."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if grain == "hour":
        return moment
    moment = moment.replace(hour=0)
    if grain == "day":
        return moment
    moment = moment.replace(day=1)
    return moment if grain == "month" else moment.replace(month=1)


def following(period: datetime, grain: str) -> datetime:
    """The start of the period after the ``grain`` period that starts at ``period``."""
    if grain == "hour":
        return period + timedelta(hours=1)
    if grain == "day":
        return period + timedelta(days=1)
    if grain == "month":
        if period.month == 12:
            return period.replace(year=period.year + 1, month=1)
        return period.replace(month=period.month + 1)
    return period.replace(year=period.year + 1)


def cover(
    start: datetime, end: datetime, grains: tuple[str, ...] = GRAINS, signed: bool = True
) -> list[Part]:
    """Parts whose periods' counts, added and taken away, are those of ``[start, end)`` (ends
    on whole hours; ``grains`` coarse to fine, the last ``hour``); ``signed`` False: added
    only (distinct sets, which cannot be taken away)."""
    if start >= end:
        return []
    parts, _ = _cover(start, end, grains, signed, 1)
    return _joined(parts)


def cover_to_any(
    start: datetime,
    ends: tuple[datetime, ...],
    grains: tuple[str, ...] = GRAINS,
    signed: bool = True,
) -> list[Part]:
    """The cheapest of ``cover(start, end)`` for each of ``ends``: for counts that hold
    nothing from the earliest of them on, whichever end is taken reads the same hours, and an
    end past the data lets whole periods be read (a year, not eight months less a day)."""
    if not ends or start >= min(ends):
        return []
    costs = []
    for end in sorted(set(ends)):
        parts, cost = _cover(start, end, grains, signed, 1)
        costs.append((cost, sum(part.sign < 0 for part in parts), len(parts), end, parts))
    return _joined(min(costs, key=lambda found: found[:4])[4])


def _cover(
    start: datetime, end: datetime, grains: tuple[str, ...], signed: bool, sign: int
) -> tuple[list[Part], float]:
    grain, finer = grains[0], grains[1:]
    if not finer:
        hours = (end - start) / timedelta(hours=1)
        return [Part(grain, start, end, sign)], hours * WEIGHT[grain]
    parts: list[Part] = []
    cost = 0.0
    period = floor(start, grain)
    while period < end:
        after = following(period, grain)
        low, high = max(start, period), min(end, after)
        if (low, high) == (period, after):
            chosen, spent = [Part(grain, period, after, sign)], WEIGHT[grain]
        else:
            chosen, spent = _cover(low, high, finer, signed, sign)
            if signed:
                whole, taken = [Part(grain, period, after, sign)], WEIGHT[grain]
                for left, right in ((period, low), (high, after)):
                    if left < right:
                        away, more = _cover(left, right, finer, signed, -sign)
                        whole, taken = whole + away, taken + more
                if taken < spent:
                    chosen, spent = whole, taken
        parts += chosen
        cost += spent
        period = after
    return parts, cost


def _joined(parts: list[Part]) -> list[Part]:
    """Consecutive parts of one grain and sign joined into one."""
    joined: list[Part] = []
    for part in sorted(parts, key=lambda p: (p.grain, p.sign, p.start)):
        last = joined[-1] if joined else None
        if last and (last.grain, last.sign, last.end) == (part.grain, part.sign, part.start):
            joined[-1] = Part(part.grain, last.start, part.end, part.sign)
        else:
            joined.append(part)
    return joined


def bounded(start: datetime, end: datetime, first: datetime, last: datetime, grain: str = "year"):
    """``[start, end)`` for data from hour ``first`` to hour ``last``: an end beyond the data
    moved out to a ``grain`` boundary past it (nothing lies between), so the periods the data
    fills are whole; None when the window holds no hour of the data."""
    if end <= first or start > last:
        return None
    if start <= first:
        start = floor(first, grain)
    if end > last:
        end = following(floor(last, grain), grain)
    return start, end
