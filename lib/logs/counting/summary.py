"""Stream a log once into the small aggregates the Q1 answers need, and combine them exactly.

A ``LogSummary`` holds counts only (per host, per host inside the window, per hour, per status),
so a month of logs fits in a few megabytes however large the input. Summaries of separate pieces
combine with ``combine``: the result is the same whatever the split or the order. A partition
(``lib.logs.reading.partitions``: a file, or a range of a plain one's bytes or a compressed one's
text) is summarised by ``summarize_partition``, the one function every engine runs;
``PartitionMerger`` combines partitions arriving in any order and gives each rejected example its
line number in its file.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import polars as pl

from lib.errors import ConfigError
from lib.logs.engines import head_start
from lib.logs.parsing.common import PAIR, split_pairs
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.reading.blocks import BLOCK_BYTES, iter_blocks
from lib.logs.reading.lines import block_to_lines
from lib.logs.reading.partitions import Partition, open_partition
from lib.logs.window import Window

MAX_EXAMPLES = 10  # rejected lines kept verbatim, the first ones by line number
# How a log is read when nobody says otherwise: the Common Log Format, with the other registered
# formats as second chances for the lines it rejects.
DEFAULT_CHOICE = FormatChoice.of(FORMATS["common"])
_MERGE_EVERY = 8  # block summaries held before they are merged


_EXAMPLE_SCHEMA = {"file": pl.String, "line_no": pl.UInt64, "line": pl.String}


def _examples() -> pl.DataFrame:
    return pl.DataFrame(schema=_EXAMPLE_SCHEMA)


def _counts(key: str, dtype: pl.DataType) -> pl.DataFrame:
    return pl.DataFrame(schema={key: dtype, "requests": pl.UInt64})


@dataclass(frozen=True)
class LogSummary:
    """What one pass over a log yields. Every frame has a ``requests`` count column and one row
    per key."""

    lines: int = 0
    requests: int = 0
    rejected: int = 0
    rejected_examples: pl.DataFrame = field(default_factory=_examples)  # file, line_no, line
    bytes_sent: int = 0
    hosts: pl.DataFrame = field(default_factory=lambda: _counts("host", pl.String))
    window_hosts: pl.DataFrame = field(default_factory=lambda: _counts("host", pl.String))
    hourly: pl.DataFrame = field(default_factory=lambda: _counts("hour", pl.Datetime("us", "UTC")))
    statuses: pl.DataFrame = field(default_factory=lambda: _counts("status", pl.UInt16))
    utc_offsets: pl.DataFrame = field(default_factory=lambda: _counts("utc_offset", pl.String))
    formats: pl.DataFrame = field(default_factory=lambda: _counts("format", pl.String))
    referers: pl.DataFrame = field(default_factory=lambda: _counts("referer", pl.String))
    user_agents: pl.DataFrame = field(default_factory=lambda: _counts("user_agent", pl.String))
    first_time: datetime | None = None  # the earliest request's time (UTC)
    last_time: datetime | None = None

    @property
    def utc_offset(self) -> str | None:
        """The offset the server wrote most often (e.g. ``-0400``)."""
        if self.utc_offsets.is_empty():
            return None
        top = self.utc_offsets.sort(["requests", "utc_offset"], descending=[True, False])
        return top.item(0, "utc_offset")


def _inside(window: Window) -> pl.Expr:
    """A polars predicate on the ``time`` column: inside ``window``."""
    return (pl.col("time") >= window.start) & (pl.col("time") < window.end)


def _count(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.group_by(key).agg(pl.len().cast(pl.UInt64).alias("requests"))


def summarize_block(
    lines: int,
    requests: pl.DataFrame,
    rejected: pl.DataFrame,
    window: Window,
    formats: dict[str, int] | None = None,
) -> LogSummary:
    """Aggregate one parsed block (see ``lib.logs.parsing.formats``); ``formats`` counts its
    requests per format (default: all in an unnamed one)."""
    per_format = pl.DataFrame(
        {"format": list(formats or {}), "requests": list((formats or {}).values())},
        schema={"format": pl.String, "requests": pl.UInt64},
    )
    examples = rejected.head(MAX_EXAMPLES).select(
        pl.lit(None, pl.String).alias("file"), "line_no", "line"
    )
    if requests.is_empty():  # often (a block's left-over lines): no group-bys of nothing
        return LogSummary(
            lines=lines, rejected=rejected.height, rejected_examples=examples, formats=per_format
        )
    times = requests.get_column("time")
    pairs = _pairs(requests)
    return LogSummary(
        lines=lines,
        requests=requests.height,
        rejected=rejected.height,
        rejected_examples=examples,
        bytes_sent=int(requests.get_column("bytes").sum() or 0),
        hosts=_count(requests, "host"),
        window_hosts=_count(requests.filter(_inside(window)), "host"),
        hourly=_count(requests.select(pl.col("time").dt.truncate("1h").alias("hour")), "hour"),
        statuses=_count(requests, "status"),
        utc_offsets=_count(requests, "utc_offset"),
        formats=per_format,
        referers=_logged(requests, pairs, "referer"),
        user_agents=_logged(requests, pairs, "user_agent"),
        first_time=times.min(),
        last_time=times.max(),
    )


def _pairs(requests: pl.DataFrame) -> pl.DataFrame | None:
    """``referer``, ``user_agent``, ``requests``: the Combined format's referer and agent, cut
    from each distinct pair of the block (far fewer than its lines), or None if it has none."""
    if PAIR not in requests.columns:
        return None
    counts = requests.group_by(PAIR).agg(pl.len().cast(pl.UInt64).alias("requests"))
    return split_pairs(counts.lazy()).select("referer", "user_agent", "requests").collect()


def _logged(requests: pl.DataFrame, pairs: pl.DataFrame | None, key: str) -> pl.DataFrame:
    """Requests per value of a field some formats log: from the block's referer/agent pairs and
    from the column itself, whichever the block's formats wrote (empty if none)."""
    parts = [_counts(key, pl.String)]
    if pairs is not None:
        parts.append(pairs.select(key, "requests").drop_nulls(key))
    if key in requests.columns:
        parts.append(_count(requests.select(key).drop_nulls(), key))  # the key alone: cheaper
    return parts[0] if len(parts) == 1 else _add(parts, key, ordered=False)


