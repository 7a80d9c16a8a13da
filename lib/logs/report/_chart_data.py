"""What Q1's charts draw, chosen so that a chart's size does not grow with its data: the few
largest rows of a ranking (``largest``), and the stretch of time that holds the bulk of the
traffic, binned coarsely enough to stay a few thousand points (``traffic_span``).

Pure functions of count frames; ``lib.logs.report.charts`` draws what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import polars as pl

from lib.logs.counting.summary import COUNTED, per_hour

MAX_BARS = 30  # bars on any chart, whatever the table's length
TRIM = 0.005  # the share of requests a traffic span may leave out at each end
MAX_GAP = timedelta(days=30)  # a longer stretch without requests splits the log's time in two
MAX_POINTS = 24 * 100  # bins on a traffic chart: hours up to 100 days, then days, then weeks
BINS = (("hour", timedelta(hours=1)), ("day", timedelta(days=1)), ("week", timedelta(weeks=1)))


@dataclass(frozen=True)
class Bars:
    """The rows a bar chart draws, largest first, and how many rows their table had."""

    rows: pl.DataFrame
    total: int  # rows in the table the bars were taken from

    @property
    def cut(self) -> bool:
        """Whether rows were left out."""
        return self.rows.height < self.total

    def note(self, noun: str) -> str:
        """``top 30 of 100,000 hosts shown`` when rows were left out, else ``""``."""
        if not self.cut:
            return ""
        return f"top {self.rows.height:,} of {self.total:,} {noun} shown"


def largest(frame: pl.DataFrame, key: str, limit: int = MAX_BARS) -> Bars:
    """The ``limit`` rows of ``frame`` (``key``, ``requests`` and anything else) with the most
    requests, ties by ``key``; never more than ``MAX_BARS`` however large ``limit`` is. Costs
    one sort of ``frame``."""
    limit = max(0, min(limit, MAX_BARS))
    rows = frame.sort(["requests", key], descending=[True, False]).head(limit)
    return Bars(rows, frame.height)


@dataclass(frozen=True)
class Span:
    """The stretch of time a traffic chart draws: whole days in the server's time zone."""

    start: datetime  # inclusive, a midnight in the server's time zone (as UTC)
    end: datetime  # exclusive, a later midnight
    before: int  # requests earlier than ``start``, left out of the chart
    after: int  # requests from ``end`` on, left out too
    tz: timezone  # the server's

    def note(self) -> str:
        """``1 request outside the chart (1 before 01 Aug 1995)``, or ``""`` if none is."""
        outside = self.before + self.after
        if not outside:
            return ""
        parts = []
        if self.before:
            parts.append(f"{self.before:,} before {self.start.astimezone(self.tz):%d %b %Y}")
        if self.after:
            last_day = (self.end - timedelta(hours=1)).astimezone(self.tz)
            parts.append(f"{self.after:,} after {last_day:%d %b %Y}")
        plural = "" if outside == 1 else "s"
        return f"{outside:,} request{plural} outside the chart ({', '.join(parts)})"


@dataclass(frozen=True)
class Traffic:
    """Requests per bin over a span: ``frame`` has ``time`` (UTC, each bin's start) and
    ``requests`` (and the 4xx and 5xx among them where the hourly counts have them), bins
    without a request included as zero."""

    span: Span
    unit: str  # hour, day or week
    frame: pl.DataFrame


@dataclass(frozen=True)
class Zones:
    """The offsets a server wrote, in force one after another: ``changes`` holds each one's
    first hour (UTC) and offset (``-0400``), in time order; one entry for a log that never
    changed (or whose offsets are unknown)."""

    changes: tuple[tuple[datetime, str], ...]

    def at(self, when: datetime) -> timezone:
        """The offset in force at ``when`` (the first one before the first change)."""
        offset = self.changes[0][1]
        for start, named in self.changes:
            if start > when:
                break
            offset = named
        return parse_offset(offset)

    def describe(self) -> str:
        """``UTC-0400``, or ``UTC-0400, then UTC-0500 from 01:00 on 05 Nov 2026`` (that
        change's local time)."""
        said = [f"UTC{self.changes[0][1]}"]
        for start, offset in self.changes[1:]:
            local = start.astimezone(parse_offset(offset))
            said.append(f"then UTC{offset} from {local:%H:%M on %d %b %Y}")
        return ", ".join(said)

    def midnights(self, start: datetime, end: datetime) -> list[datetime]:
        """Every local midnight in ``[start, end)``, as UTC times, each in the offset in force
        that day."""
        found, day = [], start.astimezone(self.at(start)).date()
        while True:
            guess = datetime(day.year, day.month, day.day, tzinfo=self.at(start))
            midnight = guess.replace(tzinfo=self.at(guess.astimezone(UTC))).astimezone(UTC)
            if midnight >= end:
                return found
            if midnight >= start:
                found.append(midnight)
            day += timedelta(days=1)


