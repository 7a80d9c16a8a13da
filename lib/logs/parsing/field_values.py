"""A format's logged fields, one polars expression of its text per role (``roles``), turned
into a parser's ``(requests, rejected)`` (``lib.logs.parsing.kinds``): the time from whichever
time field the format has, the request line as logged or made of its parts, status, bytes,
referer, user agent, the forwarding headers. Every kind whose fields come out as text (a regular
expression's groups, a JSON object's values) shares it.
"""

from __future__ import annotations

import polars as pl

from lib.logs.parsing import fields as f
from lib.logs.parsing.roles import CLIENT_ROLES, FORWARDING_ROLES

Fields = dict[str, pl.Expr]  # role -> the expression of its logged text


def requests_and_rejected(
    frame: pl.LazyFrame,
    field: Fields,
    matched: pl.Expr,
    with_parts: bool = False,
    plus_spaces: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` (``line_no``, ``line``) read with ``field``: the lines ``matched`` says the
    format holds, with a time and a client, are requests; the others are rejected.
    ``with_parts``: the request line and its parts, too (what the URLs' answers and the
    filters read); ``plus_spaces``: the user agent writes its spaces as ``+`` (W3C logs, IIS)."""
    parsed = with_time(frame, field)
    # a client: the peer's address, or (a format that logs none) a forwarding header's
    client = pl.any_horizontal(
        *(field[role].is_not_null() for role in CLIENT_ROLES if role in field)
    )
    ok = (matched & pl.col("time").is_not_null() & client).fill_null(False)
    parsed = parsed.with_columns(ok.alias("_ok"))
    columns = [
        "line_no",
        get(field, "host").alias("host"),
        "time",
        "utc_offset",
        f.status(get(field, "status")).alias("status"),
        f.body_bytes(get(field, "bytes")).alias("bytes"),
    ]
    columns += [field[role].alias(role) for role in FORWARDING_ROLES if role in field]
    if "vhost" in field:
        columns.append(f.logged(field["vhost"]).alias("vhost"))
    timed = [role for role in f.DURATION_SCALES if role in field]
    if timed:
        columns.append(f.duration_us(timed[0], field[timed[0]]).alias("duration_us"))
    if "referer" in field:
        columns.append(f.logged(field["referer"]).alias("referer"))
    if "user_agent" in field:
        columns.append(_agent(field["user_agent"], plus_spaces).alias("user_agent"))
    good = parsed.filter(pl.col("_ok"))
    if with_parts:
        good = good.with_columns(request_line(field).alias("request"))
        good = good.with_columns(f.request_parts(pl.col("request")).alias("_req")).unnest("_req")
        columns += list(f.REQUEST_PARTS)
    rejected = parsed.filter(~pl.col("_ok")).select(*f.REJECTED_SCHEMA)
    good, rejected = pl.collect_all([good.select(columns), rejected])
    return good, rejected


def get(field: Fields, role: str) -> pl.Expr:
    """The role's text, or null where the format has no such field."""
    return field.get(role, pl.lit(None, pl.String))


def with_time(frame: pl.LazyFrame, field: Fields) -> pl.LazyFrame:
    """``frame`` with ``time`` and ``utc_offset`` from whichever time field the format has."""
    if "time_clf" in field:
        return f.with_clf_time(frame, field["time_clf"].str.strip_chars("[]"))
    if "time_iso" in field:
        time, offset = f.iso_time(field["time_iso"])
    elif "time_clf_ms" in field:
        time, offset = f.clf_ms_time(field["time_clf_ms"])
    elif "time_epoch" in field:
        time, offset = f.epoch_time(field["time_epoch"])
    elif "time_auto" in field:
        time, offset = f.auto_time(field["time_auto"])
    elif "date" in field:
        time, offset = f.date_and_time(field["date"], get(field, "clock"))
    else:
        time, offset = pl.lit(None, pl.Datetime("us", "UTC")), pl.lit(None, pl.String)
    return frame.with_columns(time.alias("time"), offset.alias("utc_offset"))


def request_line(field: Fields) -> pl.Expr:
    """The request line as logged, or made of its parts (``GET /a?q=1 HTTP/1.1``)."""
    if "request" in field:
        return field["request"]
    query = f.logged(get(field, "query").str.strip_prefix("?"))
    path = get(field, "path")
    target = pl.when(query.is_not_null()).then(pl.concat_str([path, pl.lit("?"), query]))
    parts = [get(field, "method"), target.otherwise(path), f.logged(get(field, "protocol"))]
    return pl.concat_str(parts, separator=" ", ignore_nulls=True)


def _agent(agent: pl.Expr, plus_spaces: bool) -> pl.Expr:
    """The user agent; W3C logs (IIS) write its spaces as ``+``."""
    agent = f.logged(agent)
    return agent.str.replace_all("+", " ", literal=True) if plus_spaces else agent
