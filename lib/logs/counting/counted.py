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
        total = (block.fast_bytes + part.bytes_sent + _WRAP // 2) % _WRAP - _WRAP // 2
        return replace(part, lines=block.lines, bytes_sent=total)

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


def _summarize_left_over(block: Counted, window: Window, choice: FormatChoice) -> LogSummary:
    """The summary of the left-over lines by the polars path. They are split as
    ``block_to_lines`` split them in the block: a filler line goes before them unless the first
    is the block's first line (the CSV reader drops a byte-order mark there only) and after
    them unless the last is the block's last line (which stays unterminated if it was)."""
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
    requests, rejected, formats = parse_numbered(choice, numbered, request_parts=True)
    shape = choice.primary.pattern or None
    return summarize_parsed(len(raw), requests, rejected, window, formats, shape)


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
