"""Summaries of what a format's accelerator counted (``lib.logs.parsing.accelerators``).

The compiled counter keeps the counts of a piece's well-formed lines across all its blocks, and
hands back, per block, the lines it left over (usually none or a handful: damaged lines,
undecodable bytes, odd quoting). Those go through the polars path under their real line
numbers (``lib.logs.parsing.second_chances.parse_numbered``, with second chances for other
formats) as a small per-block ``LogSummary``; the counter's counts become one ``LogSummary`` at
the end (``counts``). Combined, they equal what the polars path gives for the whole input
(tests/unit/logs/test_fast_path.py holds them to that), several times cheaper: no per-block
tables in Python, no merging of them. A block the counter mostly left over is read whole by
polars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import polars as pl

from lib.logs.counting import bounded
from lib.logs.counting.parsed import summarize_lines, summarize_parsed
from lib.logs.counting.summary import UTC_TIME, LogSummary, combine, no_hours
from lib.logs.parsing import accelerators
from lib.logs.parsing.accelerators import Counted
from lib.logs.parsing.formats import FormatChoice
from lib.logs.parsing.kinds.clf import PAIR, split_pairs
from lib.logs.parsing.second_chances import parse_numbered
from lib.logs.reading.lines import block_to_lines
from lib.logs.window import Window

_WRAP = 1 << 64  # polars' Int64 sum of a block wraps around; so does ours
_FILLER = b"-"  # a line put around the left-overs where the block had other lines


class BlockSummaries:
    """The summaries of a piece's blocks read as ``choice`` says: through ``counter`` (its
    primary format's accelerator, made by ``accelerators.counter``; None for polars alone) and
    polars for what it leaves. ``finish`` may run on several threads at once; ``counts`` comes
    after them all."""

    def __init__(self, window: Window, choice: FormatChoice, counter: Any | None) -> None:
        self._window = window
        self._choice = choice
        self._counter = counter

    def finish(self, block: Counted | bytes, choice: FormatChoice | None = None) -> LogSummary:
        """The summary of a block: of the lines the counter left over (``Counted``: with the
        block's line count, so blocks are numbered as before, and byte total), or of a whole
        block (bytes) through polars, read as ``choice`` says (default: the piece's; a format
        its header lines declare may have changed before the block: ``FormatChoice.after``).
        The rejected examples' line numbers count from the block's first line; the counted
        lines are in ``counts``."""
        if not isinstance(block, Counted):
            return summarize_lines(block, self._window, choice or self._choice)
        part = LogSummary()
        if block.indices:
            part = _summarize_left_over(block, self._window, self._choice)
        total = _wrapped(block.fast_bytes + part.bytes_sent)
        return replace(part, lines=block.lines, bytes_sent=total)

    def finish_run(self, run: list[Counted]) -> LogSummary:
        """The summary of consecutive blocks the counter read, as ``finish`` of each combined
        would give, their left-over lines read by polars at once: a few lines a block cost a
        parse and a dozen group-bys each (16 ms a block of the synthetic month, 13 blocks: a
        sixth of a run's CPU), when one for all costs about as much as one. Each block's
        bytes are still summed apart, as polars sums a block's Int64 (wrapping). ``Runs``
        says where a run may start."""
        if len(run) == 1:
            return self.finish(run[0])
        starts, indices, raw, lines = [], [], [], 0
        for block in run:
            starts.append(lines)
            indices.extend(index + lines for index in block.indices)
            raw.extend(block.raw)
            lines += block.lines
        joined = Counted(lines, 0, indices, raw, run[-1].terminated)
        if not indices:
            return LogSummary(lines=lines, bytes_sent=sum(_wrapped(b.fast_bytes) for b in run))
        requests, rejected, formats = _parse_left_over(joined, self._choice)
        shape = self._choice.primary.pattern or None
        part = summarize_parsed(len(raw), requests, rejected, self._window, formats, shape)
        sums = zip(run, _sums_per_block(requests, starts), strict=True)
        total = sum(_wrapped(block.fast_bytes + sent) for block, sent in sums)
        return replace(part, lines=lines, bytes_sent=total)

    def counts(self) -> LogSummary:
        """Everything the counter counted so far (no lines, no bytes: those are in the blocks'
        summaries); an empty summary without a counter."""
        if self._counter is None:
            return LogSummary()
        counted = self._counter.result()
        requests, host_keys, host_counts, window_keys, window_counts = counted[:5]
        hours, hour_counts, statuses, status_counts, offsets, offset_counts = counted[5:11]
        first, last, pairs, pair_counts, more = counted[11:]
        first_time, last_time = pl.Series([first, last], dtype=pl.Int64).cast(UTC_TIME).to_list()
        referers, user_agents = _referers_and_agents(pairs, pair_counts)
        formats = {self._choice.primary.name: requests} if requests else {}
        hourly = _frame("hour", UTC_TIME, pl.Series(hours, dtype=pl.Int64), hour_counts)
        errors = (
            ("client_errors", more["hour_client_errors"]),
            ("server_errors", more["hour_server_errors"]),
        )
        urls = bounded.top_urls(
            _frame("url", pl.String, more["urls"], more["url_requests"], more["url_bytes"]),
            pl.DataFrame(
                [
                    pl.Series("url", more["duration_urls"], dtype=pl.String),
                    pl.Series("bucket", more["duration_buckets"], dtype=pl.Int16),
                    pl.Series("requests", more["duration_requests"], dtype=pl.UInt64),
                ]
            ),
            _hashes("url", pl.Series(more["query_urls"], dtype=pl.String), more["queries"]),
            more["url_error"],
        )
        days = pl.Series(more["visitor_days"], dtype=pl.Int32).cast(pl.Date)
        return LogSummary(
            requests=requests,
            hosts=_frame("host", pl.String, host_keys, host_counts, more["host_bytes"]),
            window_hosts=_frame("host", pl.String, window_keys, window_counts),
            hourly=hourly.with_columns(
                pl.Series("utc_offset", more["hour_offsets"], dtype=pl.String),
                *(pl.Series(name, counts, dtype=pl.UInt64) for name, counts in errors),
            ).select(*no_hours().columns),
            urls=urls.urls,
            url_error=urls.error,
            url_queries=urls.queries,
            durations=urls.durations,
            vhosts=_frame(
                "vhost", pl.String, more["vhosts"], more["vhost_requests"], more["vhost_bytes"]
            ),
            query_level=more["query_level"],
            visitors=_hashes("day", days, more["visitors"]),
            visitor_level=more["visitor_level"],
            statuses=_frame("status", pl.UInt16, statuses, status_counts),
            utc_offsets=_frame("utc_offset", pl.String, offsets, offset_counts),
            formats=_frame("format", pl.String, list(formats), list(formats.values())),
            referers=referers,
            user_agents=user_agents,
            first_time=first_time,
            last_time=last_time,
        )


def summarize_block(block: bytes, window: Window, choice: FormatChoice) -> LogSummary:
    """The summary of one block of whole lines read as ``choice`` says, through its primary
    format's accelerator where there is one (built) and polars for the rest: the same summary
    as ``summarize_lines`` gives."""
    counter = accelerators.counter_for(choice, window)
    blocks = BlockSummaries(window, choice, counter)
    counted = None if counter is None else accelerators.count(counter, block)
    part = blocks.finish(block if counted is None else counted)
    return combine([part, blocks.counts()], ordered=False)


class Runs:
    """Blocks in input order finished into ``add``: the counter's blocks (``Counted``) in runs
    for ``BlockSummaries.finish_run``, each other item (a whole block's text for polars) alone
    by ``finish``. A run ends before an item that is not ``Counted``, before a block whose first
    line was left over (read at the start of polars' buffer, a byte-order mark there would be
    dropped, as in the block alone), and once it holds ``limit`` bytes of left-over text.
    ``done`` is told of the items each time they are finished (their text may go)."""

    def __init__(
        self,
        blocks: BlockSummaries,
        add: Callable[[LogSummary], None],
        limit: int,
        done: Callable[[list], None] = lambda items: None,
    ) -> None:
        self._blocks, self._add, self._limit, self._done = blocks, add, limit, done
        self._run: list[Counted] = []
        self._held = 0

    def put(self, item: Counted | bytes, choice: FormatChoice | None = None) -> None:
        if not isinstance(item, Counted):
            self.flush()
            self._add(self._blocks.finish(item, choice))
            self._done([item])
            return
        if item.indices and item.indices[0] == 0:
            self.flush()
        self._run.append(item)
        self._held += item.held
        if self._held >= self._limit:
            self.flush()

    def flush(self) -> None:
        if not self._run:
            return
        run, self._run, self._held = self._run, [], 0
        self._add(self._blocks.finish_run(run))
        self._done(run)


def _wrapped(total: int) -> int:
    """``total`` as polars' Int64 sum of a block leaves it (wrapped around)."""
    return (total + _WRAP // 2) % _WRAP - _WRAP // 2


def _sums_per_block(requests: pl.DataFrame, starts: list[int]) -> list[int]:
    """The bytes of ``requests`` (numbered in a run of blocks beginning at line ``starts``,
    0-based) summed per block as polars sums Int64 (wrapping), one per block."""
    if requests.is_empty():
        return [0] * len(starts)
    first = pl.Series(starts, dtype=pl.UInt64)
    block = first.search_sorted(requests.get_column("line_no") - 1, side="right") - 1
    sums = (
        requests.select(pl.Series("block", block), "bytes")
        .group_by("block")
        .agg(pl.col("bytes").sum())
    )
    found = dict(zip(*(sums.get_column(name).to_list() for name in sums.columns), strict=True))
    return [found.get(i) or 0 for i in range(len(starts))]


def _summarize_left_over(block: Counted, window: Window, choice: FormatChoice) -> LogSummary:
    """The summary of the left-over lines by the polars path."""
    requests, rejected, formats = _parse_left_over(block, choice)
    shape = choice.primary.pattern or None
    return summarize_parsed(len(block.raw), requests, rejected, window, formats, shape)


def _parse_left_over(
    block: Counted, choice: FormatChoice
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """The left-over lines parsed by the polars path. They are split as ``block_to_lines``
    split them in the block: a filler line goes before them unless the first is the block's
    first line (the CSV reader drops a byte-order mark there only) and after them unless the
    last is the block's last line (which stays unterminated if it was)."""
    indices, raw = block.indices, block.raw
    head = indices[0] != 0
    tail = indices[-1] != block.lines - 1
    text = b"\n".join(([_FILLER] if head else []) + raw + ([_FILLER] if tail else []))
    if tail or block.terminated:
        text += b"\n"
    series = block_to_lines(text)
    if series.len() != len(raw) + head + tail:  # block_to_lines' tests hold it to one per \n
        raise RuntimeError("block_to_lines split the left-over lines differently")
    numbered = pl.DataFrame(
        [pl.Series("line_no", indices, dtype=pl.UInt64) + 1, series.slice(int(head), len(raw))]
    )
    return parse_numbered(choice, numbered, request_parts=True)


def _referers_and_agents(
    pairs: list[str] | None, counts: list[int] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Requests per referer and per user agent, from the distinct ``"referer" "agent"`` pairs
    (cut as ``lib.logs.counting.parsed`` cuts them; ``-`` or nothing is not counted)."""
    if not pairs:
        return _frame("referer", pl.String, [], []), _frame("user_agent", pl.String, [], [])
    counted = _frame(PAIR, pl.String, pairs, counts)
    cut = split_pairs(counted).select("referer", "user_agent", "requests")
    return tuple(
        cut.select(key, "requests").drop_nulls(key).group_by(key).agg(pl.col("requests").sum())
        for key in ("referer", "user_agent")
    )


def _frame(
    key: str, dtype: pl.DataType, keys, counts: list[int], sent: list[int] | None = None
) -> pl.DataFrame:
    """A count frame as ``LogSummary`` holds them: ``key`` of ``dtype``, ``requests`` UInt64,
    and with ``sent`` ``bytes`` Int64."""
    column = keys.alias(key) if isinstance(keys, pl.Series) else pl.Series(key, keys, dtype)
    columns = [column.cast(dtype), pl.Series("requests", counts, dtype=pl.UInt64)]
    if sent is not None:
        columns.append(pl.Series("bytes", sent, dtype=pl.Int64))
    return pl.DataFrame(columns)


def _hashes(key: str, keys: pl.Series, hashes: list[int]) -> pl.DataFrame:
    """A sample of distinct hashes as ``LogSummary`` holds them (``no_hashes``): ``key``, then
    the hash (UInt64)."""
    value = "query" if key == "url" else "visitor"
    return pl.DataFrame([keys.alias(key), pl.Series(value, hashes, dtype=pl.UInt64)])
