"""The Common Log Format (NCSA; the NASA log's, Apache's ``common``) and its extension
``combined`` (Apache's and nginx's default: the same plus ``"referer" "user-agent"``).

A line is a request when it has the shape

    host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status bytes
    host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status bytes "referer" "user-agent"

In ``common`` the request text between the quotes may be anything, quotes and undecodable bytes
included (the 1995 servers did not escape it; the server still answered it, usually 400). In
``combined`` the referer and user agent are escaped the way the servers write them (Apache
``\"``, nginx ``\x22``), so a quote never ends them early. ``bytes`` is null where the server
logged ``-`` (no body sent); totals count it as 0. Every other line (empty, truncated, garbled, an
impossible date) is *rejected*: counted, never silently dropped, and a few are kept as examples.

This is the fast path of the two most common formats: ``parse_lines`` matches a fixed prefix and
suffix whole (two anchored matches are cheaper than one, and whole matches cheaper than capture
groups) and cuts the fields from them at known places. ``parse_line`` is the same code on a
batch of one.
"""

from __future__ import annotations

import polars as pl

from lib.logs.parsing.fields import (
    CLF_STAMP,
    REJECTED_SCHEMA,
    logged,
    numbered,
    request_parts,
    with_clf_time,
)

# The whole-line shapes, in the common subset of Python's `re` and Rust's `regex` syntax. A line
# has one exactly when the prefix matches at its start, the suffix at its end, and the two do not
# overlap. An escaped field: any character but a quote or a backslash, or a backslash and any.
PREFIX_PATTERN = rf'^[^ ]+ [^ ]+ [^ ]+ \[{CLF_STAMP}\] "'
SUFFIX_PATTERN = r'" [0-9]{3} (?:[0-9]{1,18}|-)$'
_FIELD = r'(?:[^"\\]|\\.)*'  # an escaped field's text: no bare quote or backslash
_ESCAPED = f'"{_FIELD}"'
COMBINED_SUFFIX_PATTERN = rf'" [0-9]{{3}} (?:[0-9]{{1,18}}|-) {_ESCAPED} {_ESCAPED}$'
PAIR = "referer_agent"  # Combined's `"referer" "user agent"` as logged, quotes and all
_PAIR_PATTERN = rf'^"(?P<referer>{_FIELD})" "(?P<user_agent>{_FIELD})"$'
LINE_PATTERN = rf'^[^ ]+ [^ ]+ [^ ]+ \[{CLF_STAMP}\] ".*" [0-9]{{3}} (?:[0-9]{{1,18}}|-)$'
COMBINED_LINE_PATTERN = LINE_PATTERN[:-1] + f" {_ESCAPED} {_ESCAPED}$"


def parse_lines(
    lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a batch of lines in the Common Log Format.

    Args:
        lines: the raw lines, without newlines.
        first_line_no: the 1-based line number of ``lines[0]`` in its file.
        request_parts: also return ``request``, ``method``, ``path`` and ``protocol``.

    Returns:
        ``(requests, rejected)`` as ``lib.logs.parsing.fields`` describes them.
    """
    return _parse(lines, first_line_no, request_parts, combined=False)


def parse_combined(
    lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``parse_lines`` for the Combined Log Format (referer and user agent filled in)."""
    return _parse(lines, first_line_no, request_parts, combined=True)


def _parse(
    lines: pl.Series, first_line_no: int, with_parts: bool, combined: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    line, prefix, suffix = pl.col("line"), pl.col("_prefix"), pl.col("_suffix")
    # The prefix ends with `[dd/Mon/yyyy:HH:MM:SS +zzzz] "`: the stamp is its 29th to 4th last
    # characters. The suffix is `" sss bytes`, and then `"referer" "user agent"` if combined.
    matched = (
        numbered(lines, first_line_no)
        .lazy()
        .with_columns(
            line.str.extract(PREFIX_PATTERN, 0).alias("_prefix"),
            line.str.extract(COMBINED_SUFFIX_PATTERN if combined else SUFFIX_PATTERN, 0).alias(
                "_suffix"
            ),
        )
    )
    # a line shorter than both shares one quote between them: not a request
    fits = line.str.len_bytes() >= prefix.str.len_bytes() + suffix.str.len_bytes()
    parsed = with_clf_time(matched, prefix.str.slice(-29, 26)).with_columns(
        (fits & pl.col("time").is_not_null()).fill_null(False).alias("_ok")
    )
    good = parsed.filter(pl.col("_ok"))
    sent = suffix.str.slice(6)  # bytes, and in combined `"referer" "user agent"` after them
    extras = []
    if combined:
        # bytes, then the quoted pair `"referer" "user agent"`, cut apart only for exploration:
        # a summary splits the distinct pairs of a block, far fewer than its lines
        good = good.with_columns(suffix.str.slice(6).str.splitn(" ", 2).alias("_tail"))
        sent = pl.col("_tail").struct.field("field_0")
        extras = [pl.col("_tail").struct.field("field_1").alias(PAIR)]
    columns = [
        "line_no",
        prefix.str.splitn(" ", 2).struct.field("field_0").alias("host"),
        "time",
        "utc_offset",
        suffix.str.slice(2, 3).str.to_integer().cast(pl.UInt16).alias("status"),
        sent.str.to_integer(strict=False).alias("bytes"),  # "-": null
        *extras,
    ]
    if with_parts:
        start = prefix.str.len_chars().cast(pl.Int64)
        length = line.str.len_chars().cast(pl.Int64) - start - suffix.str.len_chars()
        good = good.with_columns(line.str.slice(start, length).alias("request"))
        good = good.with_columns(request_parts(pl.col("request")).alias("_req")).unnest("_req")
        columns += ["request", "method", "path", "protocol"]
    good = good.select(columns)
    if combined and with_parts:
        good = split_pairs(good, PAIR).drop(PAIR)
    rejected = parsed.filter(~pl.col("_ok")).select(*REJECTED_SCHEMA)
    good, rejected = pl.collect_all([good, rejected], engine="streaming")
    return good, rejected


def split_pairs(frame: pl.LazyFrame, column: str = PAIR) -> pl.LazyFrame:
    """``frame`` with ``referer`` and ``user_agent`` cut from ``column`` (``"ref" "agent"``,
    each escaped as the servers write it); ``-`` or nothing is null.

    The referer ends at its first quote that no backslash escapes, which only the escaped-field
    grammar finds: a plain search for ``" "`` would stop inside ``"a\\" " "agent"``. A summary
    runs this on a block's distinct pairs, far fewer than its lines."""
    fields = pl.col(column).str.extract_groups(_PAIR_PATTERN)
    return (
        frame.with_columns(fields.alias("_fields"))
        .with_columns(
            logged(pl.col("_fields").struct.field("referer")).alias("referer"),
            logged(pl.col("_fields").struct.field("user_agent")).alias("user_agent"),
        )
        .drop("_fields")
    )


def parse_line(text: str | bytes) -> dict | None:
    """Parse one line; return its fields (with the request parts) or None if it is rejected."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    else:  # a str may hold lone surrogates, which no UTF-8 column can: read them as U+FFFD
        text = text.encode("utf-8", "replace").decode("utf-8")
    good, _ = parse_lines(pl.Series("line", [text.rstrip("\r\n")]), request_parts=True)
    return good.row(0, named=True) if good.height else None
