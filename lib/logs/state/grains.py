"""The SQL of a state's counts at four grains, so that a long window reads few rows.

Every count table (``lib.logs.counting.hourly.TABLES``; ``STORED``: the hosts by number) is
kept per hour, and but for the hours' own table and the visitors, per day, month and year too
(``hosts``, ``hosts_by_day``, ``hosts_by_month``, ``hosts_by_year``: the same columns, ``hour``
holding the period's first hour, UTC). A window is read from the periods
``lib.logs.state.periods.cover`` chooses, each added or taken away: a year is one year's rows,
not 8,760 hours'.

Visitors are counted per day (the visitor's key holds the day), so a day's count adds up, but
the sample a run keeps (``lib.logs.counting.bounded``: hashes below ``2**(64 - level)``) is
chosen over the whole window. So each day rolled up (``lib.logs.state.store``: a day once
the last two held are after it) keeps its distinct visitors at each level up to
``MAX_LEVEL`` (``visitor_days``), from which a window's level and counts are read as a run
would take them, without a row per visitor; the last days, and the hours at a window's
edges, are counted from their visitors' hashes (a run that reads a little then counts no
day again: a window counts those days beside its other queries).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import polars as pl

from lib.logs.counting.hourly import TABLES, Table, no_tables
from lib.logs.counting.parsed import HOUR
from lib.logs.state.periods import GRAINS, Part

# kept per hour alone: the hours' own table, the visitors (counted per day apart), and the
# statuses (a few a hour: a year's hours are a few tens of thousands of rows)
ONLY_HOURLY = ("hours", "visitors", "statuses")
# The hosts' tables hold a host by its number in the places table (``host_places``: each host
# once, with its offline country), not by its name: a window adds a host's rows up by an integer
# and joins its name and country by one, twice as fast as by the name (docs/benchmarks.md).
HOST_ID = "host_id"
STORED = {**TABLES, "hosts": replace(TABLES["hosts"], keys=(HOST_ID,))}


def stored_columns(name: str) -> dict[str, pl.DataType]:
    """Table ``name``'s columns in a state, in order, and their types."""
    schema = dict(no_tables()[name].schema)
    if name == "hosts":
        schema = {(HOST_ID if c == "host" else c): t for c, t in schema.items()}
        schema[HOST_ID] = pl.UInt32
    return schema


MAX_LEVEL = 24  # visitor sample levels counted per day: 2**24 times the cap is never reached
_SUFFIX = {"hour": "", "day": "_by_day", "month": "_by_month", "year": "_by_year"}


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


def window_query(name: str, types: dict[str, str], parts: list[Part]) -> tuple[str, list]:
    """SQL and its parameters: ``name``'s counts over ``parts`` (``periods.cover``; the hours'
    table and the visitors': one part of hours) added up by key, the periods taken away
    subtracted (a key left with no request is not a row); the hours' table keeps its hours; a
    set's distinct rows."""
    table = STORED[name]
    keys = (HOUR, *table.keys) if name == "hours" else table.keys
    listed = ", ".join(quoted(k) for k in keys)
    terms, params = [], []
    for part in parts:
        params += [part.start, part.end]
        low, high = f"${len(params) - 1}", f"${len(params)}"
        terms.append(
            f"SELECT *, {part.sign} AS _sign FROM {table_name(name, part.grain)} "
            f"WHERE {HOUR} >= {low} AND {HOUR} < {high}"
        )
    rows = " UNION ALL ".join(terms)
    if table.is_set:
        return f"SELECT DISTINCT {listed} FROM ({rows})", params
    if all(part.sign > 0 for part in parts):
        return f"SELECT {listed}, {totals(table, types)} FROM ({rows}) GROUP BY {listed}", params
    signed = ", ".join(
        f"CAST(sum(_sign * CAST({quoted(c)} AS HUGEINT)) AS {types[c]}) AS {quoted(c)}"
        for c in table.summed
    )
    kept = "sum(_sign * CAST(requests AS HUGEINT)) > 0"
    return f"SELECT {listed}, {signed} FROM ({rows}) GROUP BY {listed} HAVING {kept}", params


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
    """SQL that counts again the days ``$1`` (a list of dates, the least ``$2`` and the greatest
    ``$3``): the range lets DuckDB read only the row groups of those days (the table is in hour
    order), which a list alone, or a subquery, did not (8.6 against 5.4 ms for a day)."""
    return _recount("day >= $2 AND day <= $3 AND list_contains($1, day)")


def count_visitor_days() -> list[str]:
    """SQL that counts (again) the days from ``$1`` to before ``$2`` (dates)."""
    return _recount("day >= $1 AND day < $2")


def _recount(days: str) -> list[str]:
    source = f"SELECT DISTINCT day, visitor FROM visitors WHERE {days}"
    return [
        f"DELETE FROM {VISITOR_DAYS} WHERE {days}",
        f"INSERT INTO {VISITOR_DAYS} {level_counts(source)}",
    ]


def window_visitor_levels(parts: list[Part], counted: datetime | None) -> tuple[str, list]:
    """SQL and its parameters: per day of a window, its visitors at each level: the days of
    ``parts`` (``periods.cover`` over days and hours, added only) before ``counted`` (the day
    up to which ``visitor_days`` holds them; None: no day) from ``visitor_days``; the days
    from it on, and the days the window cuts, from the visitors of their hours."""
    whole, cut, params = [], [], []
    for part in _days_counted(parts, counted):
        params += [part.start, part.end]
        low, high = f"${len(params) - 1}", f"${len(params)}"
        if part.grain == "day":
            whole.append(f"(day >= CAST({low} AS DATE) AND day < CAST({high} AS DATE))")
        else:
            cut.append(f"({HOUR} >= {low} AND {HOUR} < {high})")
    terms = []
    if whole:
        terms.append(f"SELECT * FROM {VISITOR_DAYS} WHERE {' OR '.join(whole)}")
    if cut:
        source = f"SELECT DISTINCT day, visitor FROM visitors WHERE {' OR '.join(cut)}"
        terms.append(level_counts(source))
    if not terms:
        terms.append(f"SELECT * FROM {VISITOR_DAYS} WHERE false")
    return " UNION ALL ".join(terms), params


def _days_counted(parts: list[Part], counted: datetime | None) -> list[Part]:
    """``parts`` with the days from ``counted`` on (a day's first hour) read as hours."""
    found = []
    for part in parts:
        if part.grain != "day" or (counted is not None and part.end <= counted):
            found.append(part)
            continue
        cut = part.start if counted is None else max(part.start, counted)
        if cut > part.start:
            found.append(replace(part, end=cut))
        found.append(replace(part, grain="hour", start=cut))
    return found