def _add(frames: list[pl.DataFrame], key: str, ordered: bool) -> pl.DataFrame:
    rows = pl.concat(frames)
    if ordered:  # sorting first is cheaper, the more so when the frames come sorted (measured)
        return rows.sort(key).group_by(key, maintain_order=True).agg(pl.col("requests").sum())
    return rows.group_by(key).agg(pl.col("requests").sum())


def _merge(frames: list[pl.DataFrame], key: str, ordered: bool) -> pl.DataFrame:
    """``_add`` for a summary's count frames, whose keys are unique: when at most one holds
    rows (a block with no requests holds none) there is nothing to add up."""
    filled = [frame for frame in frames if not frame.is_empty()]
    if len(filled) > 1:
        return _add(filled, key, ordered)
    one = filled[0] if filled else frames[0]
    return one.sort(key) if ordered else one


def combine(parts: list[LogSummary], ordered: bool = True) -> LogSummary:
    """Merge summaries of disjoint pieces of input into one (exact, order-independent).

    With ``ordered`` the count frames are sorted by their key, so equal inputs give equal frames;
    intermediate merges skip that.
    """
    if not parts:
        return LogSummary()
    kept = [p.rejected_examples for p in parts if not p.rejected_examples.is_empty()]
    examples = pl.concat(kept).sort("file", "line_no") if kept else _examples()
    return LogSummary(
        lines=sum(p.lines for p in parts),
        requests=sum(p.requests for p in parts),
        rejected=sum(p.rejected for p in parts),
        rejected_examples=examples.head(MAX_EXAMPLES),
        bytes_sent=sum(p.bytes_sent for p in parts),
        hosts=_merge([p.hosts for p in parts], "host", ordered),
        window_hosts=_merge([p.window_hosts for p in parts], "host", ordered),
        hourly=_merge([p.hourly for p in parts], "hour", ordered),
        statuses=_merge([p.statuses for p in parts], "status", ordered),
        utc_offsets=_merge([p.utc_offsets for p in parts], "utc_offset", ordered),
        formats=_merge([p.formats for p in parts], "format", ordered),
        referers=_merge([p.referers for p in parts], "referer", ordered),
        user_agents=_merge([p.user_agents for p in parts], "user_agent", ordered),
        first_time=min((p.first_time for p in parts if p.first_time), default=None),
        last_time=max((p.last_time for p in parts if p.last_time), default=None),
    )


