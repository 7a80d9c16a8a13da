"""Access-log formats: one module per format, one entry each in ``FORMATS``.

Every format's ``parse_lines(lines, first_line_no=1, request_parts=False)`` takes a batch of raw
lines (a polars String Series, no newlines) and returns ``(requests, rejected)``: the requests
with the columns of ``PARSED_SCHEMA`` in line order (plus ``request``, ``method``, ``path`` and
``protocol`` with ``request_parts``), and the rejected lines (``line_no``, ``line``). Adding a
format is a module here, its entry below, and its tests under ``tests/unit/logs/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from lib.errors import ConfigError
from lib.logs.formats import common

PARSED_SCHEMA = {
    "line_no": pl.UInt64,
    "host": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "utc_offset": pl.String,
    "status": pl.UInt16,
    "bytes": pl.Int64,
}


@dataclass(frozen=True)
class LogFormat:
    name: str
    description: str
    parse_lines: Callable[..., tuple[pl.DataFrame, pl.DataFrame]]


FORMATS = {
    "common": LogFormat(
        "common",
        'Common Log Format: host ident user [time] "request" status bytes',
        common.parse_lines,
    ),
}
DEFAULT_FORMAT = "common"


def log_format(name: str = DEFAULT_FORMAT) -> LogFormat:
    """The registered format called ``name``; ConfigError naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown log format {name!r}; known: {', '.join(FORMATS)}") from None


# What a Q1 run parses with: the default format's parser.
parse_lines = FORMATS[DEFAULT_FORMAT].parse_lines
