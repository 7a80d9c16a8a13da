"""Custom formats, written the way users already write them: an Apache ``LogFormat`` string
(``%h %l %u %t \\"%r\\" %>s %b``), an nginx ``log_format`` string (``$remote_addr - $remote_user
[$time_local] "$request" ...``) or the field list of a W3C extended log's ``#Fields:`` header.
Each compiles to a whole-line regular expression with a named group per field and the field's
role (``lib.logs.parsing.kinds.regex`` parses with them).

A field between double quotes in the format is matched as the servers escape it (Apache ``\\"``,
nginx ``\\x22``: any character but a quote or a backslash, or a backslash and any), so a quote
inside a user agent never ends it early. Outside quotes each field has a pattern of its own
(``[0-9]{3}`` for a status, ``[^ ]+`` for an address, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lib.errors import ConfigError
from lib.logs.parsing import clf
from lib.logs.parsing.roles import has_client_and_time

_APACHE = re.compile(r"%(?:!?[0-9,]+)?([<>])?(?:\{([^}]*)\})?([A-Za-z%])")
_NGINX = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_QUOTED = clf.ESCAPED
_LIST = r"[^ ,]+(?:(?:, | : )[^ ,]+)*"
_UNQUOTED = {  # the tokens Common and Combined have are theirs (lib.logs.parsing.clf)
    "host": clf.TOKEN,
    "ident": clf.TOKEN,
    "user": clf.TOKEN,
    "time_clf": rf"\[{clf.STAMP}\]|{clf.STAMP}",
    "time_clf_ms": r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}(?::[0-9]{2}){3}\.[0-9]{3}",
    "time_iso": r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+",
    "time_epoch": r"[0-9]+(?:\.[0-9]+)?",
    "date": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "clock": r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?",
    "status": clf.STATUS,
    # X-Forwarded-For: an address, or a list of them (", " or "," between), or "-"
    "forwarded_for": r"[^ ,]+(?:, ?[^ ,]+)*",
    "bytes": r"[0-9]+|-",
    "port": r"[0-9]+|-",
    "duration_s": r"[0-9]+(?:\.[0-9]+)?|-",
    "duration_ms": r"[0-9]+(?:\.[0-9]+)?|-",
    "duration_us": r"[0-9]+|-",
    # nginx's upstream variables: a value per upstream tried, ", " between retries and " : "
    # between internal redirects; "-" where none was
    "upstream_addr": _LIST,
    "upstream_time": _LIST,
    "upstream_status": _LIST,
    "upstream_length": _LIST,
    "request_length": r"[0-9]+|-",
    "request": r".*",
}
_APACHE_ROLES = {
    "h": "host",
    "a": "host",
    "l": "ident",
    "u": "user",
    "r": "request",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "b": "bytes",
    "B": "bytes",
    "O": "bytes",
    "v": "vhost",
    "V": "vhost",
    "p": "port",
    "D": "duration_us",
    "T": "duration_s",
}
_HEADER_ROLES = {  # a request header logged by name (Apache %{...}i) -> its role
    "referer": "referer",
    "user-agent": "user_agent",
    "x-forwarded-for": "forwarded_for",
    "x-real-ip": "real_ip",
    "cf-connecting-ip": "real_ip",
    "true-client-ip": "real_ip",
}
_NGINX_ROLES = {
    "remote_addr": "host",
    "realip_remote_addr": "host",
    "remote_user": "user",
    "time_local": "time_clf",
    "time_iso8601": "time_iso",
    "msec": "time_epoch",
    "request": "request",
    "request_method": "method",
    "request_uri": "path",
    "uri": "path",
    "args": "query",
    "query_string": "query",
    "server_protocol": "protocol",
    "status": "status",
    "body_bytes_sent": "bytes",
    "bytes_sent": "bytes",
    "http_referer": "referer",
    "http_user_agent": "user_agent",
    "http_x_forwarded_for": "forwarded_for",
    "proxy_add_x_forwarded_for": "forwarded_for",
    "http_x_real_ip": "real_ip",
    "http_cf_connecting_ip": "real_ip",
    "http_true_client_ip": "real_ip",
    "host": "vhost",
    "http_host": "vhost",
    "server_name": "vhost",
    "server_port": "port",
    "request_time": "duration_s",
    "upstream_addr": "upstream_addr",
    "upstream_response_time": "upstream_time",
    "upstream_status": "upstream_status",
    "upstream_response_length": "upstream_length",
    "request_length": "request_length",
    "request_id": "request_id",
    "req_id": "request_id",  # ingress-nginx's
    # a name Traefik's layout is written with (lib.logs.parsing.formats: traefik_clf)
    "traefik_duration_ms": "duration_ms",
}
_W3C_ROLES = {
    "date": "date",
    "time": "clock",
    "c-ip": "host",
    "cs-username": "user",
    "cs-method": "method",
    "cs-uri-stem": "path",
    "cs-uri-query": "query",
    "cs-version": "protocol",
    "sc-status": "status",
    "sc-bytes": "bytes",
    "cs(referer)": "referer",
    "cs(user-agent)": "user_agent",
    "cs(x-forwarded-for)": "forwarded_for",
    "x-forwarded-for": "forwarded_for",
    "cs-host": "vhost",
    "x-host-header": "vhost",  # CloudFront: the Host the viewer asked for
    "s-port": "port",
    "time-taken": "duration_ms",
}


FIELD = "field"  # a piece that is a field matched by its role's pattern
RAW = "raw"  # a piece that is regular expression text, not literal text
# A format's pieces: (literal text, None), (role, FIELD), (role, its own pattern), (regex, RAW)
Piece = tuple[str, str | None]


_W3C_VALUE = r"[^ \t]*"  # a W3C field's value: no separator in it
_W3C_VALUES = {  # the roles whose values W3C logs write in a known shape
    role: _UNQUOTED[role]
    for role in ("date", "clock", "status", "bytes", "port", "duration_s", "duration_ms")
}


@dataclass(frozen=True)
class Compiled:
    """A format as a regular expression: groups ``g0``, ``g1``, ... hold ``roles``."""

    pattern: str
    roles: tuple[str, ...]


def dialect(text: str) -> str | None:
    """``apache``, ``nginx`` or None: which server's notation ``text`` is written in."""
    apache, nginx = bool(_APACHE.search(text)), bool(_NGINX.search(text))
    if apache and nginx:
        raise ConfigError(f"log format mixes Apache %-directives and nginx $variables: {text!r}")
    return "apache" if apache else "nginx" if nginx else None


