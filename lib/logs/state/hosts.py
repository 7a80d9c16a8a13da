"""A window's hosts as the answers need them, in SQL: the hosts they name, and every host
counted by its offline place.

A month of the NASA log holds 75,776 hosts. Handing each to Python (its name, country and
method) and attributing them there cost more than anything else in a run that reads little
(docs/benchmarks.md), while the answers name few of them: the top hosts, the busiest by bytes,
and the busiest that the offline tiers left (DNS asks those). The rest enter the answers only
as sums per country and method (``lib.logs.geo.attribution.place_groups``), which SQL gives.
What is handed over is ``Named``'s hosts (with their places) and the groups; the answers are
those of every host (``lib.logs.geo.attribution.attribute`` with ``groups``).
"""

from __future__ import annotations

import polars as pl

from lib.logs.counting.ranking import Named
from lib.logs.geo.attribution import ip_like_sql


def _busiest(rows: str, by: str, n: int) -> str:
    """SQL: ``lib.logs.counting.ranking.busiest``'s rows (``n`` of most ``by``, ties by host,
    nulls last)."""
    return f"(SELECT * FROM {rows} ORDER BY {by} DESC NULLS LAST, host ASC NULLS LAST LIMIT {n})"


def hosts_query(window: str, places: str, named: Named) -> str:
    """One query over ``window`` (SQL: a window's hosts by number, ``host_id``, with their
    ``requests`` and ``bytes``) joined with the places table ``places`` (``id``, ``host``,
    ``country``, ``method``), taking ``window``'s parameters: rows ``host``, ``country``,
    ``method``, ``hosts``, ``requests``, ``bytes``, which ``split`` parts into the ``named``
    hosts and every host counted by place. One pass: the join is made once (two queries, or
    one without ``MATERIALIZED``, made it once for each part: 37 against 21 ms a month)."""
    unattributed = f"(SELECT * FROM j WHERE method IS NULL AND NOT {ip_like_sql('host')})"
    chosen = [
        _busiest("j", "requests", max(0, int(named.by_requests))),
        _busiest("j", "bytes", max(0, int(named.by_bytes))),
        _busiest(unattributed, "requests", max(0, int(named.unattributed))),
    ]
    if named.every_unattributed:
        chosen.append("(SELECT * FROM j WHERE method IS NULL)")
    return (
        "WITH j AS MATERIALIZED (SELECT p.host, w.requests, w.bytes, p.country, p.method "
        f"FROM ({window}) w JOIN {places} p ON p.id = w.host_id) "
        "SELECT CAST(NULL AS VARCHAR) AS host, country, method, "
        "CAST(count(*) AS BIGINT) AS hosts, CAST(sum(requests) AS UBIGINT) AS requests, "
        "CAST(sum(bytes) AS BIGINT) AS bytes FROM j GROUP BY country, method UNION ALL "
        "SELECT host, country, method, CAST(NULL AS BIGINT), requests, bytes "
        f"FROM ({' UNION '.join(chosen)})"
    )


# hosts_query's rows: a named host's (hosts null), or a place's (host null)
HOST_ROWS = {"host": pl.String, "country": pl.String, "method": pl.String, "hosts": pl.Int64,
             "requests": pl.UInt64, "bytes": pl.Int64}  # fmt: skip


def split(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``hosts_query``'s rows parted: the named hosts (``host``, ``requests``, ``bytes``,
    ``country``, ``method``) and the groups (``country``, ``method``, ``hosts``,
    ``requests``, ``bytes``)."""
    named = rows.filter(pl.col("hosts").is_null())
    groups = rows.filter(pl.col("hosts").is_not_null())
    return (
        named.select("host", "requests", "bytes", "country", "method"),
        groups.select("country", "method", "hosts", "requests", "bytes"),
    )


DEFAULT = Named()  # what Q1's answers name with their default settings
