"""The formats written out piece by piece (AWS ALB, ELB and S3, HAProxy, Squid:
lib.logs.parsing.formats): each field read where the service writes it, at its edges (an IPv6
client before its port, a status of ``-`` or ``-1``, fields a service added at the end, padded
numbers), and a line that is not quite the format rejected, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from lib.logs.parsing.detect import detect
from lib.logs.parsing.formats import FORMATS

ALB = (
    "h2 2026-11-30T23:59:59.999999Z app/lb/50dc6c495c0c9188 2001:db8::7:51234 10.0.0.11:8080 "
    '0.000 0.004 0.000 200 200 118 5012 "GET https://a.example.com:443/x?y=1 HTTP/2.0" '
    '"Mozilla/5.0 \\"q\\"" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:tg "Root=1-x" '
    '"a.example.com" "arn:aws:acm" 0 2026-11-30T23:59:59.995000Z "forward" "-" "-" '
    '"10.0.0.11:8080" "200" "-" "-" "TID_1234"'
)  # with a field ALB added later (conn_trace_id)
ALB_NO_TARGET = (
    "http 2026-11-30T10:00:00.000001Z app/lb/1 192.0.2.9:4000 - -1 -1 -1 - - 0 0 "
    '"- http://a.example.com:80- -" "-" - - - "-" "-" "-" - 2026-11-30T10:00:00.000000Z '
    '"-" "-" "-" "-" "-" "-" "-"'
)  # a connection closed before a request: no status at all
ELB = (
    "2026-01-01T00:00:00.000000Z my-lb 203.0.113.4:2817 10.0.0.1:80 0.000073 0.001048 "
    '0.000057 502 - 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -'
)
S3_OLD = (
    "79a5 amzn-s3-demo-bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE "
    'REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket?versioning HTTP/1.1" 200 - 113 - 7 - '
    '"-" "S3Console/0.4" -'
)  # before S3 added its later fields
HAPROXY = (
    "[2001:db8::1]:3456 [30/Nov/2026:10:00:00.123] fe~ be/<NOSRV> 0/-1/-1/-1/+3 -1 +0 - - "
    'CR-- 1/1/0/0/0 0/0 {a.example.com} {} "GET /x HTTP/1.1"'
)
SQUID = (
    "1796032800.004      4 192.0.2.5 TCP_DENIED/403 3924 CONNECT a.example.com:443 - "
    "HIER_NONE/- text/html"
)


def parsed(name: str, line: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    return FORMATS[name].parse_lines(pl.Series([line]), 1, request_parts=True)


@pytest.mark.parametrize(
    ("name", "line", "host", "time", "status"),
    [
        ("aws_alb", ALB, "2001:db8::7", datetime(2026, 11, 30, 23, 59, 59, 999999), 200),
        ("aws_alb", ALB_NO_TARGET, "192.0.2.9", datetime(2026, 11, 30, 10, 0, 0, 1), None),
        ("aws_elb", ELB, "203.0.113.4", datetime(2026, 1, 1), 502),
        ("aws_s3", S3_OLD, "192.0.2.3", datetime(2019, 2, 6, 0, 0, 38), 200),
        ("haproxy_http", HAPROXY, "2001:db8::1", datetime(2026, 11, 30, 10, 0, 0, 123000),
         None),
        ("haproxy_http", HAPROXY.replace("[2001:db8::1]", "2001:db8::1"), "2001:db8::1",
         datetime(2026, 11, 30, 10, 0, 0, 123000), None),
        ("squid", SQUID, "192.0.2.5", datetime(2026, 11, 30, 10, 0, 0, 4000), 403),
    ],
)  # fmt: skip
def test_a_layout_reads_its_fields_at_their_edges(name, line, host, time, status):
    good, rejected = parsed(name, line)
    assert rejected.is_empty() and good.height == 1
    row = good.row(0, named=True)
    assert (row["host"], row["time"], row["status"]) == (host, time.replace(tzinfo=UTC), status)
    assert detect([line] * 3) == FORMATS[name]


def test_quoted_fields_are_unescaped_and_requests_cut():
    row = parsed("aws_alb", ALB)[0].row(0, named=True)
    assert row["user_agent"] == 'Mozilla/5.0 "q"'
    assert (row["method"], row["protocol"]) == ("GET", "HTTP/2.0")
    squid = parsed("squid", SQUID)[0].row(0, named=True)
    assert (squid["method"], squid["path"]) == ("CONNECT", "a.example.com:443")


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("aws_alb", ALB.replace(" 200 200 ", " 200 ")),  # a field missing
        ("aws_elb", ELB.replace(":2817", "")),  # no client port
        ("aws_s3", S3_OLD.replace("[06/Feb/2019:00:00:38 +0000]", "[06/Feb/2019:00:00:38]")),
        ("haproxy_http", HAPROXY.replace(".123]", "]")),  # no milliseconds: not HAProxy's %tr
        ("squid", SQUID.replace("TCP_DENIED/403", "TCP_DENIED")),
    ],
)
def test_a_line_that_is_not_quite_the_layout_is_rejected(name, line):
    good, rejected = parsed(name, line)
    assert good.is_empty() and rejected.get_column("line").to_list() == [line]
