"""Access logs as real deployments write them, and the answers they hold, known without parsing.

One set of request *records* (``make_records``: seeded, no I/O) is written by a *renderer* per
*variant*: a server's documented default layout, or a common configuration of it, with its own
escaping, time notation, time zone and line endings (``VARIANTS``, one entry each). The
*oracle* (``expected``) computes Q1's answers from the records themselves: total requests, the
top hosts inside a half-open window and the top country, whose countries come from the
``geoip2fast`` package's own API (never through ``lib``). So a parser is checked against
something it did not compute, on every format at once. ``NEAR_MISSES`` are logs in formats a
reader should refuse, loudly.

Deployments: at an edge server the client is the address that connected (``Record.remote``).
Behind a load balancer the connecting address is the balancer's, and the client is the address
the balancer appended to ``X-Forwarded-For`` (the last one: anything before it was sent by the
client, unchecked). A variant says which it is (``Variant.client``); its records are made to
match, with the same clients, times and requests either way.

The layouts are written from the servers' documentation; where the documentation does not say
how a character is escaped, the renderer says what it assumes.

``python -m tests.support.log_corpus`` prints each variant's name and a line of it.
"""

from __future__ import annotations

import bz2
import gzip
import ipaddress
import json
import lzma
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import quote

import zstandard

# --- what every log here records ------------------------------------------------------------

SEED = 20261130
ZONE = timezone(timedelta(hours=5, minutes=30))  # the servers' zone: not whole hours, not UTC
WINDOW = (datetime(2026, 11, 30, tzinfo=ZONE), datetime(2026, 12, 1, tzinfo=ZONE))  # [start, end)
TOP_N = 10

# Clients: global unicast addresses, each with a country in the GeoLite2 data geoip2fast ships
# (checked by ``country_of``); one IPv4-mapped IPv6 address, as a dual-stack socket reports an
# IPv4 client.
IPV4_CLIENTS = (
    "8.8.8.8", "4.2.2.2", "12.34.56.78", "66.249.66.1", "17.253.144.10", "151.101.1.69",
    "133.43.96.45", "210.130.1.1", "193.0.6.139", "81.2.69.142", "212.58.244.20", "62.4.16.1",
    "80.67.169.12", "5.9.10.20", "141.30.1.1", "195.154.1.1", "200.160.2.3", "177.71.128.1",
    "41.203.64.1", "196.25.1.1", "14.139.1.1", "202.12.27.33", "58.27.1.1", "110.33.122.75",
    "139.130.4.5", "185.60.216.35", "77.88.55.60", "94.100.180.200", "130.237.1.1",
    "193.166.3.1", "89.187.1.1", "203.178.141.194", "168.126.63.1", "190.210.1.1",
    "186.192.81.1", "1.1.1.1",
)  # fmt: skip
IPV6_CLIENTS = (
    "2001:4860:4860::8888", "2a00:1450:4001:82a::200e", "2404:6800:4004:80b::2004",
    "2a03:2880:f10d:83:face:b00c::25de", "2001:67c:2e8:22::c100:68b", "2a02:6b8::2:242",
    "2400:cb00:2048:1::c629:d7a2", "2001:200:dff:fff1:216:3eff:feb1:44d7", "2001:1291:2c:1::1",
    "2c0f:fb50:4003::1", "2001:41d0:8:e8ad::1", "::ffff:81.2.69.142",
)  # fmt: skip
CLIENTS = IPV4_CLIENTS + IPV6_CLIENTS
LOAD_BALANCERS = ("10.0.1.5", "10.0.2.5", "10.0.3.5")  # what a server behind them sees
# What a client may send as X-Forwarded-For itself: its LAN address behind a proxy of its own,
# or a claim. Never the client; a reader that takes the first address gets these.
CLAIMED = ("192.168.1.23", "172.16.5.9", "8.8.4.4")
UPSTREAMS = ("10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080")

# Requests inside the window of the busiest hosts, busiest first: ties inside the top ten and
# across its edge (ranks 10-12 have 15 each), which only the tie rule (host name) settles.
WINDOW_PLAN = (97, 64, 64, 41, 33, 27, 27, 27, 18, 15, 15, 15, 9, 9, 7)

METHODS = ("GET",) * 16 + ("POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS")
PATHS = (
    "/", "/index.html", "/images/logo.png", "/api/v1/items", "/api/v1/items/42", "/search",
    "/static/app.3f9a.js", "/login", "/favicon.ico", "/robots.txt", "/a%20b.html", "/feed.xml",
)  # fmt: skip
QUERIES = ("",) * 6 + ("q=red+shoes&page=2", "id=42", "utm_source=mail&utm_medium=email", "x=%22")
PROTOCOLS = ("HTTP/1.1",) * 7 + ("HTTP/2.0", "HTTP/2.0", "HTTP/1.0")
STATUSES = (200,) * 14 + (304, 304, 404, 404, 301, 206, 403, 500, 502)
REFERERS = ("",) * 5 + (
    "https://www.google.com/search?q=a+b",
    "https://www.example.com/",
    'https://news.example.net/item?id=7&ref="x"',
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    'Mozilla/5.0 (X11; Linux x86_64) "Quoted/1.0" Gecko/20100101',  # a double quote
    'Scanner\\x22 \\"odd\\ agent/0.1',  # backslashes, one before a quote
    "EndsInABackslash\\",  # a field whose last character is a backslash
)
VHOSTS = ("www.example.com", "www.example.com", "api.example.com", "static.example.com")


@dataclass(frozen=True)
class Record:
    """One request, as every server in the corpus would log it. Text fields hold the values
    as sent (unescaped); ``""`` is "none" (logged ``-`` or as the server writes nothing)."""

    time: datetime  # aware, in the server's zone: when the server logged it
    client: str  # the client's address
    remote: str  # the address that connected: the client, or a load balancer in front
    forwarded: tuple[str, ...]  # X-Forwarded-For as the server received it; () without one
    client_port: int
    user: str
    method: str
    path: str
    query: str
    protocol: str
    status: int
    bytes: int  # of the body; 0 for none (Apache's %b writes "-")
    referer: str
    user_agent: str
    vhost: str
    port: int
    duration: float  # seconds
    upstreams: tuple[str, ...]  # address:port tried, in order; () when answered locally
    upstream_times: tuple[float, ...]
    upstream_statuses: tuple[int, ...]
    request_id: str

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.target} {self.protocol}"

    @property
    def scheme(self) -> str:
        return "https" if self.port == 443 else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.vhost}{self.target}"

    @property
    def utc(self) -> datetime:
        return self.time.astimezone(UTC)


