"""What every log format's parser produces, and the polars expressions that turn logged text
into it (times in the servers' notations, status, bytes, the request line).

A parser returns ``(requests, rejected)``: the requests with the columns of ``PARSED_SCHEMA``, and
those of ``EXTRA_SCHEMA`` that its format logs, in line order, and the rejected lines
(``line_no``, ``line``). With ``request_parts`` it adds ``request``, ``method``,
``path`` and ``protocol``.
"""

from __future__ import annotations

import polars as pl

from lib.logs.parsing import clf
from lib.logs.parsing.escapes import DECODERS
from lib.logs.parsing.roles import DURATION_SCALES

PARSED_SCHEMA = {
    "line_no": pl.UInt64,
    "host": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "utc_offset": pl.String,
    "status": pl.UInt16,
    "bytes": pl.Int64,
}
EXTRA_SCHEMA = {
    "referer": pl.String,
    "user_agent": pl.String,
    "vhost": pl.String,
    "duration_us": pl.Int64,  # the time the server took, in microseconds
}
# A duration role's unit, in microseconds (lib.logs.parsing.roles)
REQUEST_PARTS = ("request", "method", "path", "protocol")
REJECTED_SCHEMA = {"line_no": pl.UInt64, "line": pl.String}

_REQUEST_PATTERN = r"^(?P<method>[^ ]+)(?: (?P<path>.*?))??(?: (?P<protocol>HTTP/[0-9.]+))?$"


def numbered(lines: pl.Series, first_line_no: int) -> pl.DataFrame:
    """``line_no``, ``line``: the batch with its 1-based line numbers (nulls read as "")."""
    return (
        pl.DataFrame({"line": lines.cast(pl.String).fill_null("")})
        .with_row_index("line_no", offset=first_line_no)
        .with_columns(pl.col("line_no").cast(pl.UInt64))
    )


def with_clf_time(frame: pl.LazyFrame, stamp: pl.Expr) -> pl.LazyFrame:
    """``frame`` with ``time`` (UTC) and ``utc_offset`` (as written) from a stamp laid out as
    ``lib.logs.parsing.clf.STAMP_LAYOUT`` says (``dd/Mon/yyyy:HH:MM:SS +zzzz``); the time is null
    for an impossible date, second or offset.

    In two stages: polars evaluates an expression used twice in one stage twice, and the zone
    and second are used several times (measured: a fifth of the Common parse)."""
    minute = stamp.str.slice(*clf.MINUTE_SLICE).str.to_datetime(
        clf.MINUTE_FORMAT, strict=False, time_unit="us", time_zone="UTC", cache=True
    )  # a month has 44,640 minutes: each distinct one is parsed once
    return frame.with_columns(
        minute.alias("_minute"),
        stamp.str.slice(*clf.SECOND_SLICE).str.to_integer(strict=False).alias("_second"),
        stamp.str.slice(*clf.ZONE_SLICE).str.to_integer(strict=False).alias("_zone"),
        stamp.str.slice(*clf.ZONE_SLICE).alias("utc_offset"),
    ).with_columns(_utc(pl.col("_minute"), pl.col("_second"), pl.col("_zone")).alias("time"))


def _utc(minute: pl.Expr, second: pl.Expr, zone: pl.Expr) -> pl.Expr:
    """The UTC time from a local minute, its second and the zone as a number (e.g. -400)."""
    hours, minutes = zone.abs() // 100, zone.abs() % 100
    to_utc = -zone.sign() * (hours * 3600 + minutes * 60)  # -0400: add 4 h to get UTC
    valid = (second <= 59) & (hours <= 23) & (minutes <= 59)
    return pl.when(valid).then(minute + pl.duration(seconds=second + to_utc))


def iso_time(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """ISO 8601 with an offset (nginx ``$time_iso8601``: ``2026-11-30T10:43:07+01:00``, or
    ``Z``) -> (the UTC time, the offset as ``+0100``)."""
    time = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone="UTC"
    )
    zone = text.str.extract(r"([+-][0-9]{2}):?([0-9]{2})$", 0).str.replace(":", "")
    return time, pl.when(text.str.ends_with("Z")).then(pl.lit("+0000")).otherwise(zone)


