"""What a log format's fields hold: their *roles*, the vocabulary every parser kind and format
string shares. A format lists the role of each of its fields in order
(``lib.logs.parsing.formats.LogFormat.roles``); a parser yields the columns its roles feed
(``lib.logs.parsing.fields``). Needs no polars.
"""

from __future__ import annotations

ROLES = (
    "host",  # the address the server saw the request come from (its peer: maybe a proxy)
    "forwarded_for",  # X-Forwarded-For: the addresses a request came through, client first
    "real_ip",  # one address a proxy says the client had (X-Real-IP, CF-Connecting-IP, ...)
    "ident",
    "user",
    "time_clf",  # dd/Mon/yyyy:HH:MM:SS +zzzz, with or without the brackets
    "time_clf_ms",  # dd/Mon/yyyy:HH:MM:SS.mmm, no offset (HAProxy): read as UTC
    "time_iso",
    "time_epoch",
    "time_auto",  # either: seconds since 1970, or ISO 8601 with an offset (JSON mappings)
    "date",  # W3C: date and clock, in UTC
    "clock",
    "request",
    "method",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "vhost",
    "port",
    "duration_s",
    "duration_ms",
    "duration_us",
    "upstream_addr",  # nginx: the upstreams tried, a list ("10.0.0.1:80, 10.0.0.2:80")
    "upstream_time",  # their response times, a list ("0.002, 1.044"), "-" for none
    "upstream_status",
    "upstream_length",
    "request_length",
    "request_id",
    "other",  # read and ignored
)

# The roles of a time taken, and what turns each into microseconds (first present: read).
DURATION_SCALES = {"duration_us": 1, "duration_ms": 1_000, "duration_s": 1_000_000}
TIME_ROLES = (
    "time_clf",
    "time_clf_ms",
    "time_iso",
    "time_epoch",
    "time_auto",
    "date",
)  # a format needs one of these
FORWARDING_ROLES = ("forwarded_for", "real_ip")  # what proxies say the client was
CLIENT_ROLES = ("host", *FORWARDING_ROLES)  # a format needs one of these


def has_client_and_time(roles) -> bool:
    """Whether fields with ``roles`` say who the client was and when: what every format needs."""
    return bool(set(CLIENT_ROLES) & set(roles)) and bool(set(TIME_ROLES) & set(roles))