def _host_plan(rng: random.Random) -> list[tuple[str, int, int]]:
    """``(host, requests inside the window, outside)`` for every client: ``WINDOW_PLAN`` for
    the busiest (a shuffled pool), a few for the rest."""
    pool = list(CLIENTS)
    rng.shuffle(pool)
    plan = []
    for rank, host in enumerate(pool):
        inside = WINDOW_PLAN[rank] if rank < len(WINDOW_PLAN) else rng.randint(0, 5)
        plan.append((host, inside, rng.randint(1, 25)))
    return plan


def _boundary_hosts(plan: list[tuple[str, int, int]]) -> dict[str, tuple[str, datetime]]:
    """The requests at the window's ends and a second either side, given to tied hosts, so
    that a reader off by one there ranks them differently: ``{name: (host, at)}``."""
    start, end = WINDOW
    fifteen = sorted(host for host, inside, _ in plan if inside == 15)  # ranks 10, 11, 12
    twenty_seven = sorted(host for host, inside, _ in plan if inside == 27)  # ranks 6, 7, 8
    return {
        "start": (fifteen[0], start),  # inside: rank 10 falls to 12 without it
        "end-1s": (fifteen[0], end - timedelta(seconds=1)),  # inside
        "end": (fifteen[1], end),  # outside: rank 11 would rise to 10 with it
        "start-1s": (fifteen[2], start - timedelta(seconds=1)),  # outside
        "start+1s": (twenty_seven[0], start + timedelta(seconds=1)),  # inside
        "end+1s": (twenty_seven[1], end + timedelta(seconds=1)),  # outside
    }


def make_records(
    behind_proxy: bool = False, zone: timezone = ZONE, seed: int = SEED
) -> list[Record]:
    """The corpus's requests in time order (about 1,200; the same clients, times and requests for
    any ``behind_proxy`` and ``zone``). ``behind_proxy``: the logging server sits behind a load
    balancer (``remote`` is the balancer, the client ends ``forwarded``); else it is the edge
    (``remote`` is the client, and a few clients send an X-Forwarded-For of their own)."""
    rng, proxies = random.Random(seed), random.Random(seed + 1)
    plan = _host_plan(rng)
    start, end = WINDOW
    boundary = _boundary_hosts(plan)
    fixed = Counter(host for host, at in boundary.values() if start <= at < end)
    outside_fixed = Counter(host for host, at in boundary.values() if not start <= at < end)
    day = int((end - start).total_seconds())
    stamps: list[tuple[datetime, str]] = [(at, host) for host, at in boundary.values()]
    for host, inside, outside in plan:
        for _ in range(inside - fixed[host]):
            seconds, micro = rng.randrange(2, day - 2), rng.randrange(10**6)
            stamps.append((start + timedelta(seconds=seconds, microseconds=micro), host))
        for _ in range(outside - outside_fixed[host]):
            before = rng.random() < 0.5
            seconds = rng.randrange(2, 12 * 3600) * (-1 if before else 1)
            base = start if before else end
            micro = rng.randrange(10**6)
            stamps.append((base + timedelta(seconds=seconds, microseconds=micro), host))
    stamps.sort()
    return [_record(rng, proxies, at.astimezone(zone), host, behind_proxy) for at, host in stamps]


def _record(
    rng: random.Random, proxies: random.Random, at: datetime, client: str, behind_proxy: bool
) -> Record:
    status = rng.choice(STATUSES)
    method = rng.choice(METHODS)
    size = 0 if status in (304, 204) or method == "HEAD" else rng.randrange(1, 60_000)
    duration = round(min(rng.lognormvariate(-3.5, 1.2), 30.0), 6)
    hops = rng.random()
    if status in (301, 304) or hops < 0.05:
        upstreams, times, statuses = (), (), ()  # answered by the server itself
    elif hops < 0.15:  # the first upstream failed, the second answered
        upstreams = tuple(rng.sample(UPSTREAMS, 2))
        first = round(rng.uniform(0.001, 0.004), 3)
        times, statuses = (first, round(max(duration - first, 0.0), 3)), (502, status)
    else:
        upstreams, times, statuses = (rng.choice(UPSTREAMS),), (round(duration, 3),), (status,)
    claimed = (proxies.choice(CLAIMED),) if proxies.random() < 0.08 else ()
    if behind_proxy:
        remote, forwarded = proxies.choice(LOAD_BALANCERS), (*claimed, client)
    else:
        remote, forwarded = client, claimed
    return Record(
        time=at,
        client=client,
        remote=remote,
        forwarded=forwarded,
        client_port=rng.randrange(1024, 65536),
        user="alice" if rng.random() < 0.03 else "",
        method=method,
        path=rng.choice(PATHS),
        query=rng.choice(QUERIES),
        protocol=rng.choice(PROTOCOLS),
        status=status,
        bytes=size,
        referer=rng.choice(REFERERS),
        user_agent=rng.choice(USER_AGENTS),
        vhost=rng.choice(VHOSTS),
        port=443 if rng.random() < 0.8 else 80,
        duration=duration,
        upstreams=upstreams,
        upstream_times=times,
        upstream_statuses=statuses,
        request_id=f"{rng.getrandbits(128):032x}",
    )


# --- the oracle -----------------------------------------------------------------------------


@cache
def _geoip():
    from geoip2fast import GeoIP2Fast  # the package's own reader: IPv4 and IPv6 networks

    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz")