def compile_apache(text: str) -> Compiled:
    """An Apache ``LogFormat`` string (as in httpd.conf, outer quotes and ``\\"`` allowed)."""
    text = _unwrap(text, '"').replace('\\"', '"')
    return _build(_split(text, _APACHE, _apache_match), text)


def _apache_match(match: re.Match) -> str | None:
    _, argument, letter = match.groups()
    return None if letter == "%" else _apache_role(letter, argument)  # %% is a literal %


def _apache_role(letter: str, argument: str | None) -> str:
    if letter == "t":
        return _apache_time(argument)
    if letter == "i":
        return _HEADER_ROLES.get((argument or "").lower(), "other")
    if letter == "T" and argument in ("ms", "us", "s"):
        return {"ms": "duration_ms", "us": "duration_us", "s": "duration_s"}[argument]
    if letter == "a" and argument not in (None, "c"):
        return "other"
    return _APACHE_ROLES.get(letter, "other")


def _apache_time(argument: str | None) -> str:
    if argument is None or argument == "%d/%b/%Y:%H:%M:%S %z":
        return "time_clf"
    if argument == "sec":
        return "time_epoch"
    if argument.replace("begin:", "").replace("end:", "") in ("%Y-%m-%dT%H:%M:%S%z",):
        return "time_iso"
    raise ConfigError(
        f"the time directive %{{{argument}}}t is not supported: use %t, %{{sec}}t or "
        "%{%Y-%m-%dT%H:%M:%S%z}t"
    )


def compile_nginx(text: str) -> Compiled:
    """An nginx ``log_format`` string (single-quoted pieces as in nginx.conf are joined)."""
    quoted = re.findall(r"'([^']*)'", text)
    text = "".join(quoted) if quoted else text
    return _build(_split(text, _NGINX, _nginx_match), text)


