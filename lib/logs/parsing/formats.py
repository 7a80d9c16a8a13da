"""Access-log formats: a registry with one entry per format, detection, and custom formats.

``FORMATS`` holds the formats Q1 knows by name; adding one is an entry here (a fast parser of its
own, or an Apache ``LogFormat`` / nginx ``log_format`` string it is compiled from) and its tests
under ``tests/unit/logs/``. ``log_format(text)`` takes a registered name, ``auto``, or a custom
format written the way servers are configured. ``detect`` picks the registered format that
parses the first lines of a log; a W3C extended log names its fields in a ``#Fields:`` header.

Every parser returns ``(requests, rejected)`` as ``lib.logs.parsing.fields`` describes them.
``FormatChoice`` reads a log with one format and gives each line it rejects a second chance
with the other registered formats (a server whose configuration changed mid-file), counting
the requests per format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import polars as pl

from lib.errors import ConfigError
from lib.logs.engines.options import AUTO as AUTO
from lib.logs.parsing import common, regex
from lib.logs.parsing.directives import compile_apache, compile_nginx, compile_w3c, dialect
from lib.logs.parsing.fields import EXTRA_SCHEMA, PARSED_SCHEMA, REJECTED_SCHEMA

__all__ = ["EXTRA_SCHEMA", "FORMATS", "PARSED_SCHEMA", "FormatChoice", "LogFormat", "detect"]

W3C = "w3c"
_FEW = 512  # rejected lines checked one by one for another format's shape before parsing them


@dataclass(frozen=True)
class LogFormat:
    """A way lines are written. ``parser`` is ``common`` or ``combined`` (the fast path) or
    ``regex`` (``pattern`` with groups ``g0``... holding ``roles``). Plain data, so that it
    travels to Dask workers."""

    name: str
    description: str
    parser: str = "regex"
    pattern: str = ""
    roles: tuple[str, ...] = ()
    skip_prefix: str | None = None  # lines starting so are directives, not requests

    def parse_lines(
        self, lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        if self.parser == "common":
            return common.parse_lines(lines, first_line_no, request_parts)
        if self.parser == "combined":
            return common.parse_combined(lines, first_line_no, request_parts)
        if self.parser == W3C and not self.pattern:
            raise ConfigError("a W3C log is read with the fields of its #Fields: header")
        return regex.parse(
            self.pattern, self.roles, lines, first_line_no, request_parts, self.skip_prefix
        )

    @property
    def shape(self) -> str:
        """A regular expression every line this format reads matches (Python and Rust alike)."""
        if self.parser == "common":
            return common.LINE_PATTERN
        if self.parser == "combined":
            return common.COMBINED_LINE_PATTERN
        return self.pattern

    @property
    def has_referer(self) -> bool:
        return self.parser == "combined" or "referer" in self.roles

    @property
    def has_user_agent(self) -> bool:
        return self.parser == "combined" or "user_agent" in self.roles


def _compiled(name: str, description: str, source: str) -> LogFormat:
    kind = dialect(source)
    built = compile_apache(source) if kind == "apache" else compile_nginx(source)
    return LogFormat(name, description, "regex", built.pattern, built.roles)


FORMATS: dict[str, LogFormat] = {
    "combined": LogFormat(
        "combined",
        'Combined Log Format (Apache and nginx default): common + "referer" "user-agent"',
        "combined",
    ),
    "common": LogFormat(
        "common",
        'Common Log Format (NCSA): host ident user [time] "request" status bytes',
        "common",
    ),
    "vhost_combined": _compiled(
        "vhost_combined",
        "Apache vhost_combined: virtual host:port, then the Combined Log Format",
        r"%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"",
    ),
    "vhost_common": _compiled(
        "vhost_common",
        "Apache vhost_common: virtual host, then the Common Log Format",
        r"%v %h %l %u %t \"%r\" %>s %b",
    ),
    "host_combined": _compiled(
        "host_combined",
        "nginx with $host before the client, then the Combined Log Format",
        '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent"',
    ),
    W3C: LogFormat(W3C, "W3C extended (IIS and others): fields named by its #Fields: header", W3C),
}


def w3c_format(header: str) -> LogFormat:
    """The W3C extended format whose ``#Fields:`` header is ``header``."""
    built = compile_w3c(header)
    fields = header.removeprefix("#Fields:").strip()
    return LogFormat(W3C, f"W3C extended: {fields}", W3C, built.pattern, built.roles, "#")