@cache
def country_of(address: str) -> str | None:
    """The country of an IP literal by geoip2fast's API; None for private, reserved or unknown
    space. An IPv4-mapped IPv6 address is its IPv4 address (RFC 4291 2.5.5.2)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    code = _geoip().lookup(str(ip)).country_code
    return code if re.fullmatch("[A-Z]{2}", code or "") else None


def client_of(record: Record, client: str) -> str:
    """The host a reader should count for ``record``: ``remote`` (the address that connected)
    or ``forwarded`` (the last X-Forwarded-For address: the one the load balancer appended)."""
    if client == "remote":
        return record.remote
    if client == "forwarded":
        if not record.forwarded:
            raise ValueError("a record without X-Forwarded-For has no forwarded client")
        return record.forwarded[-1]
    raise ValueError(f"client is 'remote' or 'forwarded', not {client!r}")


def expected(
    records: Sequence[Record],
    window: tuple[datetime, datetime] = WINDOW,
    client: str = "remote",
    top_n: int = TOP_N,
) -> dict:
    """Q1's answers from the records: ``total_requests``; ``window_requests`` and ``top_hosts``
    (``rank``, ``host``, ``requests``) inside ``start <= time < end``, most requests first,
    ties by host name; ``top_country`` (``country``, ``requests``: over all requests, ties by
    code; None when no host has a country). ``client`` as ``client_of`` says."""
    start, end = window
    hosts = [client_of(record, client) for record in records]
    inside = Counter(h for h, r in zip(hosts, records, strict=True) if start <= r.time < end)
    ranked = sorted(inside.items(), key=lambda item: (-item[1], item[0]))[:top_n]
    countries = Counter()
    for host, requests in Counter(hosts).items():
        country = country_of(host)
        if country:
            countries[country] += requests
    top = min(countries.items(), key=lambda item: (-item[1], item[0]), default=None)
    return {
        "total_requests": len(records),
        "window_requests": sum(inside.values()),
        "top_hosts": [
            {"rank": rank, "host": host, "requests": n} for rank, (host, n) in enumerate(ranked, 1)
        ],
        "top_country": None if top is None else {"country": top[0], "requests": top[1]},
    }


def window_args(window: tuple[datetime, datetime] = WINDOW) -> dict[str, str]:
    """``window_start`` and ``window_end`` as ``run_q1`` takes them."""
    return {"window_start": window[0].isoformat(), "window_end": window[1].isoformat()}


# --- how servers write values ---------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_APACHE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def clf_time(t: datetime) -> str:
    """``30/Nov/2026:10:00:00 +0530`` (English month whatever the locale)."""
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} {t:%z}"


def syslog_time(t: datetime) -> str:
    """RFC 3164's ``Nov  3 10:00:00``: local time, the day padded with a space, no year."""
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def go_time(t: datetime) -> str:
    """Go's RFC3339Nano: ``2026-11-30T04:30:00.123456Z``, the fraction's trailing zeros cut."""
    fraction = f".{t.microsecond:06d}".rstrip("0").rstrip(".")
    zone = "Z" if t.utcoffset() == timedelta(0) else f"{t:%z}"[:3] + ":" + f"{t:%z}"[3:]
    return f"{t:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"


def iso_micro(t: datetime) -> str:
    """AWS's ``2026-11-30T04:30:00.123456Z`` (UTC, six digits)."""
    return f"{t.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def apache_escape(text: str) -> str:
    """As Apache's ``ap_escape_logitem`` writes a header: ``\\"``, ``\\\\``, C escapes for the
    usual control characters, other control and non-ASCII bytes as ``\\xhh``."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in _APACHE_ESCAPES:
            out.append(_APACHE_ESCAPES[char])
        elif byte < 0x20 or byte >= 0x7F:
            out.append(f"\\x{byte:02x}")
        else:
            out.append(char)
    return "".join(out)


def apache_quoted(text: str) -> str:
    """A quoted field as Apache httpd writes it (``apache_escape``); ``-`` for none."""
    return '"' + apache_escape(text or "-") + '"'


def nginx_escape(text: str) -> str:
    """As nginx's ``escape=default`` writes a variable: ``"``, ``\\``, control bytes and every
    byte from 0x7F up as ``\\xHH``."""
    return "".join(
        f"\\x{byte:02X}" if byte < 0x20 or byte in (0x22, 0x5C) or byte >= 0x7F else chr(byte)
        for byte in text.encode()
    )


def nginx_value(text: str) -> str:
    """A variable as nginx writes it by default (``nginx_escape``); ``-`` for an empty value."""
    return nginx_escape(text) or "-"


def go_json(value: object) -> str:
    """JSON as Go's encoding/json writes it (logrus, Docker): ``<``, ``>``, ``&`` as ``\\u003c``
    and so on; map keys sorted. (They only occur inside strings, so replacing them is safe.)"""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plain_json(value: object) -> str:
    """JSON with keys in the order given and nothing HTML-escaped (zap, Caddy's encoder)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dash(value: object) -> str:
    return "-" if value in ("", None, ()) else str(value)


def joined(values: Iterable[object], fmt: str = "{}") -> str:
    """nginx's lists (``$upstream_addr`` and the rest): ``a, b``; ``-`` when empty."""
    return dash(", ".join(fmt.format(v) for v in values))


def host_port(address: str, port: int, brackets: bool) -> str:
    """``address:port``; an IPv6 address in brackets only where the server writes them (Go's
    ``net.JoinHostPort`` does, AWS's load balancers and HAProxy do not)."""
    return f"[{address}]:{port}" if brackets and ":" in address else f"{address}:{port}"


# --- renderers: one function per variant, records -> lines ----------------------------------

Render = Callable[[Sequence[Record]], list[str]]


def _apache_common(r: Record) -> str:
    return (
        f"{r.remote} - {dash(r.user)} [{clf_time(r.time)}] {apache_quoted(r.request_line)} "
        f"{r.status} {r.bytes or '-'}"
    )


def _apache_agents(r: Record) -> str:
    return f"{apache_quoted(r.referer)} {apache_quoted(r.user_agent)}"


def apache_common(records: Sequence[Record]) -> list[str]:
    """``LogFormat "%h %l %u %t \\"%r\\" %>s %b" common``."""
    return [_apache_common(r) for r in records]


def apache_combined(records: Sequence[Record]) -> list[str]:
    """``... %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined``."""
    return [f"{_apache_common(r)} {_apache_agents(r)}" for r in records]


def apache_vhost_common(records: Sequence[Record]) -> list[str]:
    """``LogFormat "%v %h %l %u %t \\"%r\\" %>s %b" vhost_common``."""
    return [f"{r.vhost} {_apache_common(r)}" for r in records]


def apache_vhost_combined(records: Sequence[Record]) -> list[str]:
    """Debian's ``"%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\""``
    (``%O``: bytes sent, headers included, never ``-``)."""
    return [
        f"{r.vhost}:{r.port} {r.remote} - {dash(r.user)} [{clf_time(r.time)}] "
        f"{apache_quoted(r.request_line)} {r.status} {r.bytes + 180} {_apache_agents(r)}"
        for r in records
    ]


def apache_combined_duration(records: Sequence[Record]) -> list[str]:
    """combined, then ``%D`` (the time taken, in microseconds)."""
    return [f"{_apache_common(r)} {_apache_agents(r)} {round(r.duration * 1e6)}" for r in records]


APACHE_XFF_FORMAT = (
    r"%{X-Forwarded-For}i %h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""
)
NGINX_MAIN_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
)


