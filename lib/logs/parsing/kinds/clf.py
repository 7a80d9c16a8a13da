"""The ``clf`` parser kind: the Common and Combined Log Formats, whose grammar is
``lib.logs.parsing.clf``.

It matches a fixed prefix and suffix of each line whole (two anchored matches are cheaper than
one, and whole matches cheaper than capture groups) and cuts the fields from them at the places
the grammar fixes. In Combined the referer and user agent stay together as logged
(``referer_agent``) and are cut apart per distinct pair by ``split_pairs``: a block has far
fewer distinct pairs than lines. ``bytes`` is null where the server logged ``-``. Every other
line (empty, truncated, garbled, an impossible date) is rejected. ``parse_line`` is the same
code on a batch of one.
"""

from __future__ import annotations

import polars as pl

from lib.logs.parsing import clf
from lib.logs.parsing.fields import (
    REJECTED_SCHEMA,
    logged,
    numbered,
    request_parts,
    unescape_columns,
    with_clf_time,
)
from lib.logs.parsing.kinds import ParserKind

PAIR = "referer_agent"  # Combined's `"referer" "user agent"` as logged, quotes and all


def parse(
    fmt, lines: pl.Series, first_line_no: int = 1, with_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a batch of lines in ``fmt``, Common or Combined (as its roles say).

    Args:
        fmt: a ``LogFormat`` of this kind.
        lines: the raw lines, without newlines.
        first_line_no: the 1-based line number of ``lines[0]`` in its file.
        with_parts: also return ``request``, ``method``, ``path`` and ``protocol``.

    Returns:
        ``(requests, rejected)`` as ``lib.logs.parsing.kinds`` describes them.
    """
    combined = fmt.roles == clf.COMBINED_ROLES
    if not combined and fmt.roles != clf.COMMON_ROLES:
        raise ValueError(f"the clf kind reads Common or Combined, not {fmt.name}")
    line, prefix, suffix = pl.col("line"), pl.col("_prefix"), pl.col("_suffix")
    # The prefix ends with `[stamp] "`: the stamp is the STAMP_WIDTH characters before its
    # last three. The suffix is `" sss bytes`, and then `"referer" "user agent"` if combined.
    matched = (
        numbered(lines, first_line_no)
        .lazy()
        .with_columns(
            line.str.extract(clf.PREFIX, 0).alias("_prefix"),
            line.str.extract(clf.COMBINED_SUFFIX if combined else clf.SUFFIX, 0).alias("_suffix"),
        )
    )
    # a line shorter than both shares one quote between them: not a request
    fits = line.str.len_bytes() >= prefix.str.len_bytes() + suffix.str.len_bytes()
    stamp = prefix.str.slice(-(clf.STAMP_WIDTH + 3), clf.STAMP_WIDTH)
    parsed = with_clf_time(matched, stamp).with_columns(
        (fits & pl.col("time").is_not_null()).fill_null(False).alias("_ok")
    )
    good = parsed.filter(pl.col("_ok"))
    bytes_at = 2 + clf.STATUS_DIGITS + 1  # `" sss `
    sent = suffix.str.slice(bytes_at)  # bytes, and in combined `"referer" "user agent"` after them
    extras = []
    if combined:
        # bytes, then the quoted pair `"referer" "user agent"`, cut apart only for exploration:
        # a summary splits the distinct pairs of a block, far fewer than its lines
        good = good.with_columns(suffix.str.slice(bytes_at).str.splitn(" ", 2).alias("_tail"))
        sent = pl.col("_tail").struct.field("field_0")
        extras = [pl.col("_tail").struct.field("field_1").alias(PAIR)]
    columns = [
        "line_no",
        prefix.str.splitn(" ", 2).struct.field("field_0").alias("host"),
        "time",
        "utc_offset",
        suffix.str.slice(2, clf.STATUS_DIGITS).str.to_integer().cast(pl.UInt16).alias("status"),
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
    rejected = parsed.filter(~pl.col("_ok")).select(*REJECTED_SCHEMA)
    good, rejected = pl.collect_all([good, rejected], engine="streaming")
    if combined and with_parts:
        good = split_pairs(good, PAIR).drop(PAIR)
    return good, rejected


def split_pairs(frame: pl.DataFrame, column: str = PAIR) -> pl.DataFrame:
    """``frame`` with ``referer`` and ``user_agent`` cut from ``column`` (``"ref" "agent"``,
    each escaped as the servers write it) and decoded (``lib.logs.parsing.fields``'s
    ``unescape_columns``: nginx's ``\\x22`` and Apache's ``\\"`` give one value); ``-`` or
    nothing is null.

    The referer ends at its first quote that no backslash escapes, which only the escaped-field
    grammar finds: a plain search for ``" "`` would stop inside ``"a\\" " "agent"``. A summary
    runs this on a block's distinct pairs, far fewer than its lines (the compiled accelerator
    counts the pairs as logged: they are cut and decoded here, after it). Decoding is a step of
    its own after polars' (a Python function inside the query cost a millisecond a call)."""
    fields = pl.col(column).str.extract_groups(clf.PAIR)
    cut = (
        frame.lazy()
        .with_columns(fields.alias("_fields"))
        .with_columns(
            logged(pl.col("_fields").struct.field("referer")).alias("referer"),
            logged(pl.col("_fields").struct.field("user_agent")).alias("user_agent"),
        )
        .drop("_fields")
        .collect()
    )
    if not frame.get_column(column).str.contains("\\", literal=True).any():
        return cut  # nothing escaped: nothing to decode (most blocks' pairs)
    return unescape_columns(cut, ("referer", "user_agent"))


def parse_line(text: str | bytes, fmt=None) -> dict | None:
    """Parse one line in ``fmt`` (default: Common); return its fields (with the request parts)
    or None if it is rejected."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    else:  # a str may hold lone surrogates, which no UTF-8 column can: read them as U+FFFD
        text = text.encode("utf-8", "replace").decode("utf-8")
    from lib.logs.parsing.formats import FORMATS

    lines = pl.Series("line", [text.rstrip("\r\n")])
    good, _ = parse(fmt or FORMATS["common"], lines, with_parts=True)
    return good.row(0, named=True) if good.height else None


KIND = ParserKind(
    "clf", "Common and Combined: a fixed prefix and suffix, cut at known places", parse
)
