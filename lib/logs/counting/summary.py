"""What one pass over a log yields, and how summaries of separate pieces combine, exactly.

A ``LogSummary`` holds counts only (per host, per host inside the window, per hour, per status,
...), so a month of logs fits in a few megabytes however large the input. ``combine`` merges
summaries of disjoint pieces: the same result whatever the split or the order. A piece's blocks
are kept in order by ``BlockSequence`` (each rejected example numbered from the piece's first
line); ``PartitionMerger`` combines pieces arriving in any order (each example numbered from its
file's first line). Pure functions of frames: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import polars as pl

from lib.errors import ConfigError
from lib.logs.counting import bounded, caps
from lib.logs.counting.ranking import Named, busiest
from lib.logs.reading.partitions import Partition

MAX_EXAMPLES = 10  # rejected lines kept verbatim, the first ones by line number
_MERGE_EVERY = 8  # block summaries held before they are merged


UTC_TIME = pl.Datetime("us", "UTC")
EXAMPLE_SCHEMA = {"file": pl.String, "line_no": pl.UInt64, "line": pl.String}


def no_examples() -> pl.DataFrame:
    return pl.DataFrame(schema=EXAMPLE_SCHEMA)


BYTES = {"bytes": pl.Int64}  # bytes sent, beside the requests
ERRORS = {"client_errors": pl.UInt64, "server_errors": pl.UInt64}  # 4xx and 5xx, beside them


def no_counts(key: str, dtype: pl.DataType, more: dict | None = None) -> pl.DataFrame:
    return pl.DataFrame(schema={key: dtype, "requests": pl.UInt64, **(more or {})})


def no_hours() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"hour": UTC_TIME, "utc_offset": pl.String, "requests": pl.UInt64, **ERRORS}
    )


COUNTED = ("requests", "client_errors", "server_errors")  # an hour's counts, added up


def per_hour(hourly: pl.DataFrame) -> pl.DataFrame:
    """``hourly`` (``LogSummary.hourly``) summed over its offsets: one row per hour, in order."""
    if "utc_offset" not in hourly.columns:
        return hourly.sort("hour")
    summed = [name for name in COUNTED if name in hourly.columns]
    return hourly.group_by("hour").agg(pl.col(summed).sum()).sort("hour")


def no_hashes(key: str, dtype: pl.DataType) -> pl.DataFrame:
    """A sample of distinct hashes per ``key``: the second column is the hash."""
    value = "query" if key == "url" else "visitor"
    return pl.DataFrame(schema={key: dtype, value: pl.UInt64})


def no_durations() -> pl.DataFrame:
    return pl.DataFrame(schema={"url": pl.String, "bucket": pl.Int16, "requests": pl.UInt64})


def no_reasons() -> pl.DataFrame:
    return pl.DataFrame(schema={"reason": pl.String, "lines": pl.UInt64})


@dataclass(frozen=True)
class LogSummary:
    """What one pass over a log yields. Every count frame has one row per key and a count
    column: ``requests`` (``lines`` for the rejected lines' reasons)."""

    lines: int = 0
    requests: int = 0
    rejected: int = 0
    rejected_examples: pl.DataFrame = field(default_factory=no_examples)  # file, line_no, line
    bytes_sent: int = 0
    hosts: pl.DataFrame = field(default_factory=lambda: no_counts("host", pl.String, BYTES))
    window_hosts: pl.DataFrame = field(default_factory=lambda: no_counts("host", pl.String))
    # hour, utc_offset (as the server wrote it: a log across a daylight-saving change has both
    # in its hours), requests, client_errors (4xx), server_errors (5xx)
    hourly: pl.DataFrame = field(default_factory=no_hours)
    statuses: pl.DataFrame = field(default_factory=lambda: no_counts("status", pl.UInt16))
    utc_offsets: pl.DataFrame = field(default_factory=lambda: no_counts("utc_offset", pl.String))
    formats: pl.DataFrame = field(default_factory=lambda: no_counts("format", pl.String))
    referers: pl.DataFrame = field(default_factory=lambda: no_counts("referer", pl.String))
    user_agents: pl.DataFrame = field(default_factory=lambda: no_counts("user_agent", pl.String))
    # why lines were rejected: reason, lines (lib.logs.parsing.rejections)
    rejected_reasons: pl.DataFrame = field(default_factory=no_reasons)
    # The breakdowns (lib.logs.counting.bounded keeps their memory bounded):
    # url (the path without its query), requests, bytes: at most caps.URL_CAP urls, each
    # count short by at most url_error (0: exact)
    urls: pl.DataFrame = field(default_factory=lambda: no_counts("url", pl.String, BYTES))
    url_error: int = 0
    # url, query (a hash of it): the distinct queries of each url, a 1 in 2**query_level sample
    url_queries: pl.DataFrame = field(default_factory=lambda: no_hashes("url", pl.String))
    query_level: int = 0
    # url, bucket (bounded.duration_bucket of the time taken), requests: where the format logs it
    durations: pl.DataFrame = field(default_factory=no_durations)
    vhosts: pl.DataFrame = field(default_factory=lambda: no_counts("vhost", pl.String, BYTES))
    # day (UTC), visitor (a hash of client and user agent), a 1 in 2**visitor_level sample
    visitors: pl.DataFrame = field(default_factory=lambda: no_hashes("day", pl.Date))
    visitor_level: int = 0
    # day, visitors: the sample's visitors per day counted already (a state directory's window:
    # lib.logs.state), in place of ``visitors``' rows; None: count ``visitors``
    visitor_counts: pl.DataFrame | None = None
    # country, method, hosts, requests, bytes: every host counted by its offline place (a
    # state directory's window: lib.logs.state), ``hosts`` and ``window_hosts`` then holding
    # only the hosts an answer names or a later attribution tier may change; None: they hold
    # every host
    host_groups: pl.DataFrame | None = None
    hosts_named: Named | None = None  # with host_groups: which hosts ``hosts`` holds
    first_time: datetime | None = None  # the earliest request's time (UTC)
    last_time: datetime | None = None
    filtered: int = 0  # requests read and left out by the run's filters (lib.logs.filters)

    @property
    def window_requests(self) -> int:
        """The requests of the hosts' window (all of them when the window applies to every
        answer, as in a state directory's)."""
        if self.host_groups is not None:
            return int(self.host_groups.get_column("requests").sum() or 0)
        return int(self.window_hosts.get_column("requests").sum() or 0)

    @property
    def utc_offset(self) -> str | None:
        """The offset the server wrote most often (e.g. ``-0400``)."""
        if self.utc_offsets.is_empty():
            return None
        top = self.utc_offsets.sort(["requests", "utc_offset"], descending=[True, False])
        return top.item(0, "utc_offset")


def add_counts(frames: list[pl.DataFrame], key: str | list[str], ordered: bool) -> pl.DataFrame:
    """Count frames of ``key`` (a column, or several) added up: one row per key (sorted by it
    with ``ordered``), every other column summed."""
    keys = [key] if isinstance(key, str) else key
    rows = pl.concat(frames)
    totals = [pl.col(name).sum() for name in rows.columns if name not in keys]
    if ordered:  # sorting first is cheaper, the more so when the frames come sorted (measured)
        return rows.sort(keys).group_by(keys, maintain_order=True).agg(totals)
    return rows.group_by(keys).agg(totals)


def _merge(frames: list[pl.DataFrame], key: str | list[str], ordered: bool) -> pl.DataFrame:
    """``add_counts`` for a summary's count frames, whose keys are unique: when at most one holds
    rows (a block with no requests holds none) there is nothing to add up."""
    filled = [frame for frame in frames if not frame.is_empty()]
    if len(filled) > 1:
        return add_counts(filled, key, ordered)
    one = filled[0] if filled else frames[0]
    return one.sort(key) if ordered else one


def combine(parts: list[LogSummary], ordered: bool = True) -> LogSummary:
    """Merge summaries of disjoint pieces of input into one (exact, order-independent).

    With ``ordered`` the count frames are sorted by their key, so equal inputs give equal frames;
    intermediate merges skip that. The distinct samples (queries, visitors) are sets either way:
    only their counts are read.
    """
    if not parts:
        return LogSummary()
    kept = [p.rejected_examples for p in parts if not p.rejected_examples.is_empty()]
    examples = pl.concat(kept).sort("file", "line_no") if kept else no_examples()
    queries, query_level = bounded.distinct(
        [(p.url_queries, p.query_level) for p in parts], caps.QUERY_CAP
    )
    visitors, visitor_level = bounded.distinct(
        [(p.visitors, p.visitor_level) for p in parts], caps.VISITOR_CAP
    )
    urls = bounded.top_urls(
        _merge([p.urls for p in parts], "url", ordered),
        _merge([p.durations for p in parts], ["url", "bucket"], ordered),
        queries,
        sum(p.url_error for p in parts),
    )
    return LogSummary(
        lines=sum(p.lines for p in parts),
        requests=sum(p.requests for p in parts),
        rejected=sum(p.rejected for p in parts),
        rejected_examples=examples.head(MAX_EXAMPLES),
        bytes_sent=sum(p.bytes_sent for p in parts),
        hosts=_merge([p.hosts for p in parts], "host", ordered),
        window_hosts=_merge([p.window_hosts for p in parts], "host", ordered),
        hourly=_merge([p.hourly for p in parts], ["hour", "utc_offset"], ordered),
        statuses=_merge([p.statuses for p in parts], "status", ordered),
        utc_offsets=_merge([p.utc_offsets for p in parts], "utc_offset", ordered),
        formats=_merge([p.formats for p in parts], "format", ordered),
        referers=_merge([p.referers for p in parts], "referer", ordered),
        user_agents=_merge([p.user_agents for p in parts], "user_agent", ordered),
        rejected_reasons=_merge([p.rejected_reasons for p in parts], "reason", ordered),
        first_time=min((p.first_time for p in parts if p.first_time), default=None),
        last_time=max((p.last_time for p in parts if p.last_time), default=None),
        filtered=sum(p.filtered for p in parts),
        urls=urls.urls,
        url_error=urls.error,
        url_queries=urls.queries,
        query_level=query_level,
        durations=urls.durations,
        vhosts=_merge([p.vhosts for p in parts], "vhost", ordered),
        visitors=visitors,
        visitor_level=visitor_level,
    )


class BlockSequence:
    """A piece's block summaries, added in input order: each block's rejected examples numbered
    from the piece's first line, merged every ``_MERGE_EVERY`` (memory stays bounded on any
    input)."""

    def __init__(self) -> None:
        self._parts: list[LogSummary] = []
        self._lines = 0  # in the blocks kept so far

    def add(self, part: LogSummary) -> None:
        if not part.rejected_examples.is_empty():  # most blocks have none: no polars call
            examples = part.rejected_examples.with_columns(pl.col("line_no") + self._lines)
            part = replace(part, rejected_examples=examples)
        self._parts.append(part)
        self._lines += part.lines
        if len(self._parts) >= _MERGE_EVERY:
            self._parts = [combine(self._parts, ordered=False)]

    def result(self) -> LogSummary:
        return combine(self._parts, ordered=False)


def named(summary: LogSummary, part: Partition) -> LogSummary:
    """``summary`` with its rejected examples naming ``part``'s file."""
    examples = summary.rejected_examples.with_columns(pl.lit(part.path).alias("file"))
    return replace(summary, rejected_examples=examples.select(*EXAMPLE_SCHEMA))


class PartitionMerger:
    """Combine partition summaries, arriving in any order, into the summary of their files.

    Counts are merged as they arrive (memory: the count tables, not the partitions); the
    rejected examples are kept per partition until ``result`` knows how many lines precede each
    partition in its file, and so each example's line number in the file.
    """

    def __init__(self) -> None:
        self._merged: list[LogSummary] = []
        self._lines: dict[Partition, int] = {}
        self._examples: dict[Partition, pl.DataFrame] = {}

    def add(self, part: Partition, summary: LogSummary) -> None:
        if part in self._lines:
            raise ValueError(f"partition {part} was added twice")
        self._lines[part] = summary.lines
        self._examples[part] = summary.rejected_examples
        self._merged.append(replace(summary, rejected_examples=no_examples()))
        if len(self._merged) >= _MERGE_EVERY:
            self._merged = [combine(self._merged, ordered=False)]

    def result(self) -> LogSummary:
        before: dict[str, int] = {}
        examples = []
        for part in sorted(self._lines):
            offset = before.get(part.path, 0)
            shifted = pl.col("line_no") + offset
            examples.append(self._examples[part].with_columns(shifted.cast(pl.UInt64)))
            before[part.path] = offset + self._lines[part]
        summary = combine(self._merged)
        ordered = pl.concat([no_examples(), *examples]).sort("file", "line_no")
        return replace(summary, rejected_examples=ordered.head(MAX_EXAMPLES))


def top_hosts(counts: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` busiest hosts, most requests first, ties by host name (so always the same)."""
    if n < 0:
        raise ConfigError(f"top_n must not be negative, got {n}")
    ranked = busiest(counts, n, "host")
    return ranked.with_row_index("rank", offset=1)