def apache_combined_xff(records: Sequence[Record]) -> list[str]:
    """Behind a load balancer: ``"%{X-Forwarded-For}i %h %l %u %t \\"%r\\" %>s %b ..."`` (the
    header as received, unquoted: ``203.0.113.7`` or ``192.168.1.23, 203.0.113.7``; ``-``)."""
    return [
        f"{dash(', '.join(r.forwarded))} {_apache_common(r)} {_apache_agents(r)}" for r in records
    ]


def _nginx_combined(r: Record) -> str:
    return (
        f"{r.remote} - {nginx_value(r.user)} [{clf_time(r.time)}] "
        f'"{nginx_value(r.request_line)}" {r.status} {r.bytes} '
        f'"{nginx_value(r.referer)}" "{nginx_value(r.user_agent)}"'
    )


def nginx_combined(records: Sequence[Record]) -> list[str]:
    """nginx's predefined ``combined``: ``$remote_addr - $remote_user [$time_local] "$request"
    $status $body_bytes_sent "$http_referer" "$http_user_agent"`` (bytes ``0``, never ``-``)."""
    return [_nginx_combined(r) for r in records]


def nginx_main(records: Sequence[Record]) -> list[str]:
    """The ``main`` format of nginx's packaged nginx.conf: combined, then
    ``"$http_x_forwarded_for"``."""
    return [f'{_nginx_combined(r)} "{nginx_value(", ".join(r.forwarded))}"' for r in records]


def nginx_request_time(records: Sequence[Record]) -> list[str]:
    """combined, then ``$request_time`` (seconds, milliseconds resolution)."""
    return [f"{_nginx_combined(r)} {r.duration:.3f}" for r in records]


def nginx_upstream_host(records: Sequence[Record]) -> list[str]:
    """combined, then ``$upstream_response_time $host``: the time is a list when several
    upstreams were tried (``0.002, 1.044``), ``-`` when none was."""
    return [
        f"{_nginx_combined(r)} {joined(r.upstream_times, '{:.3f}')} {r.vhost}" for r in records
    ]


def nginx_host_combined(records: Sequence[Record]) -> list[str]:
    """``$host`` first, then combined."""
    return [f"{r.vhost} {_nginx_combined(r)}" for r in records]


def nginx_json(records: Sequence[Record]) -> list[str]:
    """``log_format json escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr",
    ...}'``: every value a string (an empty variable is ``""``), JSON-escaped by nginx."""
    return [
        plain_json(
            {
                "time": r.time.isoformat(timespec="seconds"),
                "remote_addr": r.remote,
                "remote_user": r.user,
                "request": r.request_line,
                "status": str(r.status),
                "body_bytes_sent": str(r.bytes),
                "request_time": f"{r.duration:.3f}",
                "http_referer": r.referer,
                "http_user_agent": r.user_agent,
                "http_x_forwarded_for": ", ".join(r.forwarded),
                "host": r.vhost,
            }
        )
        for r in records
    ]


def ingress_nginx(records: Sequence[Record]) -> list[str]:
    """Kubernetes ingress-nginx's ``upstreaminfo``: combined, then ``$request_length
    $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr
    $upstream_response_length $upstream_response_time $upstream_status $req_id``."""
    lines = []
    for r in records:
        lengths = [0] * (len(r.upstreams) - 1) + [r.bytes] if r.upstreams else []
        lines.append(
            f"{_nginx_combined(r)} {300 + len(r.target)} {r.duration:.3f} "
            f"[default-web-8080] [] {joined(r.upstreams)} {joined(lengths)} "
            f"{joined(r.upstream_times, '{:.3f}')} {joined(r.upstream_statuses)} {r.request_id}"
        )
    return lines


def varnishncsa(records: Sequence[Record]) -> list[str]:
    """varnishncsa's default ``%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"``, where
    ``%r`` is ``%m http://%{Host}i%U%q %H`` (assumed: quotes escaped as Apache does)."""
    return [
        f"{r.remote} - {dash(r.user)} [{clf_time(r.time)}] "
        f'"{r.method} http://{r.vhost}{r.target} {r.protocol}" {r.status} {r.bytes or "-"} '
        f"{_apache_agents(r)}"
        for r in records
    ]


def lighttpd(records: Sequence[Record]) -> list[str]:
    """lighttpd's default ``accesslog.format``: ``%h %V %u %t "%r" %>s %b "%{Referer}i"
    "%{User-Agent}i"`` (``%V``, the server name, where Common has ident)."""
    return [
        f"{r.remote} {r.vhost} {dash(r.user)} [{clf_time(r.time)}] "
        f"{apache_quoted(r.request_line)} {r.status} {r.bytes or '-'} {_apache_agents(r)}"
        for r in records
    ]


def _traefik_service(r: Record) -> str:
    return f"http://{r.upstreams[-1]}" if r.upstreams else "-"


def traefik_clf(records: Sequence[Record]) -> list[str]:
    """Traefik's default access log (its "CLF"): ``<client> - <user> [<time, UTC>] "<method>
    <path> <protocol>" <status> <size> "<referer>" "<user agent>" <request count> "<router>"
    "<service URL>" <duration>ms``; headers are dropped by default, so referer and agent are
    ``"-"``."""
    return [
        f"{r.remote} - {dash(r.user)} [{clf_time(r.utc)}] "
        f'"{r.method} {r.target} {r.protocol}" {r.status} {r.bytes} "-" "-" {count} '
        f'"web@docker" "{_traefik_service(r)}" {int(r.duration * 1000)}ms'
        for count, r in enumerate(records, 1)
    ]


