"""Access-log formats: a registry with one entry per format, and custom formats written the way
servers are configured.

A ``LogFormat`` is data (so it travels to Dask workers): a name, the parser kind that reads it
(``lib.logs.parsing.kinds``), a whole-line regular expression every line it reads matches, the
role of each field, and optionally a compiled accelerator (``lib.logs.parsing.accelerators``)
that counts the lines it is certain of without polars. ``FORMATS`` holds the formats Q1 knows by
name; adding one is an entry here and its tests. ``log_format(text)`` takes a registered name or
a custom format: an Apache ``LogFormat`` or nginx ``log_format`` string, compiled by
``lib.logs.parsing._format_strings``. A file may also declare its format in a header line
(``HEADERS``: W3C's ``#Fields:``). ``FormatChoice`` says how a log is read: with one format,
each line it rejects given a second chance with the other registered ones (a server whose
configuration changed mid-file; ``lib.logs.parsing.second_chances`` does the reading).

This module imports no polars: a command plans its run (formats, detection) before polars is
loaded. Parsing loads the kind's module, and polars with it, on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING

from lib.errors import ConfigError
from lib.logs.parsing import clf
from lib.logs.parsing._format_strings import (
    compile_apache,
    compile_layout,
    compile_nginx,
    compile_w3c,
    dialect,
)
from lib.logs.parsing.clients import ClientRule
from lib.logs.parsing.kinds import load
from lib.logs.parsing.roles import ROLES, has_client_and_time
from lib.logs.parsing.tails import layout
from lib.logs.parsing.wrappers import WRAPPERS, parse_wrapped

if TYPE_CHECKING:  # for the annotations only: importing it loads polars
    import polars as pl

AUTO = "auto"  # as a format: detected per file (lib.logs.parsing.detect)
W3C = "w3c"
CLOUDFRONT = "cloudfront"
_FIELDS = "#Fields:"  # the W3C header line that declares the fields of the lines after it


@dataclass(frozen=True)
class LogFormat:
    """A way lines are written (see the module's doc). ``pattern``: a whole-line regular
    expression in the common subset of Python's and Rust's syntax that every line the format
    reads matches (the ``regex`` kind parses with it: groups ``g0``... hold ``roles``)."""

    name: str
    description: str
    kind: str  # a key of lib.logs.parsing.kinds.KINDS
    pattern: str = ""
    roles: tuple[str, ...] = ()  # of lib.logs.parsing.roles.ROLES, one per field, in order
    skip_prefix: str | None = None  # lines starting so are directives, not requests
    accelerator: str | None = None  # a key of lib.logs.parsing.accelerators.ACCELERATORS
    header: str | None = None  # a line starting so declares the fields (HEADERS builds them)
    keys: tuple[str, ...] = ()  # the json kind: where each role's value is in the object
    escapes: str = "backslash"  # how quoted values are escaped: backslash, plus, percent
    wrapper: str | None = None  # a key of lib.logs.parsing.wrappers.WRAPPERS: lines inside it
    inner: LogFormat | None = None  # a wrapped format: the format of the lines inside

    def parse_lines(
        self, lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``(requests, rejected)`` of a batch of lines, as ``lib.logs.parsing.kinds`` says."""
        if self.wrapper is not None:
            return parse_wrapped(self, lines, first_line_no, request_parts)
        return load(self.kind).parse(self, lines, first_line_no, request_parts)

    @property
    def shape(self) -> re.Pattern:
        """``pattern`` compiled by Python's ``re``: a line it does not match is not read."""
        return _compiled(self.pattern)

    @property
    def has_referer(self) -> bool:
        return "referer" in self.roles

    @property
    def has_user_agent(self) -> bool:
        return "user_agent" in self.roles


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


JSON_OBJECT = r"^\s*\{.*\}\s*$"  # what every JSON-lines format's line is
JSON_FIELDS = {  # the names a json: mapping may use beside the roles'
    "client": "host",
    "time": "time_auto",
    "agent": "user_agent",
    "forwarded": "forwarded_for",
    "duration": "duration_s",
}


def _json(name: str, description: str, roles: dict[str, str]) -> LogFormat:
    """A format of the json kind: each role's value at its path (``a|b``: the first there)."""
    return LogFormat(
        name, description, "json", JSON_OBJECT, tuple(roles), keys=tuple(roles.values())
    )


NGINX_COMBINED = clf.NGINX["combined"]


def _accelerator(pattern: str, roles: tuple[str, ...]) -> str | None:
    """``clf`` for a regex-kind format that is Combined and then fields the compiled counter
    matches (``lib.logs.parsing.tails``), else None."""
    return "clf" if layout(pattern, roles) is not None else None


def _with_tail(name: str, description: str, source: str) -> LogFormat:
    """The format ``source`` compiles to, then a space and any text (its fields kept whole)."""
    fmt = _from_string(name, description, source)
    group = f"(?P<g{len(fmt.roles)}>.+)"
    pattern, roles = fmt.pattern[:-1] + f" {group}$", (*fmt.roles, "other")
    return LogFormat(
        name, description, "regex", pattern, roles, accelerator=_accelerator(pattern, roles)
    )


def _laid_out(name: str, description: str, *parts: str | tuple[str, str | None]) -> LogFormat:
    """A format of the regex kind written out piece by piece (``compile_layout``)."""
    built = compile_layout(*parts)
    return LogFormat(name, description, "regex", built.pattern, built.roles)


_WORD = ("other", "[^ ]+")
_SECONDS = r"-?[0-9]+(?:\.[0-9]+)?"  # AWS's processing times: -1 where there was none
_STATUS_OR_DASH = r"[0-9]{3}|-"
_TAIL = ("other", "(?: .*)?")  # fields a service may add at the end of its lines


# The layouts of formats no server's format string describes: literal text and (role, pattern).
_AWS_ALB = (
    ("other", "[a-z0-9]+"), " ", ("time_iso", None), " ", _WORD, " ",
    ("host", "[^ ]+"), ":", ("other", "[0-9]+"), " ", ("upstream_addr", "[^ ]+"), " ",
    ("other", _SECONDS), " ", ("upstream_time", _SECONDS), " ", ("other", _SECONDS), " ",
    ("status", _STATUS_OR_DASH), " ", ("upstream_status", _STATUS_OR_DASH), " ",
    ("request_length", "[0-9]+|-"), " ", ("bytes", "[0-9]+|-"),
    ' "', ("request", None), '" "', ("user_agent", None), '" ', ("other", ".*"),
)  # fmt: skip

_AWS_ELB = (
    ("time_iso", None), " ", _WORD, " ", ("host", "[^ ]+"), ":", ("other", "[0-9]+"), " ",
    ("upstream_addr", "[^ ]+"), " ", ("other", _SECONDS), " ",
    ("upstream_time", _SECONDS), " ", ("other", _SECONDS), " ",
    ("status", _STATUS_OR_DASH), " ", ("upstream_status", _STATUS_OR_DASH), " ",
    ("request_length", "[0-9]+"), " ", ("bytes", "[0-9]+"),
    ' "', ("request", None), '" "', ("user_agent", None), '" ', _WORD, " ", _WORD, _TAIL,
)  # fmt: skip

_AWS_S3 = (
    _WORD, " ", _WORD, " ", ("time_clf", None), " ", ("host", "[^ ]+"), " ",
    ("user", "[^ ]+"), " ", ("request_id", "[^ ]+"), " ", _WORD, " ", _WORD,
    ' "', ("request", None), '" ', ("status", _STATUS_OR_DASH), " ", _WORD, " ",
    ("bytes", "[0-9]+|-"), " ", ("other", "[0-9]+|-"), " ", ("duration_ms", "[0-9]+|-"),
    " ", ("other", "[0-9]+|-"), ' "', ("referer", None), '" "', ("user_agent", None), '"',
    _TAIL,
)  # fmt: skip

_HAPROXY_HTTP = (
    ("other", r"\[?"), ("host", r"[^ \]]+"), ("other", r"\]?"), ":", ("other", "[0-9]+"),
    " [", ("time_clf_ms", None), "] ",
    _WORD, " ", _WORD, " ", ("other", "(?:-?[0-9]+/){4}"), ("duration_ms", "[+]?-?[0-9]+"),
    " ", ("status", "-?[0-9]+"), " ", ("bytes", "[+]?[0-9]+"), " ", _WORD, " ", _WORD,
    " ", _WORD, " ", ("other", "(?:[0-9]+/){4}[+]?[0-9]+"), " ", ("other", "[0-9]+/[0-9]+"),
    ("other", "(?: [{][^}]*[}]){0,2}"), ' "', ("request", None), '"',
)  # fmt: skip

_SQUID = (
    ("time_epoch", "[0-9]+[.][0-9]{3}"), " ", ("other", " *"), ("duration_ms", "[0-9]+"),
    " ", ("host", "[^ ]+"), " ", ("other", "[A-Z_]+"), "/", ("status", "[0-9]{3}"), " ",
    ("bytes", "[0-9]+"), " ", ("method", "[^ ]+"), " ", ("path", "[^ ]+"), " ",
    ("user", "[^ ]+"), " ", ("other", "[A-Z_]+/[^ ]+"), " ", _WORD, _TAIL,
)  # fmt: skip


def _from_string(name: str, description: str, source: str) -> LogFormat:
    kind = dialect(source)
    built = compile_apache(source) if kind == "apache" else compile_nginx(source)
    return LogFormat(
        name,
        description,
        "regex",
        built.pattern,
        built.roles,
        accelerator=_accelerator(built.pattern, built.roles),
    )


FORMATS: dict[str, LogFormat] = {
    "combined": LogFormat(
        "combined",
        'Combined Log Format (Apache and nginx default): common + "referer" "user-agent"',
        "clf",
        clf.COMBINED_LINE,
        clf.COMBINED_ROLES,
        accelerator="clf",
    ),
    "common": LogFormat(
        "common",
        'Common Log Format (NCSA): host ident user [time] "request" status bytes',
        "clf",
        clf.COMMON_LINE,
        clf.COMMON_ROLES,
        accelerator="clf",
    ),
    "vhost_combined": _from_string(
        "vhost_combined",
        "Apache vhost_combined: virtual host:port, then the Combined Log Format",
        r"%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"",
    ),
    "vhost_common": _from_string(
        "vhost_common",
        "Apache vhost_common: virtual host, then the Common Log Format",
        r"%v %h %l %u %t \"%r\" %>s %b",
    ),
    "host_combined": _from_string(
        "host_combined",
        "nginx with $host before the client, then the Combined Log Format",
        '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent"',
    ),
    # Combined with fields after it, as servers behind proxies and in clusters write it.
    "nginx_main": _from_string(
        "nginx_main",
        'nginx\'s packaged "main": combined, then "$http_x_forwarded_for"',
        NGINX_COMBINED + ' "$http_x_forwarded_for"',
    ),
    "apache_combined_duration": _from_string(
        "apache_combined_duration",
        "Apache combined, then %D (the time taken, microseconds)",
        clf.APACHE["combined"] + " %D",
    ),
    "nginx_request_time": _from_string(
        "nginx_request_time",
        "nginx combined, then $request_time (seconds)",
        NGINX_COMBINED + " $request_time",
    ),
    "nginx_upstream_host": _from_string(
        "nginx_upstream_host",
        "nginx combined, then $upstream_response_time (a list when retried) and $host",
        NGINX_COMBINED + " $upstream_response_time $host",
    ),
    "ingress_nginx": _from_string(
        "ingress_nginx",
        "Kubernetes ingress-nginx's default (upstreaminfo): combined, then the request's "
        "length and time, the upstream's name, address, length, time and status, the request id",
        NGINX_COMBINED + " $request_length $request_time [$proxy_upstream_name] "
        "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "
        "$upstream_response_time $upstream_status $req_id",
    ),
    "traefik_clf": _from_string(
        "traefik_clf",
        "Traefik's default access log: combined, then the request count, the router, the "
        "service's URL and the duration in ms",
        NGINX_COMBINED + ' $request_count "$router_name" "$service_url" ${traefik_duration_ms}ms',
    ),
    "combined_plus": _with_tail(
        "combined_plus",
        "Combined with any fields after it (kept as they are)",
        clf.APACHE["combined"],
    ),
    # Load balancers', proxies' and storage services' own layouts.
    "aws_alb": _laid_out(
        "aws_alb",
        "AWS Application Load Balancer: type time elb client:port target:port three times, "
        'statuses, bytes received and sent, "request" "user-agent", then TLS and tracing fields',
        *_AWS_ALB,
    ),
    "aws_elb": _laid_out(
        "aws_elb",
        "AWS Classic Load Balancer: time elb client:port backend:port three times, statuses, "
        'bytes received and sent, "request" "user-agent" ssl_cipher ssl_protocol',
        *_AWS_ELB,
    ),
    "aws_s3": _laid_out(
        "aws_s3",
        "AWS S3 server access log: owner bucket [time] remote_ip requester request_id operation "
        'key "request" status error bytes object_size total_time turn_around "referer" '
        '"user-agent", then the fields S3 added since',
        *_AWS_S3,
    ),
    "haproxy_http": _laid_out(
        "haproxy_http",
        "HAProxy's HTTP log (option httplog): client:port [accept time, no offset: read as "
        "UTC] frontend backend/server timers status bytes cookies flags counters queues "
        '{captures} "request"',
        *_HAPROXY_HTTP,
    ),
    "squid": _laid_out(
        "squid",
        "Squid's native access log: time.ms elapsed client code/status bytes method URL user "
        "hierarchy/peer type",
        *_SQUID,
    ),
    W3C: LogFormat(
        W3C,
        "W3C extended (IIS and others): fields named by each #Fields: header",
        "declared",
        header=_FIELDS,
    ),
    CLOUDFRONT: LogFormat(
        CLOUDFRONT,
        "AWS CloudFront standard log (W3C, tab-separated): fields named by its #Fields: header",
        "declared",
        header=_FIELDS,
    ),
    "nginx_json": _json(
        "nginx_json",
        "nginx log_format escape=json, its keys named as the variables ($remote_addr...)",
        {
            "host": "remote_addr",
            "time_iso": "time_iso8601|time|@timestamp|timestamp",
            "request": "request",
            "status": "status",
            "bytes": "body_bytes_sent|bytes_sent",
            "referer": "http_referer",
            "user_agent": "http_user_agent",
            "forwarded_for": "http_x_forwarded_for",
            "vhost": "host|http_host|server_name",
            "duration_s": "request_time",
        },
    ),
    "caddy_json": _json(
        "caddy_json",
        "Caddy 2's access log (JSON): the client Caddy resolved, ts in seconds since 1970",
        {
            "host": "request.client_ip|request.remote_ip",
            "time_epoch": "ts",
            "method": "request.method",
            "path": "request.uri",
            "protocol": "request.proto",
            "status": "status",
            "bytes": "size",
            "referer": "request.headers.Referer[0]",
            "user_agent": "request.headers.User-Agent[0]",
            "forwarded_for": "request.headers.X-Forwarded-For[0]",
            "vhost": "request.host",
            "duration_s": "duration",
        },
    ),
    "traefik_json": _json(
        "traefik_json",
        "Traefik's access log, format json (its default fields)",
        {
            "host": "ClientHost",
            "time_iso": "time|StartLocal",
            "method": "RequestMethod",
            "path": "RequestPath",
            "protocol": "RequestProtocol",
            "status": "DownstreamStatus",
            "bytes": "DownstreamContentSize",
            "vhost": "RequestHost",
        },
    ),
}


def json_format(text: str) -> LogFormat:
    """A JSON-lines format of one's own: ``json:`` then ``field=path`` pairs, comma-separated
    (``json:client=req.ip,time=ts,status=res.code,agent=req.headers.ua``); the fields are the
    roles of ``lib.logs.parsing.roles`` or ``JSON_FIELDS``' names; ``time`` is seconds since 1970
    or ISO 8601, whichever each value is. ConfigError for a pair that is not one, a field no
    role has, or a mapping without a client and a time."""
    roles: dict[str, str] = {}
    for pair in text.removeprefix("json:").split(","):
        name, _, path = (part.strip() for part in pair.partition("="))
        role = JSON_FIELDS.get(name, name)
        if not path or role not in ROLES or role == "other":
            known = ", ".join(sorted({*JSON_FIELDS, *ROLES} - {"other"}))
            raise ConfigError(f"json format: {pair.strip()!r} is not field=path (fields: {known})")
        roles[role] = path
    if not has_client_and_time(roles):
        raise ConfigError(
            f"json format {text!r} needs a client (client=...) and a time (time=...)"
        )
    return _json("custom", f"JSON lines: {text.removeprefix('json:')}", roles)


def w3c_format(header: str) -> LogFormat:
    """The W3C extended format whose ``#Fields:`` header is ``header``: CloudFront's when it
    has CloudFront's fields (``x-edge-location``: time-taken in seconds, values URL-encoded),
    else IIS's and others' (``w3c``: time-taken in milliseconds, spaces in values as ``+``)."""
    names = header.removeprefix(_FIELDS).split()
    if "x-edge-location" in names:
        name, escapes, roles = CLOUDFRONT, "percent", {"time-taken": "duration_s"}
    else:
        name, escapes, roles = W3C, "plus", {}
    built = compile_w3c(header, roles)
    return LogFormat(
        name,
        f"{FORMATS[name].description.split(':')[0]}: {' '.join(names)}",
        "declared",
        built.pattern,
        built.roles,
        skip_prefix="#",
        header=_FIELDS,
        escapes=escapes,
    )


# A header line (by its start) -> the format it declares for the lines after it.
HEADERS: dict[str, Callable[[str], LogFormat]] = {_FIELDS: w3c_format}


def wrapped(fmt: LogFormat, wrapper: str) -> LogFormat:
    """``fmt``'s lines inside ``wrapper`` (a key of ``WRAPPERS``), named ``wrapper+name``.
    ConfigError for a format a header declares (its header would be wrapped too)."""
    if fmt.header is not None or fmt.wrapper is not None:
        raise ConfigError(f"the {fmt.name} format cannot be read inside {wrapper} lines")
    carrier = WRAPPERS[wrapper]
    shape = carrier.shape if carrier.key else carrier.prefix + fmt.pattern.removeprefix("^")
    return LogFormat(
        f"{wrapper}+{fmt.name}",
        f"{fmt.description}, each line inside {carrier.description}",
        fmt.kind,
        shape,
        fmt.roles,
        wrapper=wrapper,
        inner=fmt,
    )


def declared_by(header: str, line: str) -> LogFormat:
    """The format the header line ``line`` declares (``HEADERS[header]``); for one that
    declares none (no client or no time), a format without a pattern, whose lines are all
    rejected (the ``declared`` kind's rule)."""
    try:
        return HEADERS[header](line.strip())
    except ConfigError as error:
        reason = str(error).split(":")[0]
        return LogFormat(W3C, f"{line.strip()} ({reason})", "declared", header=header,
                         skip_prefix="#")  # fmt: skip


def log_format(text: str) -> LogFormat:
    """The registered format called ``text``, or ``text`` compiled as an Apache ``LogFormat``
    or nginx ``log_format`` string. ConfigError for anything else (``auto`` is resolved by
    ``lib.logs.parsing.detect``, per file)."""
    if text in FORMATS:
        return FORMATS[text]
    carrier, plus, rest = text.partition("+")
    if plus and carrier in WRAPPERS:
        return wrapped(log_format(rest), carrier)
    if text.startswith("json:"):
        return json_format(text)
    kind = dialect(text)
    if kind is None:
        known = ", ".join([AUTO, *FORMATS])
        raise ConfigError(
            f"unknown log format {text!r}: use one of {known}, an Apache LogFormat or nginx "
            "log_format string, or json:client=...,time=... for JSON lines of other keys; "
            f"any of them inside a wrapper as {'+, '.join(WRAPPERS)}+ then the format"
        )
    return _from_string("custom", f"{kind} format {text.strip()}", text)


def candidates() -> list[LogFormat]:
    """The registered formats a file's lines are matched against: all but those a header
    declares (they have no fields until a file names them)."""
    return [fmt for fmt in FORMATS.values() if fmt.header is None]


@dataclass(frozen=True)
class FormatChoice:
    """How one log is read: ``primary`` first; a line it rejects is tried with each of
    ``others`` in turn, and is rejected only if none reads it; each request's client as
    ``client`` says (``lib.logs.parsing.clients``)."""

    primary: LogFormat
    others: tuple[LogFormat, ...] = field(default=())
    client: ClientRule = field(default=ClientRule())

    @classmethod
    def of(cls, primary: LogFormat, client: ClientRule | None = None) -> FormatChoice:
        """``primary``, with the other registered formats (by name) as second chances: inside
        the same wrapper when ``primary`` is wrapped."""
        own = primary.inner or primary
        others = tuple(fmt for fmt in candidates() if fmt.name != own.name)
        if primary.wrapper is not None:
            others = tuple(wrapped(fmt, primary.wrapper) for fmt in others)
        return cls(primary, others, client or ClientRule())

    @property
    def names(self) -> list[str]:
        return [self.primary.name, *(fmt.name for fmt in self.others)]

    def after(self, block: bytes) -> FormatChoice:
        """The choice in force after ``block`` (whole lines of the log, in order): for a format
        its header lines declare (W3C), the one the last header in the block declares, if it
        has one; else this one."""
        line = self.header_line(block)
        if line is None:
            return self
        return replace(self, primary=declared_by(self.primary.header, line))

    def header_line(self, block: bytes) -> str | None:
        """The last line of ``block`` that declares the format (W3C's ``#Fields:``), if the
        format is declared so and the block has one."""
        header = self.primary.header
        if header is None:
            return None
        at = block.rfind(b"\n" + header.encode()) + 1
        if at == 0 and not block.lstrip(b"\xef\xbb\xbf").startswith(header.encode()):
            return None
        end = block.find(b"\n", at)
        line = block[at : len(block) if end < 0 else end].decode("utf-8", "replace")
        return line.lstrip("\ufeff")
