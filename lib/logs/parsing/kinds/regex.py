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
    pattern, roles, skip_prefix = fmt.pattern, fmt.roles, fmt.skip_prefix
    line = pl.col("line")
    frame = f.numbered(lines, first_line_no).lazy()
    if skip_prefix:
        frame = frame.filter(~line.str.starts_with(skip_prefix))
    field = _fields(roles)
    parsed = _with_time(frame.with_columns(line.str.extract_groups(pattern).alias("_g")), field)
    matched = pl.col("_g").struct.field("g0").is_not_null()
    host = _get(field, "host")
    ok = (matched & pl.col("time").is_not_null() & host.is_not_null()).fill_null(False)
    parsed = parsed.with_columns(ok.alias("_ok"))
    request = _request(field)
    columns = [
        "line_no",
        host.alias("host"),
        "time",
        "utc_offset",
        f.status(_get(field, "status")).alias("status"),
        f.body_bytes(_get(field, "bytes")).alias("bytes"),
    ]
    w3c = "date" in roles
    if "referer" in field:
        columns.append(f.logged(field["referer"]).alias("referer"))
    if "user_agent" in field:
        columns.append(_agent(field["user_agent"], w3c).alias("user_agent"))
    good = parsed.filter(pl.col("_ok"))
    if with_parts:
        good = good.with_columns(request.alias("request"))
        good = good.with_columns(f.request_parts(pl.col("request")).alias("_req")).unnest("_req")
        columns += list(f.REQUEST_PARTS)
    rejected = parsed.filter(~pl.col("_ok")).select(*f.REJECTED_SCHEMA)
    good, rejected = pl.collect_all([good.select(columns), rejected])
    if not w3c:  # Apache and nginx escape these; W3C logs (IIS) keep them as logged
        good = f.unescape_columns(good, ("referer", "user_agent"))
    return good, rejected


def _fields(roles: tuple[str, ...]) -> dict[str, pl.Expr]:
    """Role -> the expression of the first group holding it, for the roles the format has."""
    found: dict[str, pl.Expr] = {}
    for index, role in enumerate(roles):
        if role != "other" and role not in found:
            found[role] = pl.col("_g").struct.field(f"g{index}")
    return found


def _get(field: dict[str, pl.Expr], role: str) -> pl.Expr:
    return field.get(role, pl.lit(None, pl.String))


def _with_time(frame: pl.LazyFrame, field: dict[str, pl.Expr]) -> pl.LazyFrame:
    """``frame`` with ``time`` and ``utc_offset`` from whichever time field the format has."""
    if "time_clf" in field:
        return f.with_clf_time(frame, field["time_clf"].str.strip_chars("[]"))
    if "time_iso" in field:
        time, offset = f.iso_time(field["time_iso"])
    elif "time_epoch" in field:
        time, offset = f.epoch_time(field["time_epoch"])
    elif "date" in field:
        time, offset = f.date_and_time(field["date"], _get(field, "clock"))
    else:
        time, offset = pl.lit(None, pl.Datetime("us", "UTC")), pl.lit(None, pl.String)
    return frame.with_columns(time.alias("time"), offset.alias("utc_offset"))


def _request(field: dict[str, pl.Expr]) -> pl.Expr:
    """The request line as logged, or made of its parts (``GET /a?q=1 HTTP/1.1``)."""
    if "request" in field:
        return field["request"]
    query = f.logged(_get(field, "query").str.strip_prefix("?"))
    path = _get(field, "path")
    target = pl.when(query.is_not_null()).then(pl.concat_str([path, pl.lit("?"), query]))
    parts = [_get(field, "method"), target.otherwise(path), f.logged(_get(field, "protocol"))]
    return pl.concat_str(parts, separator=" ", ignore_nulls=True)


def _agent(agent: pl.Expr, w3c: bool) -> pl.Expr:
    """The user agent; W3C logs (IIS) write its spaces as ``+``."""
    agent = f.logged(agent)
    return agent.str.replace_all("+", " ", literal=True) if w3c else agent


KIND = ParserKind("regex", "a whole-line regular expression with a group per field", parse)