def traefik_json(records: Sequence[Record]) -> list[str]:
    """Traefik's ``format: json``: its default fields, keys sorted as Go writes a map."""
    lines = []
    for count, r in enumerate(records, 1):
        started = r.time - timedelta(microseconds=round(r.duration * 1e6))
        nanos = round(r.duration * 1e9)
        fields = {
            "ClientAddr": host_port(r.remote, r.client_port, brackets=True),
            "ClientHost": r.remote,
            "ClientPort": str(r.client_port),
            "ClientUsername": dash(r.user),
            "DownstreamContentSize": r.bytes,
            "DownstreamStatus": r.status,
            "Duration": nanos,
            "OriginContentSize": r.bytes,
            "OriginDuration": max(nanos - 90_000, 0),
            "OriginStatus": r.upstream_statuses[-1] if r.upstreams else 0,
            "Overhead": min(90_000, nanos),
            "RequestAddr": r.vhost,
            "RequestContentSize": 0,
            "RequestCount": count,
            "RequestHost": r.vhost,
            "RequestMethod": r.method,
            "RequestPath": r.target,
            "RequestPort": "-",
            "RequestProtocol": r.protocol,
            "RequestScheme": r.scheme,
            "RetryAttempts": len(r.upstreams) - 1 if r.upstreams else 0,
            "RouterName": "web@docker",
            "ServiceName": "web@docker",
            "ServiceURL": _traefik_service(r),
            "StartLocal": go_time(started),
            "StartUTC": go_time(started.astimezone(UTC)),
            "entryPointName": "websecure" if r.port == 443 else "web",
            "level": "info",
            "msg": "",
            "time": r.time.isoformat(timespec="seconds"),
        }
        lines.append(go_json(fields))
    return lines


def caddy_json(records: Sequence[Record]) -> list[str]:
    """Caddy 2's access log, its default structured (JSON) form: ``ts`` in seconds since 1970,
    the request's headers as lists, ``client_ip`` the client once ``trusted_proxies`` resolved
    it (with none configured, the address that connected)."""
    lines = []
    for r in records:
        headers = {"User-Agent": [r.user_agent], "Accept": ["*/*"]}
        if r.referer:
            headers["Referer"] = [r.referer]
        if r.forwarded:
            headers["X-Forwarded-For"] = [", ".join(r.forwarded)]
        request = {
            "remote_ip": r.remote,
            "remote_port": str(r.client_port),
            "client_ip": r.client,
            "proto": r.protocol,
            "method": r.method,
            "host": r.vhost,
            "uri": r.target,
            "headers": headers,
        }
        if r.port == 443:
            request["tls"] = {"resumed": False, "version": 772, "cipher_suite": 4865,
                              "proto": "h2", "server_name": r.vhost}  # fmt: skip
        entry = {
            "level": "info",
            "ts": r.time.timestamp(),
            "logger": "http.log.access.log0",
            "msg": "handled request",
            "request": request,
            "bytes_read": 0,
            "user_id": r.user,
            "duration": r.duration,
            "size": r.bytes,
            "status": r.status,
            "resp_headers": {"Server": ["Caddy"], "Content-Type": ["text/html; charset=utf-8"]},
        }
        lines.append(plain_json(entry))
    return lines


def _haproxy(r: Record) -> str:
    """HAProxy's ``option httplog``: ``%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC
    %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r`` (no captures: ``%hr %hs`` and their
    separators left out). ``%tr`` is local time with milliseconds and no offset."""
    total = round(r.duration * 1000)
    server = f"srv{UPSTREAMS.index(r.upstreams[-1]) + 1}" if r.upstreams else "<NOSRV>"
    response = total - 2 if r.upstreams else -1
    stamp = f"{clf_time(r.time)[:20]}.{r.time.microsecond // 1000:03d}"
    retries = f"+{len(r.upstreams) - 1}" if len(r.upstreams) > 1 else "0"
    return (
        f"{host_port(r.remote, r.client_port, brackets=False)} [{stamp}] "
        f"{'https-in~' if r.port == 443 else 'http-in'} web/{server} "
        f"1/0/1/{response}/{total} {r.status} {r.bytes + 180} - - ---- "
        f'12/12/3/1/{retries} 0/0 "{r.request_line}"'
    )


def haproxy(records: Sequence[Record]) -> list[str]:
    """HAProxy's HTTP log as ``log stdout format raw`` writes it (a container's output)."""
    return [_haproxy(r) for r in records]


def haproxy_syslog(records: Sequence[Record]) -> list[str]:
    """HAProxy's HTTP log as a syslog daemon stores it: ``Nov 30 10:00:00 lb1
    haproxy[14389]: `` before each line."""
    return [f"{syslog_time(r.time)} lb1 haproxy[14389]: {_haproxy(r)}" for r in records]


def squid(records: Sequence[Record]) -> list[str]:
    """Squid's native ``squid`` logformat: ``%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru
    %[un %Sh/%<a %mt`` (time in seconds since 1970, elapsed milliseconds right-aligned)."""
    lines = []
    for r in records:
        stamp = r.time.timestamp()
        code = "TCP_MISS" if r.upstreams else ("TCP_MEM_HIT" if r.status == 200 else "TCP_HIT")
        peer = f"HIER_DIRECT/{r.upstreams[-1].split(':')[0]}" if r.upstreams else "HIER_NONE/-"
        mime = "text/html" if r.bytes else "-"
        lines.append(
            f"{int(stamp)}.{r.time.microsecond // 1000:03d} {round(r.duration * 1000):6d} "
            f"{r.remote} {code}/{r.status:03d} {r.bytes + 180} {r.method} {r.url} "
            f"{dash(r.user)} {peer} {mime}"
        )
    return lines


def _aws_quoted(text: str) -> str:
    """A quoted AWS log field (assumed: a quote inside as ``\\"``, which AWS does not
    document)."""
    return '"' + (text or "-").replace("\\", "\\\\").replace('"', '\\"') + '"'


