"""The ``regex`` parser kind: a whole-line regular expression with one group per logged field,
and what each field holds (its role, ``lib.logs.parsing.roles``). Formats compiled from an
Apache ``LogFormat`` string, an nginx ``log_format`` string or a W3C ``#Fields:`` header
(``lib.logs.parsing._format_strings``) are parsed here; Common and Combined have a faster kind of
their own (``lib.logs.parsing.kinds.clf``).
"""

from __future__ import annotations

import polars as pl

from lib.errors import ConfigError
from lib.logs.parsing import fields as f
from lib.logs.parsing.field_values import Fields, requests_and_rejected
from lib.logs.parsing.kinds import ParserKind


def parse(
    fmt, lines: pl.Series, first_line_no: int = 1, with_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse ``lines`` with ``fmt.pattern`` (groups ``g0``, ``g1``, ... holding ``fmt.roles``).

    Lines starting with ``fmt.skip_prefix`` (W3C directives) are neither requests nor rejected.
    Returns ``(requests, rejected)`` as ``lib.logs.parsing.kinds`` describes them; ConfigError
    for a format that has no pattern yet (``w3c`` takes its fields from a log's header).
    """
    if not fmt.pattern:
        raise ConfigError(f"the {fmt.name} format takes its fields from a log's header")
    line = pl.col("line")
    frame = f.numbered(lines, first_line_no).lazy()
    if fmt.skip_prefix:
        frame = frame.filter(~line.str.starts_with(fmt.skip_prefix))
    frame = frame.with_columns(line.str.extract_groups(fmt.pattern).alias("_g"))
    matched = pl.col("_g").struct.field("g0").is_not_null()
    plus = fmt.escapes == "plus"  # IIS writes a value's spaces as +
    good, rejected = requests_and_rejected(frame, _fields(fmt.roles), matched, with_parts, plus)
    return f.unescape_columns(good, ("referer", "user_agent"), fmt.escapes), rejected


def _fields(roles: tuple[str, ...]) -> Fields:
    """Role -> the expression of the first group holding it, for the roles the format has."""
    found: Fields = {}
    for index, role in enumerate(roles):
        if role != "other" and role not in found:
            found[role] = pl.col("_g").struct.field(f"g{index}")
    return found


KIND = ParserKind("regex", "a whole-line regular expression with a group per field", parse)
