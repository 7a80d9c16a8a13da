"""The operator's breakdowns of a run, from its summary: the busiest URLs (with their distinct
queries and times taken), bytes by host and by URL, response-time percentiles, virtual hosts,
unique visitors per day, and requests with their 4xx and 5xx per hour. Each as ``results.json``
holds it (``docs/q1-results.schema.json``); pure functions of a ``LogSummary``.
"""

from __future__ import annotations

import polars as pl

from lib.logs.counting import bounded
from lib.logs.counting.ranking import busiest
from lib.logs.counting.summary import LogSummary, per_hour

TOP_URLS = 10  # URLs, hosts by bytes and virtual hosts listed
PERCENTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p99_ms": 0.99}
PRECISION = bounded.GAMMA**0.5 - 1  # of a percentile, relative


def breakdowns(summary: LogSummary, n: int = TOP_URLS) -> dict:
    """Every breakdown, keyed as in ``results.json``."""
    return {
        "top_urls": top_urls(summary, n),
        "top_urls_by_bytes": _ranked(summary.urls, "url", n, by="bytes"),
        "urls": {
            "distinct": summary.urls.height if not summary.url_error else None,
            "listed_exactly": summary.url_error == 0,
            "count_error_at_most": summary.url_error,
        },
        "top_hosts_by_bytes": _ranked(summary.hosts, "host", n, by="bytes"),
        "response_times": response_times(summary),
        "vhosts": _ranked(summary.vhosts, "vhost", n) if summary.vhosts.height else None,
        "unique_visitors": unique_visitors(summary),
        "hourly": hourly(summary),
    }


def top_urls(summary: LogSummary, n: int = TOP_URLS) -> list[dict]:
    """The ``n`` busiest URLs (the path without its query; null for a request with none): their
    requests, bytes, distinct queries and, where the format logs the time taken, percentiles."""
    rows = _ranked(summary.urls, "url", n)
    if not rows:
        return rows
    listed = pl.DataFrame({"url": [row["url"] for row in rows]}, schema={"url": pl.String})
    queries = dict(
        summary.url_queries.join(listed, on="url", how="semi", nulls_equal=True)
        .group_by("url")
        .len()
        .iter_rows()
    )
    timed = summary.durations.join(listed, on="url", how="semi", nulls_equal=True)
    for row in rows:
        sampled = queries.get(row["url"], 0)
        row["distinct_queries"] = bounded.estimate(sampled, summary.query_level)
        row["distinct_queries_exact"] = summary.query_level == 0
        if summary.durations.height:
            own = timed.filter(pl.col("url").eq_missing(row["url"]))
            row.update(_percentiles(own))
    return rows


def response_times(summary: LogSummary) -> dict | None:
    """Percentiles of the time taken over every request that logs one; None when the log's
    formats log none."""
    if summary.durations.is_empty():
        return None
    timed = int(summary.durations.get_column("requests").sum())
    return {"timed_requests": timed, **_percentiles(summary.durations), "precision": PRECISION}


def unique_visitors(summary: LogSummary) -> dict:
    """Distinct visitors (client and user agent) per day (UTC), and their sum over the days (as
    GoAccess counts them: one visitor on two days is two)."""
    if summary.visitor_counts is not None:
        days = summary.visitor_counts.filter(pl.col("visitors") > 0).sort("day")
    else:
        days = summary.visitors.group_by("day").len().sort("day")
    per_day = {
        day.isoformat(): bounded.estimate(count, summary.visitor_level)
        for day, count in days.iter_rows()
    }
    return {
        "total": sum(per_day.values()),
        "per_day": per_day,
        "exact": summary.visitor_level == 0,
        "days_in": "UTC",
    }


def hourly(summary: LogSummary) -> list[dict]:
    """Requests, 4xx and 5xx per hour (UTC), each hour that holds a request, in order."""
    return [
        {
            "hour": hour.isoformat(),
            "requests": int(requests),
            "client_errors": int(client),
            "server_errors": int(server),
        }
        for hour, requests, client, server in per_hour(summary.hourly)
        .select("hour", "requests", "client_errors", "server_errors")
        .iter_rows()
    ]


def _percentiles(buckets: pl.DataFrame) -> dict:
    found = bounded.percentiles(buckets, tuple(PERCENTILES.values()))
    return {
        name: None if value is None else round(value / 1000, 3)
        for name, value in zip(PERCENTILES, found, strict=True)
    }


def _ranked(counts: pl.DataFrame, key: str, n: int, by: str = "requests") -> list[dict]:
    """The ``n`` rows of most ``by`` (``requests`` or ``bytes``; ties by ``key``): ``key``,
    ``by``, then the other of the two."""
    other = "bytes" if by == "requests" else "requests"
    top = busiest(counts, n, key, by)
    return [
        {key: value, by: int(first or 0), other: int(second or 0)}
        for value, first, second in top.select(key, by, other).iter_rows()
    ]