def _aws_request(r: Record) -> str:
    return _aws_quoted(f"{r.method} {r.scheme}://{r.vhost}:{r.port}{r.target} {r.protocol}")


def aws_alb(records: Sequence[Record]) -> list[str]:
    """An Application Load Balancer's access log entry: ``type time elb client:port
    target:port request_processing_time target_processing_time response_processing_time
    elb_status_code target_status_code received_bytes sent_bytes "request" "user_agent"
    ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn"
    matched_rule_priority request_creation_time "actions_executed" "redirect_url"
    "error_reason" "target:port_list" "target_status_code_list" "classification"
    "classification_reason"``, times in UTC; IPv6 clients without brackets."""
    lines = []
    for r in records:
        tls = r.port == 443
        target = r.upstreams[-1] if r.upstreams else "-"
        created = r.time - timedelta(microseconds=round(r.duration * 1e6))
        lines.append(
            " ".join(
                [
                    ("h2" if r.protocol == "HTTP/2.0" else "https") if tls else "http",
                    iso_micro(r.time),
                    "app/my-loadbalancer/50dc6c495c0c9188",
                    host_port(r.remote, r.client_port, brackets=False),
                    target,
                    "0.000",
                    f"{r.duration:.3f}" if r.upstreams else "-1",
                    "0.000",
                    str(r.status),
                    str(r.upstream_statuses[-1]) if r.upstreams else "-",
                    str(200 + len(r.target)),
                    str(r.bytes + 180),
                    _aws_request(r),
                    _aws_quoted(r.user_agent),
                    "ECDHE-RSA-AES128-GCM-SHA256" if tls else "-",
                    "TLSv1.2" if tls else "-",
                    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/web/"
                    "73e2d6bc24d8a067",
                    _aws_quoted(f"Root=1-{int(r.time.timestamp()):08x}-{r.request_id[:24]}"),
                    _aws_quoted(r.vhost if tls else ""),
                    _aws_quoted(
                        "arn:aws:acm:us-east-2:123456789012:certificate/"
                        "12345678-1234-1234-1234-123456789012"
                        if tls
                        else ""
                    ),
                    "1" if r.upstreams else "0",
                    iso_micro(created),
                    _aws_quoted("forward" if r.upstreams else "fixed-response"),
                    '"-"',
                    '"-"',
                    _aws_quoted(" ".join(r.upstreams)),
                    _aws_quoted(" ".join(map(str, r.upstream_statuses))),
                    '"-"',
                    '"-"',
                ]
            )
        )
    return lines


def aws_elb(records: Sequence[Record]) -> list[str]:
    """A Classic Load Balancer's entry: ``time elb client:port backend:port
    request_processing_time backend_processing_time response_processing_time elb_status_code
    backend_status_code received_bytes sent_bytes "request" "user_agent" ssl_cipher
    ssl_protocol``."""
    return [
        f"{iso_micro(r.time)} my-loadbalancer "
        f"{host_port(r.remote, r.client_port, brackets=False)} "
        f"{r.upstreams[-1] if r.upstreams else '-'} 0.000021 "
        f"{r.duration:.6f} 0.000018 {r.status} "
        f"{r.upstream_statuses[-1] if r.upstreams else '-'} 0 {r.bytes} {_aws_request(r)} "
        f"{_aws_quoted(r.user_agent)} "
        f"{'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2' if r.port == 443 else '- -'}"
        for r in records
    ]


def aws_s3(records: Sequence[Record]) -> list[str]:
    """S3 server access logging: ``bucket_owner bucket [time] remote_ip requester request_id
    operation key "request_uri" http_status error_code bytes_sent object_size total_time
    turn_around_time "referer" "user_agent" version_id host_id signature_version cipher_suite
    authentication_type host_header tls_version access_point_arn acl_required`` (time in
    UTC as ``[30/Nov/2026:04:30:00 +0000]``)."""
    owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    lines = []
    for r in records:
        key = r.path.strip("/") or "-"
        operation = f"REST.{r.method}.{'OBJECT' if key != '-' else 'BUCKET'}"
        error = {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError"}.get(r.status, "-")
        lines.append(
            f"{owner} amzn-s3-demo-bucket [{clf_time(r.utc)}] {r.remote} "
            f"{owner if r.user else '-'} {r.request_id[:16].upper()} {operation} {key} "
            f'"{r.method} /amzn-s3-demo-bucket{r.target} {r.protocol}" {r.status} {error} '
            f"{r.bytes or '-'} {r.bytes or '-'} {round(r.duration * 1000)} "
            f"{round(r.duration * 800) if r.bytes else '-'} {_aws_quoted(r.referer)} "
            f"{_aws_quoted(r.user_agent)} - {r.request_id[:44]}= SigV4 "
            f"{'ECDHE-RSA-AES128-GCM-SHA256' if r.port == 443 else '-'} AuthHeader "
            f"amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com "
            f"{'TLSv1.2' if r.port == 443 else '-'} - -"
        )
    return lines


CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)


def _url_encoded(text: str) -> str:
    """CloudFront's encoding of a header value: spaces, quotes, backslashes and the like as
    ``%XX``; ``-`` for none."""
    return quote(text, safe="/();,:=+.!*'~_-?&@[]$") if text else "-"


def cloudfront(records: Sequence[Record]) -> list[str]:
    """CloudFront's standard (legacy) log file: ``#Version`` and ``#Fields`` lines, then one
    tab-separated line a request, in UTC, header values URL-encoded."""
    lines = ["#Version: 1.0", f"#Fields: {CLOUDFRONT_FIELDS}"]
    for r in records:
        t = r.utc
        hit = "Hit" if not r.upstreams else ("Error" if r.status >= 500 else "Miss")
        values = [
            f"{t:%Y-%m-%d}", f"{t:%H:%M:%S}", "FRA56-P5", str(r.bytes + 180), r.remote,
            r.method, "d111111abcdef8.cloudfront.net", r.path, str(r.status),
            _url_encoded(r.referer), _url_encoded(r.user_agent), dash(r.query), "-", hit,
            f"{r.request_id}{r.request_id[:24]}==", r.vhost, r.scheme, str(200 + len(r.target)),
            f"{r.duration:.3f}", "-", "TLSv1.3" if r.port == 443 else "-",
            "TLS_AES_128_GCM_SHA256" if r.port == 443 else "-", hit, r.protocol, "-", "-",
            str(r.client_port), f"{r.duration * 0.9:.3f}", hit,
            "text/html" if r.bytes else "-", str(r.bytes), "-", "-",
        ]  # fmt: skip
        lines.append("\t".join(values))
    return lines


