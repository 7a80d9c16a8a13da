"""The SQL of a state's counts at three grains, so that a long window reads few rows.

Every count table (``lib.logs.counting.hourly.TABLES``) is kept per hour, and but for the hours'
own table and the visitors, per day and per month too (``hosts``, ``hosts_by_day``,
``hosts_by_month``: the same columns, ``hour`` holding the period's first hour, UTC). A window
``[start, end)`` of whole hours is cut into the months it holds whole, the days it holds whole
outside them, and the hours left (``Cut``): a year is 12 months' rows, not 8,760 hours'.

Visitors are counted per day (the visitor's key holds the day), so a day's count adds up, but
the sample a run keeps (``lib.logs.counting.bounded``: hashes below ``2**(64 - level)``) is
chosen over the whole window. So each day keeps its distinct visitors at each level up to
``MAX_LEVEL`` (``visitor_days``), from which a window's level and counts are read as a run
would take them, without a row per visitor; the hours at a window's edges are counted from
their visitors' hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lib.logs.counting.hourly import TABLES, Table
from lib.logs.counting.parsed import HOUR

GRAINS = ("hour", "day", "month")
ONLY_HOURLY = ("hours", "visitors")  # kept per hour alone
MAX_LEVEL = 24  # visitor sample levels counted per day: 2**24 times the cap is never reached
_SUFFIX = {"hour": "", "day": "_by_day", "month": "_by_month"}


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grains_of(name: str) -> tuple[str, ...]:
    return ("hour",) if name in ONLY_HOURLY else GRAINS


def table_name(name: str, grain: str) -> str:
    return name + _SUFFIX[grain]


def totals(table: Table, types: dict[str, str]) -> str:
    """The SQL that adds a table's counted columns up, each cast back to its type."""
    found = []
    for how, names in (("sum", table.summed), ("min", table.least), ("max", table.greatest)):
        for name in names:
            found.append(f"CAST({how}({quoted(name)}) AS {types[name]}) AS {quoted(name)}")
    return ", ".join(found)


def merge_statements(name: str, grain: str, types: dict[str, str]) -> list[str]:
    """SQL that merges the rows of ``_new`` (hourly) into ``name``'s table at ``grain``: added
    up by period and key first, then added to the rows the table holds for those keys, the
    keys it lacks inserted (the table's rows outside them are not touched). A statement that
    says $1 and $2 takes the new rows' first and last hour."""
    table, target = TABLES[name], table_name(name, grain)
    period = f"date_trunc('{grain}', {HOUR})" if grain != "hour" else HOUR
    keys = (HOUR, *table.keys)
    listed = ", ".join(quoted(k) for k in keys)
    new = f"SELECT {period} AS {HOUR}, * EXCLUDE ({HOUR}) FROM _new"
    same = " AND ".join(f"t.{quoted(k)} IS NOT DISTINCT FROM a.{quoted(k)}" for k in keys)
    # the periods $1 <= hour <= $2 (the new rows' first and last), which the table's zone
    # maps find without reading the rest
    same += f" AND t.{HOUR} >= date_trunc('{grain}', CAST($1 AS TIMESTAMPTZ)) AND t.{HOUR} <= $2"
    if table.is_set:
        return [
            f"CREATE OR REPLACE TEMP TABLE _add AS SELECT DISTINCT * FROM ({new})",
            f"INSERT INTO {target} BY NAME SELECT a.* FROM _add a ANTI JOIN {target} t ON {same}",
        ]
    updates = ", ".join(
        f"{quoted(c)} = " + (
            f"t.{quoted(c)} + a.{quoted(c)}" if c in table.summed
            else f"least(t.{quoted(c)}, a.{quoted(c)})" if c in table.least
            else f"greatest(t.{quoted(c)}, a.{quoted(c)})"
        )
        for c in (*table.summed, *table.least, *table.greatest)
    )  # fmt: skip
    return [
        f"CREATE OR REPLACE TEMP TABLE _add AS SELECT {listed}, {totals(table, types)} "
        f"FROM ({new}) GROUP BY {listed}",
        f"UPDATE {target} t SET {updates} FROM _add a WHERE {same}",
        f"INSERT INTO {target} BY NAME SELECT a.* FROM _add a ANTI JOIN {target} t ON {same}",
    ]


