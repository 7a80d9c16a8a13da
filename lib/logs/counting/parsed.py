"""Summaries of lines parsed by polars: a parser's frames (``lib.logs.parsing.kinds``) counted
into a ``LogSummary``, and a block of lines split, parsed and counted that way."""

from __future__ import annotations

import polars as pl

from lib.logs.counting import bounded
from lib.logs.counting.summary import (
    BYTES,
    MAX_EXAMPLES,
    LogSummary,
    add_counts,
    no_counts,
    no_durations,
    no_reasons,
)
from lib.logs.parsing.formats import FormatChoice
from lib.logs.parsing.kinds.clf import PAIR, split_pairs
from lib.logs.parsing.rejections import rejected_reasons
from lib.logs.parsing.second_chances import parse_with
from lib.logs.reading.lines import block_to_lines
from lib.logs.window import Window


def _inside(window: Window) -> pl.Expr:
    """A polars predicate on the ``time`` column: inside ``window``."""
    return (pl.col("time") >= window.start) & (pl.col("time") < window.end)


def _count(frame: pl.DataFrame, key: str, by: tuple[str, ...] = ()) -> pl.DataFrame:
    return frame.group_by(*by, key).agg(pl.len().cast(pl.UInt64).alias("requests"))


def summarize_parsed(
    lines: int,
    requests: pl.DataFrame,
    rejected: pl.DataFrame,
    window: Window,
    formats: dict[str, int] | None = None,
    shape: str | None = None,
) -> LogSummary:
    """The summary of one block's parsed lines (``requests`` and ``rejected`` as
    ``lib.logs.parsing.kinds`` describes them; ``lines`` in all); ``formats`` counts its
    requests per format (default: all in an unnamed one); ``shape``, the file's format's
    pattern, tells the rejected lines' reasons apart (``lib.logs.parsing.rejections``)."""
    per_format = pl.DataFrame(
        {"format": list(formats or {}), "requests": list((formats or {}).values())},
        schema={"format": pl.String, "requests": pl.UInt64},
    )
    examples = rejected.head(MAX_EXAMPLES).select(
        pl.lit(None, pl.String).alias("file"), "line_no", "line"
    )
    reasons = rejected_reasons(rejected, shape) if rejected.height else no_reasons()
    filtered = 0
    if window.only.active and requests.height:
        kept = window.only.keep(requests, window)
        filtered, requests = requests.height - kept.height, kept
    if requests.is_empty():  # often (a block's left-over lines): no group-bys of nothing
        return LogSummary(
            lines=lines,
            rejected=rejected.height,
            rejected_examples=examples,
            formats=per_format,
            rejected_reasons=reasons,
            filtered=filtered,
        )
    times = requests.get_column("time")
    pairs = _pairs(requests)
    hosts, hourly, urls, queries, durations, vhosts, visitors = _breakdowns(requests)
    return LogSummary(
        lines=lines,
        requests=requests.height,
        rejected=rejected.height,
        rejected_examples=examples,
        bytes_sent=int(requests.get_column("bytes").sum() or 0),
        hosts=hosts,
        window_hosts=_count(requests.filter(_inside(window)), "host"),
        hourly=hourly,
        urls=urls,
        url_queries=queries,
        durations=durations,
        vhosts=vhosts,
        visitors=visitors,
        statuses=_count(requests, "status"),
        utc_offsets=_count(requests, "utc_offset"),
        formats=per_format,
        referers=_logged(requests, pairs, "referer"),
        user_agents=_logged(requests, pairs, "user_agent"),
        rejected_reasons=reasons,
        first_time=times.min(),
        last_time=times.max(),
        filtered=filtered,
    )


HOUR = "hour"  # what ``by`` may name: each request's hour (UTC)
HOUR_TYPE = pl.Datetime("us", "UTC")


def with_hour(requests: pl.DataFrame | pl.LazyFrame):
    """``requests`` (a frame, or a lazy one) with each one's hour (UTC) as column ``HOUR``,
    unless it has it."""
    if HOUR in requests.collect_schema().names():
        return requests
    return requests.with_columns(pl.col("time").dt.truncate("1h").alias(HOUR))


