"""The Common Log Format (NCSA; the NASA log's, and Apache's ``common``).

A line is a request when it has the shape

    host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status bytes

The request text between the quotes may be anything, quotes and undecodable bytes included (the
server still answered it, usually 400). ``bytes`` is null where the server logged ``-`` (no body
sent); totals count it as 0. Every other line (empty, truncated, garbled, an impossible date) is
*rejected*: counted, never silently dropped, and a few are kept as examples.

One parser serves every caller: ``parse_lines`` turns a batch of raw lines into typed columns with
polars' vectorised string kernels; ``parse_line`` is the same code on a batch of one.
"""

from __future__ import annotations

import polars as pl

# The whole-line shape, in the common subset of Python's `re` and Rust's `regex` syntax. A line has
# it exactly when the prefix matches at its start, the suffix at its end, and the two do not
# overlap; ``parse_lines`` checks it that way (two anchored matches are cheaper than one, and
# whole matches cheaper than capture groups: the fields are cut from them at known places).
_STAMP = r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
PREFIX_PATTERN = rf'^[^ ]+ [^ ]+ [^ ]+ \[{_STAMP}\] "'
SUFFIX_PATTERN = r'" [0-9]{3} (?:[0-9]{1,18}|-)$'
LINE_PATTERN = rf'^[^ ]+ [^ ]+ [^ ]+ \[{_STAMP}\] ".*" [0-9]{{3}} (?:[0-9]{{1,18}}|-)$'
_REQUEST_PATTERN = r"^(?P<method>[^ ]+)(?: (?P<path>.*?))??(?: (?P<protocol>HTTP/[0-9.]+))?$"


def parse_lines(
    lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a batch of lines.

    Args:
        lines: the raw lines, without newlines.
        first_line_no: the 1-based line number of ``lines[0]`` in its file.
        request_parts: also return ``request``, ``method``, ``path`` and ``protocol``.

    Returns:
        ``(requests, rejected)``: the parsed requests (columns of PARSED_SCHEMA, plus the request
        parts if asked) and the rejected lines (``line_no``, ``line``), both in line order.
    """
    line, prefix, suffix = pl.col("line"), pl.col("_prefix"), pl.col("_suffix")
    frame = (
        pl.DataFrame({"line": lines.cast(pl.String).fill_null("")})
        .with_row_index("line_no", offset=first_line_no)
        .with_columns(pl.col("line_no").cast(pl.UInt64))
    )
    # The prefix ends with `[dd/Mon/yyyy:HH:MM:SS +zzzz] "`: the stamp is its 29th to 4th last
    # characters. The suffix is `" sss bytes`.
    parsed = (
        frame.lazy()
        .with_columns(
            line.str.extract(PREFIX_PATTERN, 0).alias("_prefix"),
            line.str.extract(SUFFIX_PATTERN, 0).alias("_suffix"),
        )
        .with_columns(
            _minute(prefix.str.slice(-29, 17)).alias("_minute"),
            prefix.str.slice(-11, 2).str.to_integer(strict=False).alias("_second"),
            prefix.str.slice(-8, 5).str.to_integer(strict=False).alias("_zone"),
            # a line shorter than both shares one quote between them: not a request
            (line.str.len_bytes() >= prefix.str.len_bytes() + suffix.str.len_bytes()).alias(
                "_fits"
            ),
        )
        .with_columns(_to_utc().alias("time"))
        .with_columns(
            (pl.col("_fits") & pl.col("time").is_not_null()).fill_null(False).alias("_ok")
        )
    )
    columns = [
        "line_no",
        prefix.str.splitn(" ", 2).struct.field("field_0").alias("host"),
        "time",
        prefix.str.slice(-8, 5).alias("utc_offset"),
        suffix.str.slice(2, 3).str.to_integer().cast(pl.UInt16).alias("status"),
        suffix.str.slice(6).str.to_integer(strict=False).alias("bytes"),  # "-" -> null
    ]
    good = parsed.filter(pl.col("_ok"))
    if request_parts:
        start = prefix.str.len_chars().cast(pl.Int64)
        length = line.str.len_chars().cast(pl.Int64) - start - suffix.str.len_chars()
        good = good.with_columns(line.str.slice(start, length).alias("request"))
        good = good.with_columns(
            pl.col("request").str.extract_groups(_REQUEST_PATTERN).alias("_req")
        ).unnest("_req")
        columns += ["request", "method", "path", "protocol"]
    rejected = parsed.filter(~pl.col("_ok")).select("line_no", "line")
    good, rejected = pl.collect_all([good.select(columns), rejected], engine="streaming")
    return good, rejected


def _minute(text: pl.Expr) -> pl.Expr:
    """``dd/Mon/yyyy:HH:MM`` -> datetime (null if impossible, e.g. 32 Aug). A month has only
    44,640 minutes, so each distinct one is parsed once (``cache``)."""
    return text.str.to_datetime(
        "%d/%b/%Y:%H:%M", strict=False, time_unit="us", time_zone="UTC", cache=True
    )


def _to_utc() -> pl.Expr:
    """The UTC time from the ``_minute``, ``_second`` and ``_zone`` (e.g. -400) columns; null if
    the seconds or the offset are out of range."""
    second, zone = pl.col("_second"), pl.col("_zone")
    hours, minutes = zone.abs() // 100, zone.abs() % 100
    to_utc = -zone.sign() * (hours * 3600 + minutes * 60)  # -0400: add 4 h to get UTC
    valid = (second <= 59) & (hours <= 23) & (minutes <= 59)
    return pl.when(valid).then(pl.col("_minute") + pl.duration(seconds=second + to_utc))


def parse_line(text: str | bytes) -> dict | None:
    """Parse one line; return its fields (with the request parts) or None if it is rejected."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    else:  # a str may hold lone surrogates, which no UTF-8 column can: read them as U+FFFD
        text = text.encode("utf-8", "replace").decode("utf-8")
    good, _ = parse_lines(pl.Series("line", [text.rstrip("\r\n")]), request_parts=True)
    return good.row(0, named=True) if good.height else None