@dataclass(frozen=True)
class Cut:
    """A window ``[start, end)`` of whole hours cut into the months it holds whole
    (``[months_start, months_end)``), the days it holds whole (``[days_start, days_end)``,
    around the months) and the hours left at each end. Plain ranges: the tables' zone maps
    skip what lies outside them."""

    start: datetime
    end: datetime
    days_start: datetime
    days_end: datetime
    months_start: datetime
    months_end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Cut:
        days_start, days_end = _ceil_day(start), _floor_day(end)
        if days_start >= days_end:
            return cls(start, end, start, start, start, start)
        months_start, months_end = _ceil_month(days_start), _floor_month(days_end)
        if months_start >= months_end:
            months_start = months_end = days_start
        return cls(start, end, days_start, days_end, months_start, months_end)

    def params(self, name: str | None = None) -> list[datetime]:
        """$1 ... $6 of ``window_rows``' SQL (for a table kept per hour alone, $1 and $2)."""
        if name in ONLY_HOURLY:
            return [self.start, self.end]
        if name == VISITOR_DAYS:  # window_visitor_levels
            return [self.start, self.end, self.days_start, self.days_end]
        return [self.start, self.end, self.days_start, self.days_end, self.months_start,
                self.months_end]  # fmt: skip


def _floor_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else _later(floor, days=1)


def _floor_month(moment: datetime) -> datetime:
    return _floor_day(moment).replace(day=1)


def _ceil_month(moment: datetime) -> datetime:
    floor = _floor_month(moment)
    if floor == moment:
        return floor
    year, month = (floor.year + 1, 1) if floor.month == 12 else (floor.year, floor.month + 1)
    return floor.replace(year=year, month=month) if year <= 9999 else floor


def _later(moment: datetime, days: int) -> datetime:
    try:
        return moment + timedelta(days=days)
    except OverflowError:
        return moment


def _between(low: str, high: str) -> str:
    return f"({HOUR} >= {low} AND {HOUR} < {high})"


def window_rows(name: str) -> str:
    """SQL: ``name``'s rows of a window (``Cut.params``: $1 start, $2 end, $3 and $4 the whole
    days, $5 and $6 the whole months), each period once, at the coarsest grain it is whole
    in."""
    if name in ONLY_HOURLY:
        return f"SELECT * FROM {name} WHERE {_between('$1', '$2')}"
    return (
        f"SELECT * FROM {table_name(name, 'month')} WHERE {_between('$5', '$6')} "
        f"UNION ALL SELECT * FROM {table_name(name, 'day')} "
        f"WHERE {_between('$3', '$5')} OR {_between('$6', '$4')} "
        f"UNION ALL SELECT * FROM {name} WHERE {_between('$1', '$3')} OR {_between('$4', '$2')}"
    )


def window_query(name: str, types: dict[str, str]) -> str:
    """SQL: ``name``'s counts in the window ($1, $2) added up by key (the hours' table keeps
    its hours; a set's distinct rows)."""
    table = TABLES[name]
    keys = (HOUR, *table.keys) if name == "hours" else table.keys
    listed = ", ".join(quoted(k) for k in keys)
    rows = window_rows(name)
    if table.is_set:
        return f"SELECT DISTINCT {listed} FROM ({rows})"
    return f"SELECT {listed}, {totals(table, types)} FROM ({rows}) GROUP BY {listed}"


def level_counts(source: str) -> str:
    """SQL: per day of ``source`` (rows of day, visitor, distinct), how many of its visitors
    each sample level keeps: columns ``day``, ``l0`` ... ``l{MAX_LEVEL}``."""
    levels = ", ".join(
        f"CAST(count(*) FILTER (WHERE visitor < {1 << (64 - level)}) AS UBIGINT) AS l{level}"
        if level
        else "CAST(count(*) AS UBIGINT) AS l0"
        for level in range(MAX_LEVEL + 1)
    )
    return f"SELECT day, {levels} FROM ({source}) GROUP BY day"


VISITOR_DAYS = "visitor_days"  # day, l0 ... l24: a day's distinct visitors kept at each level


def visitor_days_table() -> str:
    levels = ", ".join(f"l{level} UBIGINT" for level in range(MAX_LEVEL + 1))
    return f"CREATE TABLE {VISITOR_DAYS} (day DATE, {levels})"


def recount_visitor_days() -> list[str]:
    """SQL that counts again the days ``_new`` (hourly visitors) touches."""
    days = "day IN (SELECT DISTINCT day FROM _new)"
    source = f"SELECT DISTINCT day, visitor FROM visitors WHERE {days}"
    return [
        f"DELETE FROM {VISITOR_DAYS} WHERE {days}",
        f"INSERT INTO {VISITOR_DAYS} {level_counts(source)}",
    ]


def window_visitor_levels() -> str:
    """SQL: per day of a window (``Cut.params``), its visitors at each level: whole days from
    ``visitor_days``, the days it cuts from the visitors of its hours."""
    days = "day >= CAST($3 AS DATE) AND day < CAST($4 AS DATE)"
    cut = (
        f"SELECT DISTINCT day, visitor FROM visitors "
        f"WHERE {_between('$1', '$3')} OR {_between('$4', '$2')}"
    )
    return f"SELECT * FROM {VISITOR_DAYS} WHERE {days} UNION ALL {level_counts(cut)}"