def summarize_bytes(
    block: bytes, window: Window, choice: FormatChoice = DEFAULT_CHOICE
) -> LogSummary:
    """Parse (as ``choice`` says) and aggregate one block of whole lines (see
    ``lib.logs.reading.blocks.iter_blocks``); the rejected examples' line numbers count from the
    block's first line. Common and Combined blocks take the compiled fast path
    (``lib.logs.counting.compiled``) when it is built; the summary is the same."""
    from lib.logs.counting import compiled as fast_summary  # it builds on this module

    fast = fast_summary.counts_for(window, choice)
    if fast is None:
        return polars_summary(block, window, choice)
    return combine([fast.summarize_block(block), fast.summary()], ordered=False)


def polars_summary(block: bytes, window: Window, choice: FormatChoice) -> LogSummary:
    """``summarize_bytes`` through polars alone: every line split, parsed and counted there."""
    lines = block_to_lines(block)
    requests, rejected, formats = choice.parse(lines)
    return summarize_block(lines.len(), requests, rejected, window, formats)


class Executor(Protocol):
    """Runs ``fn(*args)`` somewhere and hands back a future: a ThreadPoolExecutor, or a Dask
    client (its futures have ``result()`` too)."""

    def submit(self, fn: Callable, /, *args: Any) -> Any: ...


def summarize_stream(
    stream: BinaryIO,
    window: Window,
    name: str = "log",
    block_bytes: int = BLOCK_BYTES,
    executor: Executor | None = None,
    in_flight: int = 1,
    choice: FormatChoice = DEFAULT_CHOICE,
) -> LogSummary:
    """Summarise a binary stream of log lines (line numbers count from 1), read as ``choice``
    says.

    Without an ``executor`` every block is parsed in this thread, one at a time. With one, this
    thread reads (and decompresses) while the executor parses, at most ``in_flight`` blocks ahead.
    Memory stays bounded either way: the blocks in flight plus the counts. Raises LogReadError.
    """
    from lib.logs.counting import compiled as fast_summary  # it builds on this module

    pending: deque = deque()
    # Common and Combined: the well-formed lines are counted in C across the blocks, and each
    # block's summary holds only its other lines (and its line count, which numbers them). The
    # counts live in this process: an executor elsewhere (a Dask client) gets whole blocks.
    local = executor is None or isinstance(executor, ThreadPoolExecutor)
    fast = fast_summary.counts_for(window, choice) if local else None
    task = fast.summarize_block if fast else partial(summarize_bytes, window=window, choice=choice)
    kept = _InOrder()
    for block in iter_blocks(stream, block_bytes, name=name):
        if executor is None:
            kept.add(task(block))
        else:
            pending.append(executor.submit(task, block))
        while len(pending) > max(0, in_flight):
            kept.add(pending.popleft().result())
    while pending:
        kept.add(pending.popleft().result())
    if fast:
        kept.add(fast.summary())
    return kept.result()


class _InOrder:
    """Block summaries kept in input order: each block's rejected examples renumbered from the
    stream's first line, merged every ``_MERGE_EVERY`` (memory stays bounded on any input)."""

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