def parse_offset(offset: str | None) -> timezone:
    """``-0400`` -> a fixed timezone (UTC if None or malformed)."""
    if not offset or len(offset) != 5 or offset[0] not in "+-" or not offset[1:].isdigit():
        return UTC
    sign = -1 if offset[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))


def zones_of(hourly: pl.DataFrame, fallback: str | None) -> Zones:
    """The offsets in force hour by hour (each hour's most written; ties by offset), from
    ``hourly``'s ``utc_offset`` column; ``fallback`` alone when it has none."""
    if "utc_offset" not in hourly.columns or hourly.drop_nulls("utc_offset").is_empty():
        return Zones(((datetime(1970, 1, 1, tzinfo=UTC), fallback or "+0000"),))
    top = (
        hourly.drop_nulls("utc_offset")
        .sort(["hour", "requests", "utc_offset"], descending=[False, True, False])
        .unique("hour", keep="first", maintain_order=True)
    )
    changes, last = [], None
    for hour, offset in top.select("hour", "utc_offset").iter_rows():
        if offset != last:
            changes.append((hour, offset))
            last = offset
    return Zones(tuple(changes))


def traffic_span(hourly: pl.DataFrame, tz: timezone = UTC) -> Span | None:
    """The whole days (in ``tz``) that hold the bulk of the requests in ``hourly`` (``hour`` in
    UTC, ``requests``); None when there is no request.

    The rule: the hours with requests are split wherever none came for more than ``MAX_GAP``
    and the part with the most requests is kept (the later one on a tie): a clock that once
    said 1970, a stray file from another year, are left out however few the requests are.
    Within that part: the hours from the one holding the ``TRIM`` quantile of its requests to
    the one holding the ``1 - TRIM`` quantile, widened to whole days. Gaps shorter than
    ``MAX_GAP`` (an outage) stay inside the span.
    """
    hourly = per_hour(hourly)
    data = hourly.filter(pl.col("requests") > 0)
    if data.is_empty():
        return None
    parts = data.with_columns(
        (pl.col("hour").diff() > MAX_GAP).fill_null(False).cum_sum().alias("part")
    )
    sizes = parts.group_by("part").agg(pl.col("requests").sum())
    busiest = sizes.sort(["requests", "part"], descending=True).item(0, "part")
    kept = parts.filter(pl.col("part") == busiest).with_columns(
        pl.col("requests").cum_sum().alias("cumulative")
    )
    total = int(kept.get_column("requests").sum())
    trimmed = int(total * TRIM)  # requests that may be left out at each end
    first = _hour_holding(kept, trimmed + 1)
    last = _hour_holding(kept, total - trimmed)
    start = _midnight(first, tz)
    end = _midnight(last, tz) + timedelta(days=1)
    hours = hourly.get_column("hour")
    counts = hourly.get_column("requests")
    return Span(
        start=start,
        end=end,
        before=int(counts.filter(hours < start).sum() or 0),
        after=int(counts.filter(hours >= end).sum() or 0),
        tz=tz,
    )


def traffic(hourly: pl.DataFrame, tz: timezone = UTC) -> Traffic | None:
    """Requests per bin over ``traffic_span(hourly, tz)``: per hour when the span has at most
    ``MAX_POINTS`` hours, else per day, else per week (bins start at the span's first
    midnight). None when there is no request."""
    span = traffic_span(hourly, tz)
    if span is None:
        return None
    unit, step = next(
        ((name, size) for name, size in BINS if (span.end - span.start) / size <= MAX_POINTS),
        BINS[-1],
    )
    bins = -(-(span.end - span.start) // step)  # ceiling: a last, partial week counts
    starts = pl.DataFrame(
        {"time": [span.start + i * step for i in range(bins)]},
        schema={"time": pl.Datetime("us", "UTC")},
    ).with_row_index("bin")
    step_us = step // timedelta(microseconds=1)
    inside = hourly.filter(
        (pl.col("hour") >= span.start) & (pl.col("hour") < span.end)
    ).with_columns(
        ((pl.col("hour") - pl.lit(span.start)).dt.total_microseconds() // step_us)
        .cast(pl.UInt32)
        .alias("bin")
    )
    summed = [name for name in COUNTED if name in hourly.columns]
    counts = inside.group_by("bin").agg(pl.col(summed).sum())
    frame = (
        starts.join(counts, on="bin", how="left")
        .select("time", *(pl.col(name).fill_null(0).cast(pl.UInt64) for name in summed))
        .sort("time")
    )
    return Traffic(span, unit, frame)


def _hour_holding(kept: pl.DataFrame, rank: int) -> datetime:
    """The hour holding the ``rank``-th request (1-based) of ``kept``, in time order."""
    return kept.filter(pl.col("cumulative") >= rank).item(0, "hour")


def _midnight(when: datetime, tz: timezone) -> datetime:
    """The midnight in ``tz`` that begins ``when``'s day there, as a UTC time (floored to the
    UTC hour, so that an offset such as +0530 keeps whole hours of the log inside)."""
    local = when.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC).replace(minute=0)
