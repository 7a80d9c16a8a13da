"""Counts cut by hour: what a state directory keeps (``lib.logs.state``), so that any window of
whole hours is answered without reading a log again, the same as a run over that window.

Each table is one of ``LogSummary``'s frames with the hour (UTC) as its first key: requests and
bytes per (hour, host), per (hour, url), ... The hours' own table says, beside the counts, each
hour's first and last request. A window's summary is the rows of its hours added up (``summed``
columns; ``first`` and ``last`` by their least and greatest) or, for the distinct samples
(queries, visitors), their distinct rows: exact, whatever the hours were read in. Pure functions
of frames: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import polars as pl

from lib.logs.counting import caps
from lib.logs.counting.parsed import (
    HOUR,
    HOUR_TYPE,
    _breakdowns,
    _count,
    _logged,
    _pairs,
    with_hour,
)
from lib.logs.counting.ranking import Named
from lib.logs.counting.summary import LogSummary, combine


@dataclass(frozen=True)
class Table:
    field: str  # the LogSummary frame it cuts by hour
    keys: tuple[str, ...]  # after the hour
    summed: tuple[str, ...]  # added up; none: a set of distinct rows
    least: tuple[str, ...] = ()  # taken by their least
    greatest: tuple[str, ...] = ()  # and their greatest

    @property
    def is_set(self) -> bool:
        return not (self.summed or self.least or self.greatest)


COUNTS = ("requests",)
SENT = ("requests", "bytes")
TABLES = {
    "hours": Table(
        "hourly",
        ("utc_offset",),
        ("requests", "client_errors", "server_errors"),
        ("first",),
        ("last",),
    ),  # fmt: skip
    "hosts": Table("hosts", ("host",), SENT),
    "statuses": Table("statuses", ("status",), COUNTS),
    "urls": Table("urls", ("url",), SENT),
    "url_queries": Table("url_queries", ("url", "query"), ()),
    "durations": Table("durations", ("url", "bucket"), COUNTS),
    "vhosts": Table("vhosts", ("vhost",), SENT),
    "visitors": Table("visitors", ("day", "visitor"), ()),
    "referers": Table("referers", ("referer",), COUNTS),
    "user_agents": Table("user_agents", ("user_agent",), COUNTS),
}
BY = (HOUR,)


def hourly_tables(requests: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The tables (``TABLES``) of parsed requests (``lib.logs.parsing.kinds``' frames, filtered
    as the run says)."""
    frame = with_hour(requests)  # once, for every table
    hosts, hours, urls, queries, durations, vhosts, visitors = _breakdowns(frame, BY)
    pairs = _pairs(frame, BY)
    found = {
        "hours": hours,
        "hosts": hosts,
        "statuses": _count(frame, "status", BY),
        "urls": urls,
        "url_queries": queries,
        "durations": durations,
        "vhosts": vhosts,
        "visitors": visitors,
        "referers": _logged(frame, pairs, "referer", BY),
        "user_agents": _logged(frame, pairs, "user_agent", BY),
    }
    return {name: found[name].select(HOUR, *_columns(TABLES[name])) for name in TABLES}


@cache
def no_tables() -> dict[str, pl.DataFrame]:
    """The tables of no request (a dict of frames shared by every caller: copy to change)."""
    empty, found = LogSummary(), {}
    for name, table in TABLES.items():
        frame = getattr(empty, table.field)
        if name == "hours":
            frame = frame.with_columns(
                *(pl.lit(None, HOUR_TYPE).alias(n) for n in ("first", "last"))
            )
        else:
            frame = frame.select(pl.lit(None, HOUR_TYPE).alias(HOUR), pl.all())
        found[name] = frame.select(HOUR, *_columns(table)).clear()
    return found


def _columns(table: Table) -> tuple[str, ...]:
    return (*table.keys, *table.summed, *table.least, *table.greatest)


PERIODS = {"hour": "1h", "day": "1d", "month": "1mo", "year": "1y"}  # polars' truncations


def add_up(
    rows: pl.DataFrame, name: str, grain: str = "hour", table: Table | None = None
) -> pl.DataFrame:
    """Table ``name``'s ``rows`` (hourly, a key maybe on several rows) added up per ``grain``
    period (``hour`` holding the period's first hour) and key: one row each (a set's
    distinct rows); ``table``: its definition when not ``TABLES``' (other keys)."""
    table = table or TABLES[name]
    if grain != "hour":
        rows = rows.with_columns(pl.col(HOUR).dt.truncate(PERIODS[grain]))
    if table.is_set:
        return rows.unique()
    return rows.group_by(HOUR, *table.keys).agg(
        *(pl.col(c).sum() for c in table.summed),
        *(pl.col(c).min() for c in table.least),
        *(pl.col(c).max() for c in table.greatest),
    )


def stack_tables(parts: list[dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """Tables of pieces of input one after another, not yet added up (the state adds them up
    as it takes them: ``lib.logs.state.store``)."""
    return {name: pl.concat([part[name] for part in parts]) for name in TABLES}


def window_summary(
    tables: dict[str, pl.DataFrame], named: Named | None = None, **scalars
) -> LogSummary:
    """The summary of a window's requests from its tables' rows added up by key (without the
    hour; the hours' table keeps its hours; ``visitor_levels``, per day, its visitors at each
    sample level ``l0``...: lib.logs.state.grains): as a run over those requests alone gives
    it; with ``host_groups`` (``LogSummary.host_groups``: every host counted by place) the
    hosts' rows are only those ``named``. ``scalars`` are the rest of the summary (``lines``,
    ``rejected``, its examples and reasons, ``formats``, ``filtered``: what belongs to the
    files, not the hours)."""
    frames = {
        TABLES[name].field: rows
        for name, rows in tables.items()
        if name in TABLES and name not in ("hours", "visitors")
    }
    hours = tables["hours"]
    requests = int(hours.get_column("requests").sum() or 0)
    level, visitors = _visitor_sample(tables["visitor_levels"])
    groups = tables.get("host_groups")
    every_host = frames["hosts"] if groups is None else groups
    summary = combine([LogSummary(  # unordered: the answers rank, none reads the order
        requests=requests,
        bytes_sent=int(every_host.get_column("bytes").sum() or 0),
        window_hosts=frames["hosts"].select("host", "requests"),
        hourly=hours.drop("first", "last"),
        utc_offsets=hours.group_by("utc_offset").agg(pl.col("requests").sum()),
        first_time=hours.get_column("first").min() if requests else None,
        last_time=hours.get_column("last").max() if requests else None,
        visitor_level=level,
        **frames,
        **scalars,
    )], ordered=False)  # fmt: skip
    return replace(
        summary,
        visitor_level=level,
        visitor_counts=visitors,
        host_groups=groups,
        hosts_named=None if groups is None else named,
    )


def _visitor_sample(levels: pl.DataFrame) -> tuple[int, pl.DataFrame]:
    """The level a run's visitors' sample would have over these days (the lowest whose
    sample fits ``caps.VISITOR_CAP``) and each day's visitors in that sample."""
    counted = [name for name in levels.columns if name != "day"]
    totals = levels.select(pl.col(counted).sum()).row(0) if levels.height else [0] * len(counted)
    level = next(
        (at for at, total in enumerate(totals) if (total or 0) <= caps.VISITOR_CAP),
        len(counted) - 1,
    )
    days = levels.group_by("day").agg(pl.col(f"l{level}").sum().alias("visitors"))
    return level, days
