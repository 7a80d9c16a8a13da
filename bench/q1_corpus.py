"""The corpus ``bench/q1_same_answers.py`` runs through two trees: access logs, and the cases
(the command lines) that read them.

``build_corpus`` writes the logs into a folder once, and leaves them while its ``corpus.json``
names the same recipe (this module's text) and files of the same sizes. They are the full-size
synthetic August month in Common and in Combined format (copied from ``out/bench/`` of the before
tree, /work/main or this tree when there, else written by ``lib.logs.synthetic.generate_log`` of
the before tree, in a child process: nothing here imports ``lib``) and a smaller log of the same
generator, compressed every way; and, written here in plain Python:

- a log per registered format (W3C with one and with several ``#Fields:`` blocks), per custom
  format string of the tests (Apache ``%D``, ``%T``, ``%{sec}t``, ``%{...}t``, ``%v``, ``%p``;
  nginx ``$time_iso8601``, ``$msec``, ``$request_time``), IPv6 clients, escaped quotes;
- what the fast path hands back and the second chances read: a format changing mid-file, CRLF,
  a byte-order mark, bytes that are not UTF-8, 0x1F, lowercase months, empty lines, lines over
  1 MiB and over a block, byte counts of 18 and 19 digits whose sums wrap an Int64, dates at
  the calendar's edges, blocks of 8 MiB in one format after a first in another;
- logs that cannot be read (empty, only rejected lines), several files and a glob, windows with
  requests exactly at their ends.

The NASA slice (/work/shared/data/nasa_aug95_head.log) is read in place, and a gzip copy of it
written; its cases need it.
``cases()`` lists every case: a name, its logs, its arguments and environment.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parent.parent
NASA_SLICE = Path("/work/shared/data/nasa_aug95_head.log")

# --- the corpus's lines, written as each server writes them -------------------------------------

EDT = timezone(timedelta(hours=-4))  # the NASA server's zone in August 1995
HOSTS = (  # clients of every kind attribution tells apart, most requests first
    "piweba3y.prodigy.com",
    "www-d1.proxy.aol.com",
    "133.43.96.45",
    "ix-min1-02.ix.netcom.com",
    "haraway.ucet.ufl.edu",
    "pc12.cs.tu-berlin.de",
    "adam.tower.com.au",
    "lab3.ox.ac.uk",
    "143.158.26.50",
    "kiosk.ksc.nasa.gov",
    "ppp5.tokyo.ne.jp",
    "gw.af.mil",
    "193.0.6.139",
    "city.k12.ca.us",
    "dialup-2-139.gw.umn.edu",
    "sun1.ethz.ch",
    "8.8.8.8",
    "host.example.com",
    "unknown",
    "192.0.2.5",
)
IPV6_HOSTS = (  # valid, mapped, documentation, zoned, bracketed and broken literals
    "2001:4860:4860::8888",
    "2a00:1450:4001:82a::200e",
    "2404:6800:4004:80b::2004",
    "2001:db8::7",
    "::1",
    "::ffff:133.43.96.45",
    "2001:0DB8:0000:0000:0000:0000:0000:0001",
    "fe80::1%eth0",
    "[2001:4860:4860::8844]",
    "2001:db8::zz",
)
PATHS = ("/", "/ksc.html", "/images/launch-logo.gif", "/shuttle/countdown/", "/cgi-bin/q?a=1")
STATUSES = (200, 200, 200, 200, 304, 302, 404, 500)
REFERERS = ("-", "-", "http://www.ksc.nasa.gov/", "https://search.example/?q=a", 'http://x/"y"')
AGENTS = ("Mozilla/2.0 (compatible; MSIE 3.0)", "curl/8.5.0", 'UA "quoted" \\ end', "-")


@dataclass(frozen=True)
class Hit:
    """One request, to be written in any format."""

    host: str
    when: datetime  # aware
    method: str
    path: str
    status: int
    size: int | None  # None: logged as "-"
    referer: str
    agent: str
    vhost: str


def hits(seed: int, count: int, hosts: tuple[str, ...] = HOSTS) -> list[Hit]:
    """``count`` requests in time order over five days from 17 Aug 1995 (-0400), so that some
    fall outside the default window (18-20 Aug); hosts heavy-tailed, the rarest often tied."""
    rng = random.Random(seed)
    start = datetime(1995, 8, 17, tzinfo=EDT)
    weights = [1 / (rank + 2) for rank in range(len(hosts))]
    return [
        Hit(
            host=rng.choices(hosts, weights)[0],
            when=start + timedelta(seconds=offset),
            method=rng.choice(("GET", "GET", "HEAD", "POST")),
            path=rng.choice(PATHS),
            status=rng.choice(STATUSES),
            size=None if rng.random() < 0.1 else rng.randrange(100_000),
            referer=rng.choice(REFERERS),
            agent=rng.choice(AGENTS),
            vhost=rng.choice(("www.example.com", "ksc.nasa.gov")),
        )
        for offset in sorted(rng.randrange(5 * 86400) for _ in range(count))
    ]


def apache_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def nginx_escaped(text: str) -> str:
    return text.replace("\\", "\\x5C").replace('"', "\\x22")


def clf_time(when: datetime) -> str:
    return when.strftime("%d/%b/%Y:%H:%M:%S %z")


def size_of(hit: Hit) -> str:
    return "-" if hit.size is None else str(hit.size)


def common(hit: Hit) -> str:
    request = f"{hit.method} {hit.path} HTTP/1.0"
    return f'{hit.host} - - [{clf_time(hit.when)}] "{request}" {hit.status} {size_of(hit)}'


def combined(hit: Hit, escape: Callable[[str], str] = apache_escaped) -> str:
    return f'{common(hit)} "{escape(hit.referer)}" "{escape(hit.agent)}"'


def vhost_combined(hit: Hit) -> str:
    return f"{hit.vhost}:443 {combined(hit)}"


def vhost_common(hit: Hit) -> str:
    return f"{hit.vhost} {common(hit)}"


def host_combined(hit: Hit) -> str:  # nginx: $host $remote_addr - $remote_user [...] ...
    return f"{hit.vhost} {combined(hit, nginx_escaped)}"


def w3c(hit: Hit) -> str:  # the fields of W3C_FIELDS, times in UTC, spaces in the agent as +
    path, _, query = hit.path.partition("?")
    agent, referer = hit.agent.replace(" ", "+").replace('"', ""), hit.referer.replace('"', "")
    return (
        f"{hit.when.astimezone(UTC):%Y-%m-%d %H:%M:%S} 10.0.0.5 {hit.method} {path} "
        f"{query or '-'} 80 - {hit.host} {agent} {referer} {hit.status} 0 0 {hit.size or 15}"
    )


def w3c_other(hit: Hit) -> str:  # the fields of W3C_OTHER_FIELDS
    return (
        f"{hit.host} {hit.when.astimezone(UTC):%Y-%m-%d %H:%M:%S} {hit.status} {hit.size or 0} "
        f"{hit.method} {hit.path} {hit.vhost}"
    )


W3C_HEAD = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 1995-08-17 00:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
]
W3C_OTHER_HEAD = [
    "#Date: 1995-08-19 12:00:00",
    "#Fields: c-ip date time sc-status sc-bytes cs-method cs-uri-stem cs-host",
]
# The custom formats of the tests (test_formats, test_own_logs), and what each line is written as.
APACHE_D = r'"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D"'
APACHE_SEC = "%a %{sec}t %>s %B %m %U%q %H"
APACHE_ISO = r"%v:%p %h %l %u %{%Y-%m-%dT%H:%M:%S%z}t \"%r\" %>s %O %T"
APACHE_BEGIN = r"%h %{begin:%Y-%m-%dT%H:%M:%S%z}t \"%r\" %>s %b %{ms}T %%"
APACHE_COMMON = r"%h %l %u %t \"%r\" %>s %b"
NGINX_ISO = (
    "'$remote_addr - $remote_user [$time_iso8601] \"$request\" '\n"
    '    \'$status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time\''
)
NGINX_MSEC = '$msec $remote_addr "$request" $status'
NGINX_FIELDS = "$time_iso8601 $remote_addr $request_method $uri $status $body_bytes_sent"
NGINX_LOCAL = (
    '$host $remote_addr [$time_local] "$request" $status "$http_user_agent" $request_time'
)
CUSTOM_LINES: dict[str, Callable[[Hit], str]] = {
    "apache_D.log": lambda h: f"{combined(h)} {(h.size or 0) * 7 + 1532}",
    "apache_sec.log": lambda h: (
        f"{h.host} {int(h.when.timestamp())} {h.status} {h.size or 0} {h.method} {h.path} HTTP/1.0"
    ),
    "apache_iso.log": lambda h: (
        f'{h.vhost}:443 {h.host} - - {h.when:%Y-%m-%dT%H:%M:%S%z} "{h.method} {h.path} HTTP/1.1" '
        f"{h.status} {h.size or 0} {(h.size or 0) % 7}"
    ),
    "apache_begin.log": lambda h: (
        f'{h.host} {h.when:%Y-%m-%dT%H:%M:%S%z} "{h.method} {h.path} HTTP/1.1" {h.status} '
        f"{size_of(h)} {(h.size or 0) % 900} %"
    ),
    "nginx_iso.log": lambda h: (
        f"{h.host} - {'bob' if h.status == 404 else '-'} [{h.when.isoformat()}] "
        f'"{h.method} {h.path} HTTP/1.1" {h.status} {h.size or 0} "{nginx_escaped(h.referer)}" '
        f'"{nginx_escaped(h.agent)}" 0.{(h.size or 0) % 1000:03d}'
    ),
    "nginx_msec.log": lambda h: (
        f'{h.when.timestamp():.3f} {h.host} "{h.method} {h.path} HTTP/1.1" {h.status}'
    ),
    "nginx_fields.log": lambda h: (
        f"{h.when.astimezone(UTC).isoformat()} {h.host} {h.method} {h.path} {h.status} "
        f"{h.size or 0}"
    ),
    "nginx_local.log": lambda h: (
        f'{h.vhost} {h.host} [{clf_time(h.when)}] "{h.method} {h.path} HTTP/1.1" {h.status} '
        f'"{nginx_escaped(h.agent)}" {(h.size or 0) % 60}.000'
    ),
}


def lines_of(rows: list[str], ending: str = "\n") -> bytes:
    return "".join(row + ending for row in rows).encode()


def interleave(good: list, odd: list) -> list:
    """Each odd line after a good one (so that a block stays mostly its format), then the rest."""
    return [line for pair in zip(good, odd, strict=False) for line in pair] + (
        good[len(odd) :] or odd[len(good) :]
    )


GOOD = 'h{} - - [18/Aug/1995:12:30:{:02d} -0400] "GET / HTTP/1.0" 200 5'
REFERER_AND_AGENT = ' "http://r/" "agent"'


def good_lines(count: int, pair: str = "") -> list[str]:
    """Common lines (Combined ones with ``pair``) inside the default window."""
    return [GOOD.format(i % 9, i % 60) + pair for i in range(count)]


def format_logs() -> dict[str, bytes]:
    """A log per registered format, W3C with one and with several ``#Fields:`` blocks, a log of
    IPv6 clients, and one per custom format of the tests."""
    some, v6 = hits(1, 400), hits(2, 200, IPV6_HOSTS + HOSTS)
    rows = {
        "combined.log": [combined(h) for h in some[:200]]
        + [combined(h, nginx_escaped) for h in some[200:]],  # Apache's escapes, then nginx's
        "common.log": [common(h) for h in some],
        "vhost_combined.log": [vhost_combined(h) for h in some],
        "vhost_common.log": [vhost_common(h) for h in some],
        "host_combined.log": [host_combined(h) for h in v6],
        "w3c.log": W3C_HEAD + [w3c(h) for h in some],
        "w3c_several_fields.log": W3C_HEAD
        + [w3c(h) for h in some[:260]]
        + W3C_OTHER_HEAD
        + [w3c_other(h) for h in some[260:]],
        "ipv6_clients.log": [combined(h) for h in v6],
    }
    rows |= {name: [write(h) for h in some] for name, write in CUSTOM_LINES.items()}
    rows["nginx_msec.log"] = [CUSTOM_LINES["nginx_msec.log"](h) for h in v6]  # IPv6 clients too
    return {name: lines_of(text) for name, text in rows.items()}


def escaped_quotes() -> list[str]:
    """Combined lines escaped as Apache (``\\"``) and nginx (``\\x22``) write them, and a bare
    quote (test_formats, test_fast_summary)."""
    stamp = "[18/Aug/1995:10:00:00 +0000]"
    odd = [
        rf'1.2.3.4 - - {stamp} "GET /q?a=\"b\" HTTP/1.1" 404 - "https://x/\"y\"" "U \"q\" \\ e\\"',
        rf'1.2.3.4 - - {stamp} "GET /\x22 HTTP/1.1" 200 5 "-" "UA \x22quoted\x22 \x5C"',
        f'1.2.3.5 - - {stamp} "GET / HTTP/1.1" 200 5 " " "ua"',
        rf'1.2.3.6 - - {stamp} "GET / HTTP/1.1" 200 5 "a\" \"b" "c\" \"d"',
        rf'1.2.3.7 - - {stamp} "GET / HTTP/1.1" 200 5 "a\" " "ua"',
        f'1.2.3.8 - - {stamp} "GET / HTTP/1.1" 200 5 "-" "a"b"',
        f'1.2.3.9 - - {stamp} "GET /" 500 9 "x" "y HTTP/1.1" 200 5 "http://r/" "agent"',
    ]
    return interleave(good_lines(len(odd), REFERER_AND_AGENT), odd)


ODD_BYTES = [  # not UTF-8 (two from the real August log), or not ASCII
    b'128.159.144.83 - - [18/Aug/1995:15:51:37 -0400] "\x16\xb1\x02\x01..." 400 -',
    b'port9.trytel.com - - [18/Aug/1995:13:19:14 -0400] "GET /facts\xe9faq12.html HTTP/1.0" 404 -',
    b'h\xff - - [18/Aug/1995:13:19:14 -0400] "GET / HTTP/1.0" 200 1',
    b'h\xc3 - - [18/Aug/1995:13:19:15 -0400] "GET /\xc3 HTTP/1.0" 200 1',
    'h\u00e9t\u00e9 - - [18/Aug/1995:13:19:16 -0400] "GET /\u00e9 HTTP/1.0" 200 1'.encode(),
    b'h - - [18/Aug/1995:13:19:17 -0400] "G\tET / HTTP/1.0" 200 1',
    b"\xff\xfe\xfd",
]
X1F_BYTES = [  # the byte the line splitter uses itself
    b'h\x1f - - [18/Aug/1995:13:19:14 -0400] "GET / HTTP/1.0" 200 1',
    b'h - - [18/Aug/1995:13:19:14 -0400] "GET /\x1fa HTTP/1.0" 200 1',
    b'h - - [18/Aug/1995:13:19:14 -0400] "GET / HTTP/1.0" 200 1 "\x1f" "ua\x1f"',
    b"\x1f\x8b\x08 not gzip",
    b"\x1f",
]
CALENDAR_EDGES = [  # the fast path takes years 1000..9998 and real days; polars decides the rest
    "29/Feb/2000:12:00:00 +0000",
    "29/Feb/1996:12:00:00 +0000",
    "29/Feb/1900:12:00:00 +0000",
    "29/Feb/2100:12:00:00 +0000",
    "31/Apr/1995:12:00:00 +0000",
    "01/Jan/1000:00:00:00 +0000",
    "01/Jan/1000:00:00:00 +1400",
    "31/Dec/0999:23:59:59 +0000",
    "31/Dec/9998:23:59:59 +0000",
    "31/Dec/9998:23:59:59 -1400",
    "01/Jan/9999:00:00:00 +0000",
    "18/Aug/1995:12:00:00 -1400",
    "18/Aug/1995:12:00:00 +1400",
    "18/Aug/1995:12:00:00 +2359",
    "18/Aug/1995:12:00:00 -2360",
    "18/Aug/1995:12:00:60 -0400",
    "18/Aug/1995:24:00:00 -0400",
]
WINDOW_EDGES = {  # host -> its time: at the default window's ends, and a second either side
    "before-start": "17/Aug/1995:23:59:59 -0400",
    "at-start": "18/Aug/1995:00:00:00 -0400",
    "at-start-utc": "18/Aug/1995:04:00:00 +0000",
    "before-start-utc": "18/Aug/1995:03:59:59 +0000",
    "at-start-ist": "18/Aug/1995:09:30:00 +0530",
    "at-start-minus14": "17/Aug/1995:14:00:00 -1400",
    "before-end": "20/Aug/1995:23:59:59 -0400",
    "at-end": "21/Aug/1995:00:00:00 -0400",
    "at-end-utc": "21/Aug/1995:04:00:00 +0000",
    "before-end-utc": "21/Aug/1995:03:59:59 +0000",
    "at-end-plus14": "21/Aug/1995:18:00:00 +1400",
}
MSEC_EDGES = {  # host -> its nginx $msec, a millisecond either side of MSEC_WINDOW's ends
    "before-start": "1764547200.249",
    "at-start": "1764547200.250",
    "after-start": "1764547200.251",
    "before-end": "1764547201.499",
    "at-end": "1764547201.500",
    "after-end": "1764547201.501",
}
TIES = {"zeta": 7, "eta": 5, "delta": 5, "alpha": 5, "gamma": 5, "beta": 4}  # host -> requests
# Byte counts: nine of 18 digits the fast path counts, then one on a line it leaves over (a
# lowercase month), so that only the two sums together wrap an Int64; then 19 digits and more.
BIG_SIZES = {  # time -> byte counts
    "18/Aug/1995:12:30:01 -0400": ["9" * 18] * 9,
    "18/aug/1995:12:30:02 -0400": ["9" * 18],
    "18/Aug/1995:12:30:03 -0400": ["9" * 19, str(10**18), "0" * 18, str(2**63 - 1), str(2**63)],
}


def request_at(host: str, stamp: str, size: str = "1") -> str:
    return f'{host} - - [{stamp}] "GET / HTTP/1.0" 200 {size}'


def awkward_logs() -> dict[str, bytes]:
    """Lines the fast path hands back and the second chances read (test_fast_summary,
    test_reading, test_own_logs): odd bytes and endings, odd dates, huge byte counts; windows
    with requests exactly at their ends; logs that cannot be read."""
    good = good_lines(40)
    some = hits(5, 300)
    endings = ["\r\n", "\r\r\n", "\n"] * 40
    mixed_endings = good + good_lines(40, REFERER_AND_AGENT)
    edges = [request_at(f"edge{i}", stamp, str(i)) for i, stamp in enumerate(CALENDAR_EDGES)]
    big = [request_at("big", at, size) for at, sizes in BIG_SIZES.items() for size in sizes]
    big = [common(h) for h in some[:40]] + big
    return {
        "format_change.log": lines_of(
            [common(h) for h in some[:150]]
            + [combined(h) for h in some[150:220]]
            + [vhost_combined(h) for h in some[220:]]
        ),
        "crlf.log": "".join(a + b for a, b in zip(mixed_endings, endings, strict=False)).encode()
        + b"\r\n\r\nlast\r",
        "bom.log": ("\ufeff" + "\n\ufeff".join(good[:20]) + "\n" + "\n".join(good)).encode(),
        "non_utf8.log": b"\n".join(interleave([g.encode() for g in good], ODD_BYTES)),
        "x1f.log": b"\n".join(interleave([g.encode() for g in good], X1F_BYTES)) + b"\n",
        "lowercase_months.log": lines_of(
            interleave(good, [g.replace("Aug", m) for g in good[:6] for m in ("aug", "AUG")])
        ),
        "empty_lines.log": lines_of(["", "   ", "\t"] + interleave(good, ["", " ", "", "\t"])),
        "escaped_quotes.log": lines_of(escaped_quotes()),
        "big_bytes.log": lines_of(big),
        "big_bytes_vhost.log": lines_of([f"big.example {line}" for line in big]),
        "calendar_edges.log": lines_of(interleave(good_lines(len(edges) * 2), edges)),
        "beyond_9999.log": lines_of(good + [request_at("late", "31/Dec/9999:23:00:00 -1400")]),
        "window_edges.log": lines_of(
            interleave(good, [request_at(h, stamp) for h, stamp in WINDOW_EDGES.items()])
        ),
        "window_edges_msec.log": lines_of(
            [f'{stamp} {host} "GET / HTTP/1.1" 200' for host, stamp in MSEC_EDGES.items()] * 2
        ),
        "top_n_ties.log": lines_of(
            [GOOD.format(0, i).replace("h0", h) for h, n in TIES.items() for i in range(n)]
        ),
        "empty.log": b"",
        "empty.log.gz": gzip.compress(b"", mtime=0),
        "only_rejected.log": lines_of([f"garbage {i}" for i in range(50)]),
        "mostly_rejected.log": lines_of(
            [combined(h) for h in some] + [f"garbage {i}" for i in range(700)]
        ),
        "long_lines.log": long_lines(),
        "several_blocks.log": several_blocks(),
        "glob/a.log": lines_of([common(h) for h in some[:30]]),
        "glob/b.log": lines_of([vhost_common(h) for h in some[30:60]]),
        "glob/c.log": lines_of([combined(h) for h in some[60:90]]),
    }


def long_lines() -> bytes:
    """A well-formed request of 1.5 MiB, a malformed line of 1.1 MiB, and one of 9 MiB (longer
    than a block of 8 MiB: cut, and counted as one rejected line)."""
    good = good_lines(20)
    huge = GOOD.format(7, 7).replace("GET /", "GET /" + "a" * (3 << 19))
    junk = "x" * ((1 << 20) + 100_000)
    head = lines_of(good[:5] + [huge] + good[5:10] + [junk] + good[10:15])
    return head + b"y" * (9 << 20) + b"\n" + lines_of(good[15:])


def several_blocks() -> bytes:
    """Three stretches of 9 MiB, so several blocks of 8 MiB: Common, then mostly
    vhost_combined, then mostly Combined, each with a Common line in 50; every 4,000th request
    sends 18 digits of bytes, so that each block's sum wraps an Int64."""
    rows, index = [], 0
    for seed, write in ((17, common), (18, vhost_combined), (19, combined)):
        written = 0
        for hit in hits(seed, 120_000):
            index += 1
            if index % 4000 == 0:
                hit = replace(hit, size=10**18 - 1)
            rows.append((common if index % 50 == 0 else write)(hit))
            written += len(rows[-1]) + 1
            if written > 9 << 20:
                break
    return lines_of(rows)


def compressed(text: bytes) -> dict[str, bytes]:
    """``text`` as several streams of each compression, cut mid-line, as ``cat`` joins them;
    plain; and zstd under a gzip name."""
    cuts = [1, len(text) // 3, len(text) // 3 * 2 + 7]
    bounds = list(zip([0, *cuts], [*cuts, len(text)], strict=True))
    squeeze = {
        "gz": lambda data: gzip.compress(data, mtime=0),
        "bz2": bz2.compress,
        "xz": lzma.compress,
        "zst": zstandard.ZstdCompressor(write_checksum=True).compress,
    }
    files = {
        f"compressed/log.{suffix}": b"".join(pack(text[a:b]) for a, b in bounds)
        for suffix, pack in squeeze.items()
    }
    return files | {"compressed/log.txt": text, "compressed/zstd_named.gz": squeeze["zst"](text)}


def damaged(text: bytes) -> bytes:
    """``text`` with one line in 500 cut short (test_compression's fixture)."""
    lines = text.split(b"\n")
    for i in range(250, len(lines) - 1, 500):
        lines[i] = lines[i][: 10 + i % 50]
    return b"\n".join(lines)


# --- building the corpus ------------------------------------------------------------------------

MONTHS = {  # file -> (lines, None: the full month; seed; format)
    "synthetic_aug95.log.gz": (None, 1995, "common"),
    "synthetic_aug95_combined.log.gz": (None, 1995, "combined"),
    "synthetic_small.log": (30_000, 11, "common"),
}
# Run in the before tree: each synthetic log copied from a cache when one there is of that
# size, seed and format (its marker says), else generated.
SYNTHESISE = """
import json, shutil, sys
from pathlib import Path
from lib.logs.synthetic import SYNTHETIC_LINES, generate_log
from lib.logs.synthetic_marker import marker_path

def fits(path, lines, seed, log_format):
    if not (path.is_file() and marker_path(path).is_file()):
        return False
    said = json.loads(marker_path(path).read_text())
    return (said.get("lines"), said.get("seed"), said.get("format", "common")) == (
        lines, seed, log_format)

for target, lines, seed, log_format, caches in json.loads(sys.argv[1]):
    target, lines = Path(target), lines or SYNTHETIC_LINES
    if fits(target, lines, seed, log_format):
        continue
    found = [Path(p) for p in caches if fits(Path(p), lines, seed, log_format)]
    if found:
        print(f"  {target.name}: copied from {found[0]}", flush=True)
        shutil.copyfile(marker_path(found[0]), marker_path(target))
        shutil.copyfile(found[0], target)
    else:
        print(f"  {target.name}: generating {lines:,} {log_format} lines ...", flush=True)
        generate_log(target, lines=lines, seed=seed, log_format=log_format)
"""


def synthesise(logs: Path, before: Path) -> None:
    """Put ``MONTHS`` into ``logs`` with the before tree's generator (in a child process)."""
    caches = [tree / "out" / "bench" for tree in (before, Path("/work/main"), ROOT)]
    spec = [
        [str(logs / name), lines, seed, log_format, [str(cache / name) for cache in caches]]
        for name, (lines, seed, log_format) in MONTHS.items()
    ]
    env = {**os.environ, "PYTHONPATH": str(before), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-c", SYNTHESISE, json.dumps(spec)]
    subprocess.run(command, cwd=before, env=env, check=True)


def written_logs(logs: Path) -> dict[str, bytes]:
    """Every log this script writes itself (the NASA slice gzip-compressed when it is there)."""
    files = format_logs() | awkward_logs()
    files |= compressed(damaged((logs / "synthetic_small.log").read_bytes()))
    if NASA_SLICE.exists():
        files["nasa_aug95_head.log.gz"] = gzip.compress(NASA_SLICE.read_bytes(), mtime=0)
    return files


def manifest(logs: Path) -> dict:
    """What ``corpus.json`` says of ``logs``: the recipe (this module's text: any change to it
    rebuilds the corpus), whether the NASA slice was there, the files and their sizes."""
    sizes = {
        str(path.relative_to(logs)): path.stat().st_size
        for path in sorted(logs.rglob("*"))
        if path.is_file() and path.name != "corpus.json"
    }
    recipe = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # this module's text
    return {"recipe": recipe, "nasa_slice": NASA_SLICE.exists(), "files": sizes}


def build_corpus(logs: Path, before: Path, regenerate: bool) -> None:
    """Write the corpus into ``logs`` unless its ``corpus.json`` says it is there already."""
    listed = logs / "corpus.json"
    if listed.exists() and not regenerate:
        if json.loads(listed.read_text()) == manifest(logs):
            print(f"corpus: {logs} (reused; --regenerate to rebuild it)", flush=True)
            return
    if regenerate:
        shutil.rmtree(logs, ignore_errors=True)
    listed.unlink(missing_ok=True)
    print(f"corpus: building {logs} ...", flush=True)
    logs.mkdir(parents=True, exist_ok=True)
    synthesise(logs, before)
    for name, data in written_logs(logs).items():
        (logs / name).parent.mkdir(parents=True, exist_ok=True)
        (logs / name).write_bytes(data)
    listed.write_text(json.dumps(manifest(logs), indent=2) + "\n")


# --- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One run: its ``logs`` (in the corpus unless absolute; globs allowed), the command line's
    other ``args``, and environment variables to set."""

    name: str
    logs: tuple[str, ...]
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    slow: bool = False  # started first
    needs: Path | None = None  # a file outside the corpus without which it is skipped


HEADLESS = {"Q1_HEAD_START": "0"}
DASK = ("--engine", "dask")


def window(start: str, end: str) -> tuple[str, ...]:
    return ("--window-start", start, "--window-end", end)


NASA_WINDOW = window("1995-08-01T00:00:01-04:00", "1995-08-01T01:13:00-04:00")  # all of it
WIDE_WINDOW = window("0999-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00")
ZONED_WINDOW = window("1995-08-18T09:30:00+05:30", "1995-08-21T04:00:00Z")  # the default's
MSEC_WINDOW = window("2025-12-01T00:00:00.250+00:00", "2025-12-01T00:00:01.5+00:00")
REVERSED_WINDOW = window("1995-08-21T00:00:00-04:00", "1995-08-18T00:00:00-04:00")
REGISTERED = ("combined", "common", "vhost_combined", "vhost_common", "host_combined", "w3c")


def cases() -> list[Case]:
    """Every case, in the order they are reported."""
    nasa = str(NASA_SLICE)
    month, month_combined = "synthetic_aug95.log.gz", "synthetic_aug95_combined.log.gz"
    found = [
        Case("aug95_common", (month,), slow=True),
        Case("aug95_common_no_head_start", (month,), env=HEADLESS, slow=True),
        Case("aug95_combined", (month_combined,), slow=True),
        Case("aug95_combined_no_head_start", (month_combined,), env=HEADLESS, slow=True),
        Case("nasa_slice", (nasa,), needs=NASA_SLICE),
        Case("nasa_slice_gzip", ("nasa_aug95_head.log.gz",), needs=NASA_SLICE),
        Case("nasa_slice_window", (nasa,), NASA_WINDOW, needs=NASA_SLICE),
        Case("nasa_slice_window_no_head_start", (nasa,), NASA_WINDOW, HEADLESS, needs=NASA_SLICE),
    ]
    for name in REGISTERED:
        found.append(Case(f"{name}_detected", (f"{name}.log",)))
        found.append(Case(f"{name}_named", (f"{name}.log",), ("--format", name)))
    custom = [
        ("apache_logformat_D", "apache_D.log", APACHE_D),
        ("apache_logformat_sec", "apache_sec.log", APACHE_SEC),
        ("apache_logformat_v_p_iso_T", "apache_iso.log", APACHE_ISO),
        ("apache_logformat_begin_ms", "apache_begin.log", APACHE_BEGIN),
        ("apache_logformat_unsupported_time", "common.log", "%h %{%H:%M}t %r"),
        ("nginx_log_format_iso", "nginx_iso.log", NGINX_ISO),
        ("nginx_log_format_msec_ipv6", "nginx_msec.log", NGINX_MSEC),
        ("nginx_log_format_fields", "nginx_fields.log", NGINX_FIELDS),
        ("nginx_log_told_common", "nginx_fields.log", "common"),
        ("nginx_log_format_time_local", "nginx_local.log", NGINX_LOCAL),
        ("format_mixing_dialects", "common.log", "$remote_addr %t"),
        ("unknown_format", "common.log", "vhost"),
    ]
    found += [Case(name, (log,), ("--format", text)) for name, log, text in custom]
    plain = [
        ("w3c_several_fields", "w3c_several_fields.log"),
        ("ipv6_clients", "ipv6_clients.log"),
        ("escaped_quotes", "escaped_quotes.log"),
        ("format_change_midway", "format_change.log"),
        ("crlf_lines", "crlf.log"),
        ("utf8_bom", "bom.log"),
        ("non_utf8_bytes", "non_utf8.log"),
        ("x1f_bytes", "x1f.log"),
        ("lowercase_months", "lowercase_months.log"),
        ("empty_lines", "empty_lines.log"),
        ("long_lines", "long_lines.log"),
        ("bytes_18_19_digits", "big_bytes.log"),
        ("bytes_19_digits_regex", "big_bytes_vhost.log"),
        ("empty_file", "empty.log"),
        ("empty_file_gzip", "empty.log.gz"),
        ("only_rejected_lines", "only_rejected.log"),
        ("mostly_rejected_lines", "mostly_rejected.log"),
        ("missing_file", "no_such.log"),
        ("a_directory", "glob"),
        ("compressed_plain", "compressed/log.txt"),
        ("compressed_gzip", "compressed/log.gz"),
        ("compressed_bzip2", "compressed/log.bz2"),
        ("compressed_xz", "compressed/log.xz"),
        ("compressed_zstd", "compressed/log.zst"),
        ("compressed_zstd_named_gz", "compressed/zstd_named.gz"),
    ]
    found += [Case(name, (log,)) for name, log in plain]
    two_and_glob = ("common.log", "combined.log", "glob/*.log", "glob/a.log")
    edges = ("--top-n", "30")
    found += [
        Case("long_lines_no_head_start", ("long_lines.log",), env=HEADLESS),
        Case("calendar_edges", ("calendar_edges.log",), WIDE_WINDOW),
        Case("calendar_beyond_9999", ("beyond_9999.log",), WIDE_WINDOW),
        Case("several_blocks", ("several_blocks.log",), slow=True),
        Case("several_blocks_no_head_start", ("several_blocks.log",), env=HEADLESS, slow=True),
        Case("mostly_rejected_allowed", ("mostly_rejected.log",), ("--max-rejected", "0.75")),
        Case("two_files_and_glob", two_and_glob),
        Case("dask_zstd", ("compressed/log.zst",), DASK, slow=True),
        Case("dask_two_files_and_glob", two_and_glob, DASK, slow=True),
        Case("window_edges", ("window_edges.log",), edges),
        Case("window_edges_no_head_start", ("window_edges.log",), edges, HEADLESS),
        Case("window_edges_other_zones", ("window_edges.log",), (*edges, *ZONED_WINDOW)),
        Case("window_edges_regex", ("window_edges.log",), (*edges, "--format", APACHE_COMMON)),
        Case(
            "window_edges_msec", ("window_edges_msec.log",), ("--format", NGINX_MSEC, *MSEC_WINDOW)
        ),
        Case("window_reversed", ("common.log",), REVERSED_WINDOW),
        Case("window_without_offset", ("common.log",), ("--window-start", "1995-08-18T00:00:00")),
        Case("top_n_ties", ("top_n_ties.log",), ("--top-n", "3")),
    ]
    return found