IIS_DEFAULT_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)
IIS_WIDE_FIELDS = (
    "date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port "
    "cs-username c-ip cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status "
    "sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"
)
IIS_REORDERED_FIELDS = (
    "date time c-ip cs-username s-ip s-port cs-method cs-uri-stem cs-uri-query sc-status "
    "sc-bytes time-taken cs(User-Agent) cs(Referer)"
)


def _iis_value(r: Record, field: str) -> str:
    """One W3C field of ``r`` as IIS writes it: UTC, ``-`` for none, ``+`` for spaces."""
    t = r.utc
    values = {
        "date": f"{t:%Y-%m-%d}", "time": f"{t:%H:%M:%S}", "s-sitename": "W3SVC1",
        "s-computername": "WEB01", "s-ip": "10.0.0.4", "cs-method": r.method,
        "cs-uri-stem": r.path, "cs-uri-query": dash(r.query), "s-port": str(r.port),
        "cs-username": dash(r.user), "c-ip": r.remote, "cs-version": r.protocol,
        "cs(User-Agent)": r.user_agent.replace(" ", "+"), "cs(Cookie)": "-",
        "cs(Referer)": dash(r.referer), "cs-host": r.vhost, "sc-status": str(r.status),
        "sc-substatus": "0", "sc-win32-status": "0", "sc-bytes": str(r.bytes + 180),
        "cs-bytes": str(200 + len(r.target)), "time-taken": str(round(r.duration * 1000)),
    }  # fmt: skip
    return values[field]


def _iis_block(records: Sequence[Record], fields: str) -> list[str]:
    started = records[0].utc if records else WINDOW[0].astimezone(UTC)
    names = fields.split()
    return [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Version: 1.0",
        f"#Date: {started:%Y-%m-%d %H:%M:%S}",
        f"#Fields: {fields}",
        *(" ".join(_iis_value(r, name) for name in names) for r in records),
    ]


def iis(records: Sequence[Record]) -> list[str]:
    """IIS's W3C log, its default fields under one ``#Fields:`` block (CRLF line ends)."""
    return _iis_block(records, IIS_DEFAULT_FIELDS)


def iis_three_blocks(records: Sequence[Record]) -> list[str]:
    """An IIS log whose fields changed twice (a header block is written at each change and
    restart): the default fields, then more, then others in another order."""
    third = len(records) // 3
    parts = (records[:third], records[third : 2 * third], records[2 * third :])
    fields = (IIS_DEFAULT_FIELDS, IIS_WIDE_FIELDS, IIS_REORDERED_FIELDS)
    return [line for part, names in zip(parts, fields, strict=True) for line in
            _iis_block(part, names)]  # fmt: skip


def syslog_combined(records: Sequence[Record]) -> list[str]:
    """nginx's combined lines through ``access_log syslog:...`` as rsyslog stores them: an
    RFC 3164 header (local time, no year) and the tag before each."""
    return [f"{syslog_time(r.time)} web1 nginx: {_nginx_combined(r)}" for r in records]


def docker_json_combined(records: Sequence[Record]) -> list[str]:
    """nginx's combined lines on a container's stdout, in Docker's json-file log: ``{"log":
    "<line>\\n","stream":"stdout","time":"<UTC, RFC3339Nano>"}``."""
    return [
        go_json({"log": _nginx_combined(r) + "\n", "stream": "stdout", "time": go_time(r.utc)})
        for r in records
    ]


def cri_combined(records: Sequence[Record]) -> list[str]:
    """nginx's combined lines in a Kubernetes node's CRI log (containerd, CRI-O):
    ``<RFC3339Nano> stdout F <line>``."""
    return [f"{go_time(r.utc)} stdout F {_nginx_combined(r)}" for r in records]


