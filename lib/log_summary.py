"""Stream a log once into the small aggregates the Q1 answers need, and combine them exactly.

A ``LogSummary`` holds counts only (per host, per host inside the window, per hour, per status),
so a month of logs fits in a few megabytes however large the input. Summaries of separate pieces
combine with ``combine``: the result is the same whatever the split or the order.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from lib.access_log import (
    BLOCK_BYTES,
    block_to_lines,
    count_lines,
    iter_blocks,
    open_log,
    parse_lines,
)
from lib.errors import ConfigError

MAX_EXAMPLES = 10  # rejected lines kept verbatim, the first ones by line number
_MERGE_EVERY = 8  # block summaries held before they are merged


@dataclass(frozen=True)
class Window:
    """A half-open time interval ``start <= t < end`` with time-zone-aware ends."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        """Build a window from ISO 8601 strings that carry a UTC offset; raise ConfigError."""
        ends = []
        for name, text in (("window_start", start), ("window_end", end)):
            try:
                value = datetime.fromisoformat(text)
            except (TypeError, ValueError):
                raise ConfigError(f"{name} is not an ISO 8601 time: {text!r}") from None
            if value.tzinfo is None or value.utcoffset() is None:
                raise ConfigError(f"{name} needs a UTC offset, e.g. {text}-04:00")
            ends.append(value)
        if not ends[0] < ends[1]:
            raise ConfigError(f"window_start {start} must be before window_end {end}")
        return cls(ends[0], ends[1])

    def contains(self) -> pl.Expr:
        """A polars predicate on the ``time`` column."""
        return (pl.col("time") >= self.start) & (pl.col("time") < self.end)


def _counts(key: str, dtype: pl.DataType) -> pl.DataFrame:
    return pl.DataFrame(schema={key: dtype, "requests": pl.UInt64})


@dataclass(frozen=True)
class LogSummary:
    """What one pass over a log yields. Every frame has a ``requests`` count column."""

    lines: int = 0
    requests: int = 0
    rejected: int = 0
    rejected_examples: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"line_no": pl.UInt64, "line": pl.String})
    )
    bytes_sent: int = 0
    hosts: pl.DataFrame = field(default_factory=lambda: _counts("host", pl.String))
    window_hosts: pl.DataFrame = field(default_factory=lambda: _counts("host", pl.String))
    hourly: pl.DataFrame = field(default_factory=lambda: _counts("hour", pl.Datetime("us", "UTC")))
    statuses: pl.DataFrame = field(default_factory=lambda: _counts("status", pl.UInt16))
    utc_offsets: pl.DataFrame = field(default_factory=lambda: _counts("utc_offset", pl.String))

    @property
    def utc_offset(self) -> str | None:
        """The offset the server wrote most often (e.g. ``-0400``)."""
        if self.utc_offsets.is_empty():
            return None
        top = self.utc_offsets.sort(["requests", "utc_offset"], descending=[True, False])
        return top.item(0, "utc_offset")


def _count(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.group_by(key).agg(pl.len().cast(pl.UInt64).alias("requests"))


def summarize_block(
    lines: int, requests: pl.DataFrame, rejected: pl.DataFrame, window: Window
) -> LogSummary:
    """Aggregate one parsed block (see ``lib.access_log.parse_lines``)."""
    return LogSummary(
        lines=lines,
        requests=requests.height,
        rejected=rejected.height,
        rejected_examples=rejected.head(MAX_EXAMPLES),
        bytes_sent=int(requests.get_column("bytes").sum() or 0),
        hosts=_count(requests, "host"),
        window_hosts=_count(requests.filter(window.contains()), "host"),
        hourly=_count(requests.select(pl.col("time").dt.truncate("1h").alias("hour")), "hour"),
        statuses=_count(requests, "status"),
        utc_offsets=_count(requests, "utc_offset"),
    )


def _add(frames: list[pl.DataFrame], key: str, ordered: bool) -> pl.DataFrame:
    added = pl.concat(frames).group_by(key).agg(pl.col("requests").sum())
    return added.sort(key) if ordered else added


def combine(parts: list[LogSummary], ordered: bool = True) -> LogSummary:
    """Merge summaries of disjoint pieces of input into one (exact, order-independent).

    With ``ordered`` the count frames are sorted by their key, so equal inputs give equal frames;
    intermediate merges skip that.
    """
    if not parts:
        return LogSummary()
    examples = pl.concat([p.rejected_examples for p in parts]).sort("line_no")
    return LogSummary(
        lines=sum(p.lines for p in parts),
        requests=sum(p.requests for p in parts),
        rejected=sum(p.rejected for p in parts),
        rejected_examples=examples.head(MAX_EXAMPLES),
        bytes_sent=sum(p.bytes_sent for p in parts),
        hosts=_add([p.hosts for p in parts], "host", ordered),
        window_hosts=_add([p.window_hosts for p in parts], "host", ordered),
        hourly=_add([p.hourly for p in parts], "hour", ordered),
        statuses=_add([p.statuses for p in parts], "status", ordered),
        utc_offsets=_add([p.utc_offsets for p in parts], "utc_offset", ordered),
    )


def summarize_bytes(block: bytes, first_line_no: int, window: Window) -> LogSummary:
    """Parse and aggregate one block of whole lines (see ``lib.access_log.iter_blocks``)."""
    lines = block_to_lines(block)
    requests, rejected = parse_lines(lines, first_line_no)
    return summarize_block(lines.len(), requests, rejected, window)


def summarize_log(
    path: str | Path,
    window: Window,
    block_bytes: int = BLOCK_BYTES,
    workers: int | None = None,
) -> LogSummary:
    """Stream a plain or gzip log once and summarise it.

    Blocks are parsed by ``workers`` threads (default: the CPU count; polars releases the GIL)
    while this thread decompresses the next ones. Memory stays bounded: at most ``workers + 1``
    blocks of ``block_bytes`` are in flight, plus the counts. Raises LogReadError.
    """
    workers = max(1, workers or os.cpu_count() or 1)
    parts: list[LogSummary] = []
    pending: deque[Future[LogSummary]] = deque()
    line_no = 1
    with open_log(path) as stream, ThreadPoolExecutor(workers) as pool:
        for block in iter_blocks(stream, block_bytes, name=str(path)):
            pending.append(pool.submit(summarize_bytes, block, line_no, window))
            line_no += count_lines(block)
            while len(pending) > workers:
                parts.append(pending.popleft().result())
                if len(parts) >= _MERGE_EVERY:  # keeps memory bounded on any input size
                    parts = [combine(parts, ordered=False)]
        parts.extend(future.result() for future in pending)
    return combine(parts)


def top_hosts(counts: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` busiest hosts, most requests first, ties by host name (so always the same)."""
    if n < 0:
        raise ConfigError(f"top_n must not be negative, got {n}")
    ranked = counts.sort(["requests", "host"], descending=[True, False]).head(n)
    return ranked.with_row_index("rank", offset=1)
