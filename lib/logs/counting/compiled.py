"""The compiled fast path of summaries in the Common and Combined formats.

``lib.logs.parsing._clf`` (C, built by ``setup.py``) scans each block once, with the GIL
released, and counts the lines it is certain the polars path would read the same way (printable
ASCII of exactly the format's shape; the rules are in ``_clf.c``) into a ``Counter`` that keeps
them across all the blocks of a partition. Every other line of a block (usually none or a
handful) goes through the polars path (``FormatChoice.parse``, with its second chances for
other formats) under its real line number, as a small per-block ``LogSummary``; the Counter's
counts become one ``LogSummary`` at the end. Combined, they equal what the polars path gives
for the whole input (``tests/unit/logs/test_fast_summary.py`` holds them to that), several
times cheaper: no per-block tables in Python, no merging of them.

Without a C compiler the extension is absent and every line is read with polars; nothing else
changes.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from lib.logs.counting.summary import LogSummary, polars_summary, summarize_block
from lib.logs.engines.head_start import Counted
from lib.logs.parsing.common import PAIR, split_pairs
from lib.logs.parsing.formats import FormatChoice
from lib.logs.reading.lines import block_to_lines
from lib.logs.window import Window

try:
    from lib.logs.parsing import _clf
except ImportError:  # built without a C compiler: the polars path reads every line
    _clf = None

FAST_PARSERS = ("common", "combined")  # the parsers whose lines _clf reads
_UTC_TIME = pl.Datetime("us", "UTC")
_WRAP = 1 << 64  # polars' Int64 sum of a block wraps around; so does ours
_FILLER = b"-"  # a line put around the left-overs where the block had other lines


def counts_for(window: Window, choice: FormatChoice) -> FastCounts | None:
    """Fast counts for one partition read as ``choice`` says, or None when its blocks take
    the polars path (another format, or the extension not built)."""
    if _clf is None or choice.primary.parser not in FAST_PARSERS:
        return None
    return FastCounts(window, choice)


class FastCounts:
    """The counts of a partition's well-formed lines, kept in C across its blocks.

    ``summarize_block`` may run on several threads at once; ``summary`` comes after them all.
    """

    def __init__(self, window: Window, choice: FormatChoice, counter=None) -> None:
        """``counter``: a ``_clf.Counter`` of this window and format to carry on from (what
        ``lib.logs.engines.head_start`` counted); default a new one."""
        combined = choice.primary.parser == "combined"
        if counter is None:
            counter = _clf.Counter(combined, *window.micros())
        self._counter = counter
        self._window = window
        self._choice = choice

    def summarize_block(self, block: bytes) -> LogSummary:
        """Count a block of whole lines (see ``lib.logs.reading.blocks.iter_blocks``). Returns the
        summary of the lines the fast path left over, with the block's line count (so blocks
        are numbered as before) and byte total; the rejected examples' line numbers count from
        the block's first line. The rest is in ``summary``."""
        lines, fast_bytes, indices, raw = self._counter.add(block)
        if indices is None:  # mostly not this format: all of it through polars, as before
            return polars_summary(block, self._window, self._choice)
        terminated = block.endswith(b"\n")
        return self.left_over(Counted(lines, fast_bytes, indices, raw, terminated))

    def left_over(self, block: Counted) -> LogSummary:
        """``summarize_block`` of a block the counter has added, from what it made of it."""
        part = LogSummary()
        if block.indices:
            part = _careful(block, self._window, self._choice)
        total = (block.fast_bytes + part.bytes_sent + _WRAP // 2) % _WRAP - _WRAP // 2
        return replace(part, lines=block.lines, bytes_sent=total)

    def summary(self) -> LogSummary:
        """Everything counted by the fast path so far (no lines, no bytes: those are in the
        blocks' summaries)."""
        counted = self._counter.result()
        requests, host_keys, host_counts, window_keys, window_counts = counted[:5]
        hours, hour_counts, statuses, status_counts, offsets, offset_counts = counted[5:11]
        first, last, pairs, pair_counts = counted[11:]
        first_time, last_time = pl.Series([first, last], dtype=pl.Int64).cast(_UTC_TIME).to_list()
        referers, user_agents = _referers_and_agents(pairs, pair_counts)
        formats = {self._choice.primary.name: requests} if requests else {}
        return LogSummary(
            requests=requests,
            hosts=_frame("host", pl.String, host_keys, host_counts),
            window_hosts=_frame("host", pl.String, window_keys, window_counts),
            hourly=_frame("hour", _UTC_TIME, pl.Series(hours, dtype=pl.Int64), hour_counts),
            statuses=_frame("status", pl.UInt16, statuses, status_counts),
            utc_offsets=_frame("utc_offset", pl.String, offsets, offset_counts),
            formats=_frame("format", pl.String, list(formats), list(formats.values())),
            referers=referers,
            user_agents=user_agents,
            first_time=first_time,
            last_time=last_time,
        )


def _careful(block: Counted, window: Window, choice: FormatChoice) -> LogSummary:
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
    requests, rejected, formats = choice.parse_numbered(numbered)
    return summarize_block(len(raw), requests, rejected, window, formats)


def _referers_and_agents(
    pairs: list[str] | None, counts: list[int] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Requests per referer and per user agent, from the distinct ``"referer" "agent"`` pairs
    (cut as ``summary._pairs`` cuts them; ``-`` or nothing is not counted)."""
    if not pairs:
        return _frame("referer", pl.String, [], []), _frame("user_agent", pl.String, [], [])
    counted = _frame(PAIR, pl.String, pairs, counts)
    cut = split_pairs(counted.lazy()).select("referer", "user_agent", "requests").collect()
    return tuple(
        cut.select(key, "requests").drop_nulls(key).group_by(key).agg(pl.col("requests").sum())
        for key in ("referer", "user_agent")
    )


def _frame(key: str, dtype: pl.DataType, keys, counts: list[int]) -> pl.DataFrame:
    """A count frame as ``LogSummary`` holds them: ``key`` of ``dtype``, ``requests`` UInt64."""
    column = keys.alias(key) if isinstance(keys, pl.Series) else pl.Series(key, keys)
    return pl.DataFrame([column.cast(dtype), pl.Series("requests", counts, dtype=pl.UInt64)])