# --- the variants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way a deployment writes its access log.

    ``detect_as``: the registered format a reader should name for it (for a format not
    registered yet, the name proposed for it). ``client``: where the log holds the client,
    ``remote`` (the connecting address) or ``forwarded`` (behind a load balancer: the last
    X-Forwarded-For address); the records are made to match. ``options``: what a user must add
    to ``python -m lib.logs`` to have it read (none: detected). ``zone``: the zone the server
    writes local times in (UTC where the format's times carry no offset)."""

    name: str
    render: Render
    detect_as: str
    client: str = "remote"
    options: tuple[str, ...] = ()
    zone: timezone = ZONE
    newline: str = "\n"
    note: str = ""

    def records(self) -> tuple[Record, ...]:
        return _records(self.client == "forwarded", self.zone)

    def lines(self) -> list[str]:
        """The whole log, a line each (without line ends)."""
        return self.render(self.records())

    @property
    def sample(self) -> str:
        """A request line of the log, as the server writes it."""
        return [line for line in self.render(self.records()[:1]) if not line.startswith("#")][0]

    def expected(self, window: tuple[datetime, datetime] = WINDOW) -> dict:
        """The oracle's answers for this variant's log (see ``expected``)."""
        return expected(self.records(), window, self.client)


@cache
def _records(behind_proxy: bool, zone: timezone) -> tuple[Record, ...]:
    return tuple(make_records(behind_proxy, zone))


def _variants(*variants: Variant) -> dict[str, Variant]:
    return {variant.name: variant for variant in variants}


_NO_ZONE = "its time stamps carry no offset: the host runs in UTC here"

VARIANTS: dict[str, Variant] = _variants(
    Variant("apache_common", apache_common, "common"),
    Variant("apache_combined", apache_combined, "combined"),
    Variant("apache_vhost_common", apache_vhost_common, "vhost_common"),
    Variant("apache_vhost_combined", apache_vhost_combined, "vhost_combined"),
    Variant("apache_combined_duration", apache_combined_duration, "apache_combined_duration"),
    Variant(
        "apache_combined_xff",
        apache_combined_xff,
        "custom",
        "forwarded",
        options=("--format", APACHE_XFF_FORMAT, "--client", "forwarded"),
        note="which field is the client is the operator's to say",
    ),
    Variant("nginx_combined", nginx_combined, "combined"),
    Variant("nginx_main", nginx_main, "nginx_main"),
    Variant(
        "nginx_main_behind_lb",
        nginx_main,
        "custom",
        "forwarded",
        options=("--format", NGINX_MAIN_FORMAT, "--client", "forwarded"),
        note="the same lines as nginx_main; only the deployment says where the client is",
    ),
    Variant("nginx_request_time", nginx_request_time, "nginx_request_time"),
    Variant("nginx_upstream_host", nginx_upstream_host, "nginx_upstream_host"),
    Variant("nginx_host_combined", nginx_host_combined, "host_combined"),
    Variant("nginx_json", nginx_json, "nginx_json"),
    Variant("ingress_nginx", ingress_nginx, "ingress_nginx"),
    Variant("varnishncsa", varnishncsa, "combined"),
    Variant("lighttpd", lighttpd, "combined"),
    Variant("traefik_clf", traefik_clf, "traefik_clf"),
    Variant("traefik_json", traefik_json, "traefik_json"),
    Variant("caddy_json", caddy_json, "caddy_json"),
    Variant(
        "caddy_json_behind_lb",
        caddy_json,
        "caddy_json",
        "forwarded",
        note="trusted_proxies set: client_ip is the client, remote_ip the load balancer",
    ),
    Variant("haproxy", haproxy, "haproxy_http", zone=UTC, note=_NO_ZONE),
    Variant("haproxy_syslog", haproxy_syslog, "syslog+haproxy_http", zone=UTC, note=_NO_ZONE),
    Variant("squid", squid, "squid"),
    Variant("aws_alb", aws_alb, "aws_alb"),
    Variant("aws_elb", aws_elb, "aws_elb"),
    Variant("aws_s3", aws_s3, "aws_s3"),
    Variant("cloudfront", cloudfront, "cloudfront"),
    Variant("iis", iis, "w3c", newline="\r\n"),
    Variant("iis_three_blocks", iis_three_blocks, "w3c", newline="\r\n"),
    Variant("syslog_combined", syslog_combined, "syslog+combined"),
    Variant("docker_json_combined", docker_json_combined, "docker+combined"),
    Variant("cri_combined", cri_combined, "cri+combined"),
)


# --- writing logs ---------------------------------------------------------------------------

COMPRESSIONS = ("plain", "gzip", "bzip2", "xz", "zstd")
SUFFIXES = {"plain": "", "gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}


def compress(data: bytes, compression: str) -> bytes:
    """``data`` as ``compression`` (one of ``COMPRESSIONS``) writes it."""
    if compression == "plain":
        return data
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "bzip2":
        return bz2.compress(data)
    if compression == "xz":
        return lzma.compress(data)
    if compression == "zstd":
        return zstandard.ZstdCompressor(write_checksum=True).compress(data)
    raise ValueError(f"compression is one of {', '.join(COMPRESSIONS)}, not {compression!r}")


def write_lines(
    path: Path, lines: Iterable[str], compression: str = "plain", newline: str = "\n"
) -> Path:
    """Write ``lines`` (each ended by ``newline``) to ``path``, compressed as asked."""
    data = "".join(line + newline for line in lines).encode("utf-8")
    path.write_bytes(compress(data, compression))
    return path


def write_log(variant: Variant | str, path: Path, compression: str = "plain") -> Path:
    """Write a variant's whole log to ``path`` (plain or compressed); return the path."""
    if isinstance(variant, str):
        variant = VARIANTS[variant]
    return write_lines(path, variant.lines(), compression, variant.newline)


# --- near misses: formats a reader should refuse ---------------------------------------------


@dataclass(frozen=True)
class NearMiss:
    """A log no registered format reads. Its refusal must be one line that mentions one of
    ``mentions`` (how to name the format: ``log_format`` in Python, ``--format`` on the command
    line)."""

    name: str
    lines: tuple[str, ...]
    mentions: tuple[str, ...] = ("log_format", "--format")


def _near_miss(name: str, line: Callable[[Record], str], head: tuple[str, ...] = ()) -> NearMiss:
    records = _records(False, ZONE)[:200]
    return NearMiss(name, (*head, *(line(r) for r in records)))


NEAR_MISSES: tuple[NearMiss, ...] = (
    _near_miss(
        "made_up_layout",
        lambda r: (
            f"{r.time:%Y-%m-%d %H:%M:%S} | {r.remote} | {r.request_line} | {r.status} | "
            f"{r.bytes} B"
        ),
    ),
    _near_miss(
        "json_unknown_keys",
        lambda r: plain_json(
            {"when": r.time.isoformat(), "who": r.remote, "what": r.target, "code": r.status}
        ),
    ),
    _near_miss(
        "csv_export",
        lambda r: f'{r.time.isoformat()},{r.remote},{r.method},"{r.target}",{r.status},{r.bytes}',
        ("timestamp,client_ip,method,path,status,bytes",),
    ),
    _near_miss(
        "logfmt",
        lambda r: (
            f"time={r.time.isoformat()} ip={r.remote} method={r.method} "
            f'path="{r.target}" status={r.status} bytes={r.bytes}'
        ),
    ),
    _near_miss(
        "combined_iso_time",
        lambda r: (
            f'{r.remote} - - [{r.time.isoformat()}] "{r.request_line}" {r.status} '
            f'{r.bytes} "-" "curl/8"'
        ),
    ),
    _near_miss(
        "common_unquoted_request",
        lambda r: f"{r.remote} - - [{clf_time(r.time)}] {r.request_line} {r.status} {r.bytes}",
    ),
    _near_miss(
        "apache_error_log",
        lambda r: (
            f"[{r.time:%a %b %d %H:%M:%S}.{r.time.microsecond:06d} {r.time.year}] "
            f"[core:error] [pid 4242] [client {host_port(r.remote, r.client_port, False)}] "
            f"AH00126: Invalid URI in request {r.request_line}"
        ),
    ),
)


if __name__ == "__main__":
    for variant in VARIANTS.values():
        print(f"{variant.name:26} {variant.sample}")
