"""Log formats: each registered one on lines written as its server documents them, custom Apache
and nginx format strings, W3C extended logs, escaped quotes, detection, second chances for lines
of another format, and round trips of generated lines through their format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError
from lib.logs.counting.counted import summarize_block
from lib.logs.parsing import accelerators
from lib.logs.parsing.detect import detect
from lib.logs.parsing.fields import REJECTED_SCHEMA
from lib.logs.parsing.formats import FORMATS, FormatChoice, LogFormat, log_format, w3c_format
from lib.logs.parsing.second_chances import parse_numbered, parse_with
from lib.logs.window import Window

COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
COMBINED = COMMON + ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
NGINX = (
    '192.0.2.5 - - [30/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 612 "-" '
    '"Mozilla/5.0 (X11; Linux x86_64)"'
)
VHOST_COMBINED = (
    'www.example.com:443 198.51.100.2 - - [30/Nov/2026:10:00:00 +0100] "GET / HTTP/2.0" '
    '200 5120 "-" "curl/8.5.0"'
)
VHOST_COMMON = (
    'www.example.com 198.51.100.2 - - [30/Nov/2026:10:00:00 +0100] "GET /a HTTP/1.1" 304 -'
)
HOST_COMBINED = (
    'example.org 2001:db8::7 - - [30/Nov/2026:10:00:00 +0000] "POST /api HTTP/1.1" 201 0 '
    '"https://example.org/form" "curl/8.5.0"'
)
IIS = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2026-11-30 10:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
    "2026-11-30 10:00:01 10.0.0.5 GET /default.htm - 80 - 203.0.113.7 "
    "Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15",
    "2026-11-30 10:00:02 10.0.0.5 GET /search q=a 443 - 203.0.113.8 - https://ref.example/ "
    "404 0 2 3",
]


def parse(fmt, *lines: str, parts: bool = True) -> tuple[list[dict], list[int]]:
    good, rejected = fmt.parse_lines(pl.Series("line", list(lines)), request_parts=parts)
    return good.to_dicts(), rejected.get_column("line_no").to_list()


def at(*fields, offset: int = 0) -> datetime:
    """A UTC time from a local one written with ``offset`` minutes east of UTC."""
    local = datetime(*fields, tzinfo=timezone(timedelta(minutes=offset)))
    return local.astimezone(UTC)


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        (
            "common",
            COMMON,
            {
                "host": "127.0.0.1",
                "time": at(2000, 10, 10, 13, 55, 36, offset=-420),
                "utc_offset": "-0700",
                "status": 200,
                "bytes": 2326,
                "request": "GET /apache_pb.gif HTTP/1.0",
            },
        ),
        (
            "combined",
            COMBINED,
            {
                "host": "127.0.0.1",
                "status": 200,
                "bytes": 2326,
                "referer": "http://www.example.com/start.html",
                "user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
                "path": "/apache_pb.gif",
            },
        ),
        (
            "combined",
            NGINX,
            {
                "host": "192.0.2.5",
                "time": at(2026, 11, 30, 10, 0, 0),
                "bytes": 612,
                "referer": None,  # logged as "-"
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            },
        ),
        (
            "vhost_combined",
            VHOST_COMBINED,
            {
                "host": "198.51.100.2",
                "time": at(2026, 11, 30, 10, 0, 0, offset=60),
                "utc_offset": "+0100",
                "status": 200,
                "bytes": 5120,
                "user_agent": "curl/8.5.0",
                "protocol": "HTTP/2.0",
            },
        ),
        ("vhost_common", VHOST_COMMON, {"host": "198.51.100.2", "status": 304, "bytes": None}),
        (
            "host_combined",
            HOST_COMBINED,
            {
                "host": "2001:db8::7",
                "method": "POST",
                "status": 201,
                "bytes": 0,
                "referer": "https://example.org/form",
            },
        ),
    ],
)
def test_each_registered_format_reads_its_servers_lines(name, line, expected):
    (row,), rejected = parse(FORMATS[name], line)
    assert rejected == []
    assert {key: row[key] for key in expected} == expected
    assert ("referer" in row, "user_agent" in row) == (FORMATS[name].has_referer,) * 2
    assert detect([line]).name == name


def test_a_w3c_log_is_read_by_its_fields_header():
    fmt = detect(IIS)
    assert fmt.name == "w3c" and fmt.has_user_agent and fmt.has_referer
    rows, rejected = parse(fmt, *IIS)
    assert rejected == []  # the # directives are neither requests nor rejected lines
    assert [row["line_no"] for row in rows] == [5, 6]
    first, second = rows
    assert first["time"] == at(2026, 11, 30, 10, 0, 1) and first["utc_offset"] == "+0000"
    assert (first["host"], first["status"], first["bytes"]) == ("203.0.113.7", 200, None)
    assert first["user_agent"] == "Mozilla/5.0 (Windows NT 10.0)"  # IIS writes spaces as +
    assert first["request"] == "GET /default.htm" and first["referer"] is None
    assert second["request"] == "GET /search?q=a" and second["referer"] == "https://ref.example/"
    other = w3c_format("#Fields: c-ip date time sc-status sc-bytes cs-method cs-uri-stem")
    (row,), _ = parse(other, "198.51.100.9 2026-01-01 00:00:00 500 1234 GET /x")
    assert (row["host"], row["status"], row["bytes"], row["request"]) == (
        "198.51.100.9",
        500,
        1234,
        "GET /x",
    )


@pytest.mark.parametrize(
    ("line", "referer", "agent", "request_line"),
    [
        (  # Apache escapes a quote as \" and a backslash as \\ (the request stays as logged)
            r'1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] "GET /q?a=\"b\" HTTP/1.1" 404 - '
            r'"https://x/\"y\"" "UA \"quoted\" \\ end\\"',
            'https://x/"y"',
            'UA "quoted" \\ end\\',
            r"GET /q?a=\"b\" HTTP/1.1",
        ),
        (  # nginx escapes them as \x22 and \x5C
            r'1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] "GET /\x22 HTTP/1.1" 200 5 '
            r'"-" "UA \x22quoted\x22 \x5C"',
            None,
            'UA "quoted" \\',
            r"GET /\x22 HTTP/1.1",
        ),
        (  # a referer of one space: its own quotes and space look like the separator
            '1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 " " "ua"',
            " ",
            "ua",
            "GET / HTTP/1.1",
        ),
        (  # the separator the fast path cuts at, inside an escaped field
            r'1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 '
            r'"a\" \"b" "c\" \"d"',
            'a" "b',
            'c" "d',
            "GET / HTTP/1.1",
        ),
        (  # a referer ending in an escaped quote and a space: `" "` inside it, not after it
            r'1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "a\" " "ua"',
            'a" ',
            "ua",
            "GET / HTTP/1.1",
        ),
    ],
)
def test_escaped_quotes_stay_inside_their_field(line, referer, agent, request_line):
    (row,), rejected = parse(FORMATS["combined"], line)
    assert (row["referer"], row["user_agent"], row["request"]) == (referer, agent, request_line)


def test_an_unescaped_quote_in_a_combined_field_is_a_rejected_line():
    line = '1.2.3.4 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "a"b"'
    assert parse(FORMATS["combined"], line) == ([], [1])


def test_an_apache_logformat_string_compiles():
    fmt = log_format(r'"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D"')
    line = (
        '10.1.2.3 - alice [30/Nov/2026:23:59:59 -0500] "GET /x HTTP/1.1" 200 7 "-" '
        '"Go-http-client/1.1" 1532'
    )
    (row,), _ = parse(fmt, line)
    assert row["time"] == datetime(2026, 12, 1, 4, 59, 59, tzinfo=UTC)
    assert (row["user_agent"], row["bytes"], row["referer"]) == ("Go-http-client/1.1", 7, None)
    epoch = log_format("%a %{sec}t %>s %B %m %U%q %H")
    (row,), _ = parse(epoch, "10.9.9.9 1764547200 503 0 GET /p?x=1 HTTP/1.0")
    assert (
        row["time"] == datetime(2025, 12, 1, tzinfo=UTC)
        and row["request"] == "GET /p?x=1 HTTP/1.0"
    )


def test_an_nginx_log_format_string_compiles():
    fmt = log_format(
        "'$remote_addr - $remote_user [$time_iso8601] \"$request\" '\n"
        '    \'$status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time\''
    )
    line = (
        '198.51.100.4 - bob [2026-11-30T10:00:00+05:30] "GET /x HTTP/1.1" 200 12 "-" '
        r'"UA \x22q\x22" 0.004'
    )
    (row,), _ = parse(fmt, line)
    assert (
        row["time"] == datetime(2026, 11, 30, 4, 30, tzinfo=UTC) and row["utc_offset"] == "+0530"
    )
    assert row["user_agent"] == 'UA "q"'  # decoded
    msec = log_format('$msec $remote_addr "$request" $status')
    (row,), _ = parse(msec, '1764547200.250 ::1 "GET / HTTP/1.1" 200')
    assert row["time"] == datetime(2025, 12, 1, 0, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("vhost", "unknown log format"),
        ("%h %{%H:%M}t %r", "is not supported"),
        ("%t %r %>s", "needs the client's address"),
        ("$remote_addr %t", "mixes Apache"),
        ("$remote_addr $status", "needs the client's address"),
    ],
)
def test_a_format_q1_cannot_use_is_refused_with_a_reason(text, reason):
    with pytest.raises(ConfigError, match=reason):
        log_format(text)


def test_detection_picks_the_format_most_first_lines_fit():
    assert detect([COMBINED, COMBINED, COMMON]).name == "combined"
    assert detect([COMMON, "garbage", COMMON]).name == "common"
    assert detect(["garbage", "more garbage"]) is None
    assert detect(["", "   "]) is None


# Lines detection may meet: every registered format's, and lines at the edges of Common's
# shape that only polars can decide (a lowercase month, a quote in the request, 19 digits).
SAMPLE = [
    COMMON,
    COMBINED,
    NGINX,
    VHOST_COMBINED,
    VHOST_COMMON,
    HOST_COMBINED,
    COMMON.replace("Oct", "oct"),
    COMMON.replace("GET /", 'GET /"'),
    COMMON.replace("2326", "9" * 19),
    COMMON.replace("apache", "apaché"),
    COMBINED.replace("Oct", "oct"),
    # Combined with fields after it, which the accelerator reads too
    COMBINED + " 5890",
    NGINX + " 0.006",
    NGINX + " 0.002, 1.044 example.org",
    NGINX + ' "203.0.113.9"',
    NGINX + ' 1 "web@docker" "http://10.0.0.12:8080" 5ms',
    NGINX + ' 0.004 "-" cache=HIT',
    NGINX.replace("- -", "x -") + " 0.006",
    "garbage",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SAMPLE), max_size=24))
def test_the_accelerator_only_settles_what_parsing_would(sample):
    found = detect(sample)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accelerators, "certainly_read", lambda *_: 0)
        parsed = detect(sample)
    assert (found and found.name) == (parsed and parsed.name)


def test_a_common_or_combined_log_is_detected_without_parsing(monkeypatch):
    def refuse(*_):
        raise AssertionError("parsed with polars")

    monkeypatch.setattr(LogFormat, "parse_lines", refuse)
    assert detect([COMMON] * 20 + ["garbage"]).name == "common"
    assert detect([COMBINED, NGINX] * 10).name == "combined"
    # Combined and then fields: combined_plus (after them in the registry) matches as many
    assert detect([NGINX + " 0.006"] * 20).name == "nginx_request_time"
    assert detect([NGINX + ' 0.004 "-" cache=HIT'] * 20).name == "combined_plus"
    with pytest.raises(AssertionError, match="parsed with polars"):
        detect([VHOST_COMMON] * 20)  # no accelerator: polars decides


def test_lines_of_another_registered_format_are_still_read_and_counted_per_format():
    lines = [COMMON, COMBINED, "garbage", VHOST_COMBINED, COMMON, ""]
    choice = FormatChoice.of(FORMATS["common"])
    requests, rejected, counts = parse_with(choice, pl.Series(lines), first_line_no=10)
    assert requests.get_column("line_no").to_list() == [10, 11, 13, 14]
    assert requests.get_column("host").to_list()[2] == "198.51.100.2"
    assert rejected.get_column("line_no").to_list() == [12, 15]
    assert rejected.get_column("line").to_list() == ["garbage", ""]
    assert counts == {"common": 2, "combined": 1, "vhost_combined": 1}


@pytest.mark.parametrize("name", ["common", "combined"])
def test_numbered_lines_are_read_as_parse_reads_them(name):
    # what the fast path leaves over: a few lines with numbers of their own, which each format
    # checks for its shape before parsing them
    lines = [COMMON, COMBINED, "garbage", VHOST_COMBINED, COMMON, ""]
    numbers = [3, 8, 9, 20, 21, 40]
    choice = FormatChoice.of(FORMATS[name])
    requests, rejected, counts = parse_with(choice, pl.Series(lines))
    numbered = pl.DataFrame({"line_no": numbers, "line": lines}, schema=REJECTED_SCHEMA)
    again, still, counted = parse_numbered(choice, numbered)
    renumber = pl.col("line_no").map_elements(lambda n: numbers[n - 1], pl.UInt64)
    assert again.equals(requests.with_columns(renumber))
    assert still.equals(rejected.with_columns(renumber))
    assert counted == counts
    garbage = numbered.filter(pl.col("line") == "garbage")
    none, still, counted = parse_numbered(choice, garbage)
    assert (none.height, still.rows(), counted) == (0, [(9, "garbage")], {})


# --- round trips: generated values, written as each server writes them, read back -------------

ANY_TIME = Window.parse("0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00")
_TOKEN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


def _clf(when: datetime, minutes: int) -> str:
    local = when.astimezone(timezone(timedelta(minutes=minutes)))
    sign, value = ("-" if minutes < 0 else "+"), abs(minutes)
    return (
        local.strftime("%d/%b/")
        + f"{local.year:04d}"
        + local.strftime(":%H:%M:%S")
        + f" {sign}{value // 60:02d}{value % 60:02d}"
    )


def _apache_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _nginx_escape(text: str) -> str:
    return text.replace("\\", "\\x5C").replace('"', "\\x22")


@settings(max_examples=150, deadline=None)
@given(
    host=_TOKEN,
    when=_TIMES,
    minutes=_OFFSETS,
    status=st.integers(100, 599),
    size=st.one_of(st.none(), st.integers(0, 10**18 - 1)),
    referer=_TEXT,
    agent=_TEXT,
    path=_TEXT,
    nginx=st.booleans(),
)
def test_a_combined_line_round_trips(
    host, when, minutes, status, size, referer, agent, path, nginx
):
    escape = _nginx_escape if nginx else _apache_escape
    request = escape(f"GET {path} HTTP/1.1")
    line = (
        f'{host} - - [{_clf(when, minutes)}] "{request}" {status} '
        f'{"-" if size is None else size} "{escape(referer)}" "{escape(agent)}"'
    )
    (row,), rejected = parse(FORMATS["combined"], line)  # with its parts: referer, agent
    assert row["host"] == host and row["status"] == status and row["bytes"] == size
    assert row["time"] == when.replace(second=when.second, microsecond=0)
    assert row["referer"] == (referer if referer not in ("", "-") else None)  # decoded
    assert row["user_agent"] == (agent if agent not in ("", "-") else None)
    # a summary cuts them from the logged pair itself: the same values
    summary = summarize_block(
        line.encode() + b"\n", ANY_TIME, FormatChoice.of(FORMATS["combined"])
    )
    for key, frame in (("referer", summary.referers), ("user_agent", summary.user_agents)):
        assert frame.to_dicts() == ([{key: row[key], "requests": 1}] if row[key] else [])


@settings(max_examples=100, deadline=None)
@given(
    host=_TOKEN,
    vhost=_TOKEN.filter(lambda text: ":" not in text),
    when=_TIMES,
    status=st.integers(100, 599),
    agent=_TEXT,
    seconds=st.integers(0, 10**6),
)
def test_a_custom_nginx_line_round_trips(host, vhost, when, status, agent, seconds):
    fmt = log_format(
        '$host $remote_addr [$time_local] "$request" $status "$http_user_agent" $request_time'
    )
    line = (
        f'{vhost} {host} [{_clf(when, 0)}] "GET / HTTP/1.1" {status} '
        f'"{_nginx_escape(agent)}" {seconds}.000'
    )
    (row,), _ = parse(fmt, line, parts=False)
    assert (row["host"], row["status"]) == (host, status)
    assert row["time"] == when.replace(microsecond=0)
    assert row["user_agent"] == (agent if agent not in ("", "-") else None)  # decoded