def summarize_partition(
    part: Partition,
    window: Window,
    block_bytes: int = BLOCK_BYTES,
    executor: Executor | None = None,
    in_flight: int = 1,
    choice: FormatChoice = DEFAULT_CHOICE,
) -> LogSummary:
    """Summarise one partition (a whole file or a range of it); ``executor``, ``in_flight``
    and ``choice`` as for ``summarize_stream``.

    The rejected examples carry the file's name; their line numbers count from the partition's
    first line (``PartitionMerger`` turns them into the file's line numbers).
    """
    with open_partition(part) as stream:
        summary = summarize_stream(
            stream, window, str(part), block_bytes, executor, in_flight, choice
        )
    return _named(summary, part)


def _named(summary: LogSummary, part: Partition) -> LogSummary:
    """``summary`` with its rejected examples naming ``part``'s file."""
    examples = summary.rejected_examples.with_columns(pl.lit(part.path).alias("file"))
    return replace(summary, rejected_examples=examples.select(*_EXAMPLE_SCHEMA))


def summarize_claimed(
    part: Partition, window: Window, head: head_start.HeadStart, choice: FormatChoice
) -> LogSummary | None:
    """``summarize_partition`` of a whole file a head start (``lib.logs.engines.head_start``) is
    counting: the lines it leaves over parsed as ``choice`` says, block by block as it hands
    them over; None if it gave up (the file is then read the ordinary way)."""
    from lib.logs.counting import compiled as fast_summary  # it builds on this module

    fast = fast_summary.FastCounts(window, choice, head.counter)
    kept = _InOrder()
    try:
        for block in head.counted():
            kept.add(fast.left_over(block))
    except head_start.GaveUp:
        return None
    finally:
        head.stop()  # done by now, unless this failed half-way
    kept.add(fast.summary())
    return _named(kept.result(), part)


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
        self._merged.append(replace(summary, rejected_examples=_examples()))
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
        ordered = pl.concat([_examples(), *examples]).sort("file", "line_no")
        return replace(summary, rejected_examples=ordered.head(MAX_EXAMPLES))


def summarize_log(
    path: str | Path,
    window: Window,
    block_bytes: int = BLOCK_BYTES,
    workers: int | None = None,
    choice: FormatChoice = DEFAULT_CHOICE,
) -> LogSummary:
    """Stream one log (plain, gzip, bzip2, xz or zstd) and summarise it, parsing blocks on
    ``workers`` threads (default: the CPU count; polars releases the GIL) while this thread
    decompresses; read as ``choice`` says. Raises LogReadError."""
    return summarize_files([path], window, block_bytes, workers, {str(path): choice})


def worker_count(workers: int | None = None) -> int:
    """``workers``, or one per CPU when not given."""
    return max(1, workers or os.cpu_count() or 1)


def summarize_files(
    paths: list[str | Path],
    window: Window,
    block_bytes: int = BLOCK_BYTES,
    workers: int | None = None,
    choices: dict[str, FormatChoice] | None = None,
) -> LogSummary:
    """The single-process engine: each file in turn, as ``summarize_log`` does one, read as
    ``choices`` says for it (default: ``DEFAULT_CHOICE``)."""
    workers = worker_count(workers)
    merger = PartitionMerger()
    with ThreadPoolExecutor(workers) as pool:
        for path in paths:
            part = Partition(str(path))
            choice = (choices or {}).get(str(path), DEFAULT_CHOICE)
            head = head_start.claim(path, window, choice.primary.parser, block_bytes)
            summary = head and summarize_claimed(part, window, head, choice)
            if summary is None:
                summary = summarize_partition(part, window, block_bytes, pool, workers, choice)
            merger.add(part, summary)
    return merger.result()


def top_hosts(counts: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` busiest hosts, most requests first, ties by host name (so always the same)."""
    if n < 0:
        raise ConfigError(f"top_n must not be negative, got {n}")
    ranked = counts.sort(["requests", "host"], descending=[True, False]).head(n)
    return ranked.with_row_index("rank", offset=1)
