"""Summaries of lines parsed by polars: a parser's frames (``lib.logs.parsing.kinds``) counted
into a ``LogSummary``, and a block of lines split, parsed and counted that way."""

from __future__ import annotations

import polars as pl

from lib.logs.counting.summary import MAX_EXAMPLES, LogSummary, add_counts, no_counts, no_reasons
from lib.logs.parsing.formats import FormatChoice
from lib.logs.parsing.kinds.clf import PAIR, split_pairs
from lib.logs.parsing.rejections import rejected_reasons
from lib.logs.parsing.second_chances import parse_with
from lib.logs.reading.lines import block_to_lines
from lib.logs.window import Window


def _inside(window: Window) -> pl.Expr:
    """A polars predicate on the ``time`` column: inside ``window``."""
    return (pl.col("time") >= window.start) & (pl.col("time") < window.end)


def _count(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.group_by(key).agg(pl.len().cast(pl.UInt64).alias("requests"))


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
        rejected_reasons=reasons,
        first_time=times.min(),
        last_time=times.max(),
        filtered=filtered,
    )


def _pairs(requests: pl.DataFrame) -> pl.DataFrame | None:
    """``referer``, ``user_agent``, ``requests``: the Combined format's referer and agent, cut
    from each distinct pair of the block (far fewer than its lines), or None if it has none."""
    if PAIR not in requests.columns:
        return None
    counts = requests.group_by(PAIR).agg(pl.len().cast(pl.UInt64).alias("requests"))
    return split_pairs(counts).select("referer", "user_agent", "requests")


def _logged(requests: pl.DataFrame, pairs: pl.DataFrame | None, key: str) -> pl.DataFrame:
    """Requests per value of a field some formats log: from the block's referer/agent pairs and
    from the column itself, whichever the block's formats wrote (empty if none)."""
    parts = [no_counts(key, pl.String)]
    if pairs is not None:
        parts.append(pairs.select(key, "requests").drop_nulls(key))
    if key in requests.columns:
        parts.append(_count(requests.select(key).drop_nulls(), key))  # the key alone: cheaper
    return parts[0] if len(parts) == 1 else add_counts(parts, key, ordered=False)


def summarize_lines(block: bytes, window: Window, choice: FormatChoice) -> LogSummary:
    """The summary of a block of whole lines (``lib.logs.reading.blocks.iter_blocks``) through
    polars alone: every line split, parsed as ``choice`` says and counted; the rejected
    examples' line numbers count from the block's first line."""
    lines = block_to_lines(block)
    requests, rejected, formats = parse_with(choice, lines, 1, window.only.needs_request)
    shape = choice.primary.pattern or None
    return summarize_parsed(lines.len(), requests, rejected, window, formats, shape)