def log_format(text: str) -> LogFormat:
    """The registered format called ``text``, or ``text`` compiled as an Apache ``LogFormat``
    or nginx ``log_format`` string. ConfigError for anything else (``auto`` is resolved by
    ``detect``, per file)."""
    if text in FORMATS:
        return FORMATS[text]
    kind = dialect(text)
    if kind is None:
        known = ", ".join([AUTO, *FORMATS])
        raise ConfigError(
            f"unknown log format {text!r}: use one of {known}, or an Apache LogFormat or nginx "
            "log_format string"
        )
    return _compiled("custom", f"{kind} format {text.strip()}", text)


def detect(sample: Iterable[str]) -> LogFormat | None:
    """The format of a log from its first lines: W3C when they hold a ``#Fields:`` header, else
    the registered format that parses the most of them (ties: the order of ``FORMATS``); None
    when none parses any. Lines are matched against each format's shape first (microseconds),
    and only the likeliest formats parsed to count the lines they read."""
    lines = [line for line in sample if line.strip()]
    for line in lines:
        if line.startswith("#Fields:"):
            return w3c_format(line)
    candidates = [fmt for fmt in FORMATS.values() if fmt.parser != W3C]
    fits = {
        fmt.name: sum(1 for line in lines if _compiled_shape(fmt.shape).search(line))
        for fmt in candidates
    }
    series = pl.Series("line", lines, dtype=pl.String)
    best, most = None, 0
    for fmt in sorted(candidates, key=lambda fmt: -fits[fmt.name]):
        if fits[fmt.name] <= most:
            break  # no format can read more lines than match its shape
        parsed = fmt.parse_lines(series)[0].height
        if parsed > most:
            best, most = fmt, parsed
    return best


@dataclass(frozen=True)
class FormatChoice:
    """How one log is read: ``primary`` first; a line it rejects is tried with each of
    ``others`` in turn, and is rejected only if none reads it."""

    primary: LogFormat
    others: tuple[LogFormat, ...] = field(default=())

    @classmethod
    def of(cls, primary: LogFormat) -> FormatChoice:
        """``primary``, with the other registered formats (by name) as second chances."""
        others = tuple(
            fmt for fmt in FORMATS.values() if fmt.parser != W3C and fmt.name != primary.name
        )
        return cls(primary, others)

    @property
    def names(self) -> list[str]:
        return [self.primary.name, *(fmt.name for fmt in self.others)]

    def parse(
        self, lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
        """``(requests, rejected, requests per format name)``, both frames in line order."""
        requests, rejected = self.primary.parse_lines(lines, first_line_no, request_parts)
        counts = {self.primary.name: requests.height} if requests.height else {}
        found = [requests]
        for fmt in self.others:
            if rejected.is_empty():
                break
            again, rejected = _retry(fmt, rejected, request_parts)
            if again.height:
                counts[fmt.name] = counts.get(fmt.name, 0) + again.height
                found.append(again)
        if len(found) > 1:
            requests = pl.concat(found, how="diagonal_relaxed").sort("line_no")
        return requests, rejected, counts

    def parse_numbered(
        self, lines: pl.DataFrame, request_parts: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
        """``parse`` for lines that keep their own numbers (``line_no``, ``line``; e.g. those a
        faster reader left over): every format, the primary too, checks a few lines for its
        shape before it parses them. With no request found, ``requests`` is empty (and has the
        columns of ``lines``)."""
        found, counts, rejected = [], {}, lines.select(*REJECTED_SCHEMA)
        for fmt in (self.primary, *self.others):
            if rejected.is_empty():
                break
            again, rejected = _retry(fmt, rejected, request_parts)
            if again.height:
                counts[fmt.name] = again.height
                found.append(again)
        if not found:
            return lines.clear(), rejected, counts
        return pl.concat(found, how="diagonal_relaxed").sort("line_no"), rejected, counts


def _retry(
    fmt: LogFormat, rejected: pl.DataFrame, request_parts: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse the rejected lines with ``fmt``, keeping their line numbers. A few lines (the
    usual handful of damaged ones per block) are first checked for the format's shape in
    Python, which costs microseconds where a parse costs milliseconds."""
    lines = rejected.get_column("line")
    if rejected.height <= _FEW:
        shape = _compiled_shape(fmt.shape)
        if not any(shape.search(text) for text in lines.to_list()):
            return rejected.clear(), rejected
    again, still = fmt.parse_lines(lines, 0, request_parts)
    numbers = rejected.get_column("line_no")
    again = again.with_columns(numbers.gather(again.get_column("line_no")).alias("line_no"))
    still = still.with_columns(numbers.gather(still.get_column("line_no")).alias("line_no"))
    return again, still.select(*REJECTED_SCHEMA)


@cache
def _compiled_shape(pattern: str) -> re.Pattern:
    return re.compile(pattern)


# What a run reads with when nothing else is said (tests and exploration): the Common Log Format.
parse_lines = FORMATS["common"].parse_lines
