"""Why a line was rejected, for the report: the reasons a line is not a request, so that an
operator sees whether the log is damaged (cut or empty lines), in another format, or holds values
no server writes (an impossible date), without reading the lines one by one.

Each rejected line gets the first of ``REASONS`` that fits it; the counts per reason are in the
summary (``LogSummary.rejected_reasons``) and ``results.json`` (``rejected_by_reason``).
"""

from __future__ import annotations

import polars as pl

from lib.logs.reading.blocks import cut_line

REASONS = (
    "empty",
    "longer than any log line",  # cut by lib.logs.reading.blocks.iter_blocks
    "impossible value",  # the format's shape, but a time, offset or number no server writes
    "undecodable bytes",  # not UTF-8, or control characters, and not the format's shape
    "not the file's format",
)
_CUT = cut_line(0)[:12].decode()  # how a cut line starts


def rejected_reasons(rejected: pl.DataFrame, shape: str | None) -> pl.DataFrame:
    """``reason``, ``lines``: the rejected lines (``line_no``, ``line``) counted by reason;
    ``shape`` is the file's format's whole-line pattern (None: none to compare with)."""
    line = pl.col("line")
    fits = line.str.contains(shape) if shape else pl.lit(False)
    odd = line.str.contains("\ufffd", literal=True) | line.str.contains(r"[\x00-\x08\x0e-\x1f]")
    reason = (
        pl.when(line.str.strip_chars() == "")
        .then(pl.lit(REASONS[0]))
        .when(line.str.starts_with(_CUT))
        .then(pl.lit(REASONS[1]))
        .when(fits)
        .then(pl.lit(REASONS[2]))
        .when(odd)
        .then(pl.lit(REASONS[3]))
        .otherwise(pl.lit(REASONS[4]))
    )
    return (
        rejected.select(reason.alias("reason"))
        .group_by("reason")
        .agg(pl.len().cast(pl.UInt64).alias("lines"))
    )