def clf_ms_time(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """HAProxy's ``30/Nov/2026:10:43:07.123`` (its host's local time, no offset written) ->
    (the time read as UTC, ``+0000``)."""
    time = text.str.to_datetime("%d/%b/%Y:%H:%M:%S%.f", strict=False, time_unit="us")
    return time.dt.replace_time_zone("UTC"), pl.lit("+0000")


def epoch_time(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Seconds since 1970 (``1732963387.123``, nginx ``$msec``) -> (the UTC time, ``+0000``)."""
    seconds = text.cast(pl.Float64, strict=False)  # microseconds of 2026 fit in 53 bits
    micros = (seconds * 1_000_000).round().cast(pl.Int64, strict=False)
    return micros.cast(pl.Datetime("us", "UTC")), pl.lit("+0000")


def auto_time(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``epoch_time`` of a number, ``iso_time`` of anything else."""
    number = text.str.contains(r"^[0-9]+(?:\.[0-9]+)?$")
    (epoch, epoch_zone), (iso, iso_zone) = epoch_time(text), iso_time(text)
    return (
        pl.when(number).then(epoch).otherwise(iso),
        pl.when(number).then(epoch_zone).otherwise(iso_zone),
    )


def date_and_time(date: pl.Expr, clock: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """W3C ``date`` (``2026-11-30``) and ``time`` (``10:43:07``, UTC) -> (the time, ``+0000``)."""
    stamp = pl.concat_str([date, clock], separator=" ")
    time = stamp.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    return time.dt.replace_time_zone("UTC"), pl.lit("+0000")


def status(text: pl.Expr) -> pl.Expr:
    """A three-digit status, null otherwise."""
    return text.str.to_integer(strict=False).cast(pl.UInt16, strict=False)


def body_bytes(text: pl.Expr) -> pl.Expr:
    """Bytes sent; null where the server logged ``-`` (no body)."""
    return text.str.to_integer(strict=False)


def duration_us(role: str, text: pl.Expr) -> pl.Expr:
    """The time taken, in whole microseconds, from a field of duration ``role``; null where the
    server logged ``-``, a negative time (HAProxy's aborted requests log -1) or nothing
    readable."""
    value = text.str.strip_prefix("+").cast(pl.Float64, strict=False) * DURATION_SCALES[role]
    readable = value.is_finite() & (value >= 0) & (value < 2.0**62)
    return pl.when(readable).then(value.round().cast(pl.Int64, strict=False))


def logged(text: pl.Expr) -> pl.Expr:
    """A logged text field; null where the server logged ``-`` or nothing (no such value)."""
    return pl.when(text.is_in(["-", ""])).then(None).otherwise(text)


def unescape_columns(
    frame: pl.DataFrame, columns: tuple[str, ...], escapes: str = "backslash"
) -> pl.DataFrame:
    """``frame`` with the ``columns`` it has (fields the servers escape: referer, user agent)
    decoded as ``escapes`` says (``lib.logs.parsing.escapes.DECODERS``: Apache's and nginx's
    backslashes, CloudFront's %XX; IIS's + for a space is read by the parser): the same value
    logged by two servers is one value. Python decodes each distinct escaped value once; values
    without an escape, nearly all, pass untouched (a frame without one costs a search per
    column)."""
    if escapes not in DECODERS:
        return frame
    marker, decode = DECODERS[escapes]
    decoded = []
    for name in columns:
        if name not in frame.columns:
            continue
        values = frame.get_column(name)
        escaped = values.str.contains(marker, literal=True)
        if escaped.any():
            distinct = values.filter(escaped).unique().to_list()
            decoded.append(values.replace(distinct, [decode(value) for value in distinct]))
    return frame.with_columns(decoded) if decoded else frame


def request_parts(request: pl.Expr) -> pl.Expr:
    """A struct of ``method``, ``path`` and ``protocol`` from a request line."""
    return request.str.extract_groups(_REQUEST_PATTERN)