def _breakdowns(requests: pl.DataFrame, by: tuple[str, ...] = ()) -> list[pl.DataFrame]:
    """Requests and bytes per host; requests, 4xx and 5xx per hour and offset; requests and
    bytes per URL
    (the path without its query), the URLs' distinct queries (hashed), their times taken (in
    buckets) where the format logs one; requests and bytes per virtual host where it logs one;
    the day's distinct visitors (client and user agent, hashed). As ``LogSummary`` holds them
    (``lib.logs.counting.bounded`` says how); with ``by`` (``(HOUR,)``) each frame is also cut
    by hour (its first column), and the hours' frame says each hour's first and last time."""
    sent = pl.col("bytes").sum()
    status = pl.col("status")
    cut = pl.col("path").str.splitn("?", 2)
    frame = with_hour(requests.lazy()).with_columns(
        cut.struct.field("field_0").alias("url"), cut.struct.field("field_1").alias("query")
    )
    agent = pl.col("user_agent") if "user_agent" in requests.columns else pl.lit(None, pl.String)
    bounds = [pl.col("time").min().alias("first"), pl.col("time").max().alias("last")]
    found = [
        frame.group_by(*by, "host").agg(_LEN, sent),
        frame.group_by(HOUR, "utc_offset").agg(
            _LEN,
            status.is_between(400, 499).sum().cast(pl.UInt64).alias("client_errors"),
            status.is_between(500, 599).sum().cast(pl.UInt64).alias("server_errors"),
            *(bounds if by else ()),
        ),
        frame.group_by(*by, "url").agg(_LEN, sent),
        frame.filter(pl.col("query").is_not_null())
        .select(*by, "url", bounded.query_key(pl.col("url"), pl.col("query")).alias("query"))
        .unique(),
    ]
    if "duration_us" in requests.columns:
        timed = frame.filter(pl.col("duration_us").is_not_null())
        bucket = bounded.duration_bucket(pl.col("duration_us")).alias("bucket")
        found.append(timed.group_by(*by, "url", bucket).agg(_LEN))
    else:
        found.append(_with_by(no_durations(), by).lazy())
    if "vhost" in requests.columns:  # the lines that log one (a block may mix formats)
        found.append(frame.drop_nulls("vhost").group_by(*by, "vhost").agg(_LEN, sent))
    else:
        found.append(_with_by(no_counts("vhost", pl.String, BYTES), by).lazy())
    day = pl.col("time").dt.date()
    visitor = bounded.visitor_key(day, pl.col("host"), agent).alias("visitor")
    found.append(frame.select(*by, day.alias("day"), visitor).unique())
    found = pl.collect_all(found)
    for at, column in ((3, "query"), (-1, "visitor")):  # the distinct keys, hashed
        found[at] = found[at].with_columns(bounded.key_hashes(found[at].get_column(column)))
    return found


_LEN = pl.len().cast(pl.UInt64).alias("requests")


def _with_by(empty: pl.DataFrame, by: tuple[str, ...]) -> pl.DataFrame:
    """An empty count frame with the ``by`` columns first."""
    return empty.select(*(pl.lit(None, HOUR_TYPE).alias(name) for name in by), pl.all())


def _pairs(requests: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame | None:
    """``referer``, ``user_agent``, ``requests``: the Combined format's referer and agent, cut
    from each distinct pair of the block (far fewer than its lines), or None if it has none."""
    if PAIR not in requests.columns:
        return None
    counts = requests.group_by(*by, PAIR).agg(pl.len().cast(pl.UInt64).alias("requests"))
    return split_pairs(counts).select(*by, "referer", "user_agent", "requests")


def _logged(
    requests: pl.DataFrame, pairs: pl.DataFrame | None, key: str, by: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Requests per value of a field some formats log: from the block's referer/agent pairs and
    from the column itself, whichever the block's formats wrote (empty if none)."""
    parts = [_with_by(no_counts(key, pl.String), by)]
    if pairs is not None:
        parts.append(pairs.select(*by, key, "requests").drop_nulls(key))
    if key in requests.columns:  # the key alone: cheaper
        parts.append(_count(requests.select(*by, key).drop_nulls(key), key, by))
    keys = [*by, key]
    return parts[0] if len(parts) == 1 else add_counts(parts, keys, ordered=False)


def summarize_lines(block: bytes, window: Window, choice: FormatChoice) -> LogSummary:
    """The summary of a block of whole lines (``lib.logs.reading.blocks.iter_blocks``) through
    polars alone: every line split, parsed as ``choice`` says and counted; the rejected
    examples' line numbers count from the block's first line."""
    lines = block_to_lines(block)
    requests, rejected, formats = parse_with(choice, lines, 1, request_parts=True)
    shape = choice.primary.pattern or None
    return summarize_parsed(lines.len(), requests, rejected, window, formats, shape)