def _nginx_match(match: re.Match) -> str:
    return _NGINX_ROLES.get(match.group(1) or match.group(2), "other")


def _split(
    text: str, directive: re.Pattern, role_of: Callable[[re.Match], str | None]
) -> list[Piece]:
    """A format string as pieces: ``(literal text, None)`` or ``(role, "field")``, each
    directive's role from ``role_of`` (None: the directive stands for its text without its
    first character, as Apache's ``%%``). Only the first bytes-like field counts as bytes."""
    pieces: list[Piece] = []
    position, bytes_seen = 0, False
    for match in directive.finditer(text):
        pieces.append((text[position : match.start()], None))
        role = role_of(match)
        if role is None:
            pieces.append((match.group(0)[1:], None))
        else:
            if role == "bytes":
                role, bytes_seen = ("other" if bytes_seen else "bytes"), True
            pieces.append((role, FIELD))
        position = match.end()
    pieces.append((text[position:], None))
    return pieces


def compile_w3c(header: str, roles: dict[str, str] | None = None) -> Compiled:
    """The ``#Fields:`` header of a W3C extended log (IIS, CloudFront and others): values
    separated by a space (IIS) or a tab (CloudFront), ``-`` for none, times in UTC. ``roles``:
    field names whose role differs from ``_W3C_ROLES``' (a flavour's)."""
    names = header.removeprefix("#Fields:").split()
    known = {**_W3C_ROLES, **(roles or {})}
    if not names:
        raise ConfigError(f"W3C header lists no fields: {header!r}")
    pieces: list[Piece] = []
    for index, name in enumerate(names):
        if index:
            pieces.append(("[ \\t]", RAW))
        role = known.get(name.lower(), "other")
        pieces.append((role, _W3C_VALUES.get(role, _W3C_VALUE)))
    return _build(pieces, header)


def _build(pieces: list[Piece], source: str, unquoted: dict[str, str] | None = None) -> Compiled:
    """The regular expression of literal text and fields (``Piece``); a field with no pattern
    of its own between two quotes of the literal text around it is matched as an escaped
    quoted string, one outside quotes by its role's pattern."""
    patterns = {**_UNQUOTED, **(unquoted or {})}
    roles: list[str] = []
    regex = ["^"]
    for index, (value, kind) in enumerate(pieces):
        if kind is None or kind is RAW:
            regex.append(_escape(value) if kind is None else value)
            continue
        before = pieces[index - 1][0] if index and pieces[index - 1][1] is None else ""
        after = pieces[index + 1][0] if index + 1 < len(pieces) else ""
        quoted = before.endswith('"') and after.startswith('"')
        own = kind if kind != FIELD else _QUOTED if quoted else patterns.get(value, "[^ ]*")
        regex.append(f"(?P<g{len(roles)}>{own})")
        roles.append(value)
    regex.append("$")
    if not has_client_and_time(roles):
        raise ConfigError(
            "a log format needs the client's address (%h or %a; $remote_addr; c-ip; or a "
            "forwarding header: %{X-Forwarded-For}i, $http_x_forwarded_for) and a time (%t; "
            f"$time_local, $time_iso8601 or $msec; date and time): {source!r}"
        )
    return Compiled("".join(regex), tuple(roles))


def compile_layout(*parts: str | tuple[str, str | None]) -> Compiled:
    """A layout written out piece by piece, for formats no server's format string describes
    (load balancers', proxies'): literal text, and ``(role, pattern)`` per field (``None``:
    the role's own pattern, or an escaped quoted string between quotes)."""
    pieces: list[Piece] = [
        (part, None) if isinstance(part, str) else (part[0], part[1] or FIELD) for part in parts
    ]
    return _build(pieces, repr(parts))


def _escape(literal: str) -> str:
    """Literal text for a regular expression that both Python and Rust (polars) read alike."""
    return re.sub(r"([\\.^$*+?{}\[\]|()])", r"\\\1", literal)


def _unwrap(text: str, quote: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == quote:
        return text[1:-1]
    return text
