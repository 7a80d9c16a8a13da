"""JSON-lines logs (the json kind, lib/logs/parsing/kinds/json_objects.py): the registered
formats of nginx, Caddy and Traefik, and a mapping of one's own (json:field=path,...)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lib.errors import ConfigError
from lib.logs.parsing.detect import detect
from lib.logs.parsing.formats import FORMATS, log_format
from lib.logs.parsing.kinds.json_objects import json_path
from lib.logs.q1 import answers, run_q1

WINDOW = {"window_start": "2026-11-30T00:00:00+00:00", "window_end": "2026-12-01T00:00:00+00:00"}


def parse(fmt, *lines: str) -> tuple[list[dict], list[int]]:
    good, rejected = fmt.parse_lines(pl.Series("line", list(lines)), request_parts=True)
    return good.to_dicts(), rejected.get_column("line_no").to_list()


def test_paths_into_objects_lists_and_odd_names():
    assert json_path("request.headers.User-Agent[0]") == "$.request.headers.User-Agent[0]"
    assert json_path("@timestamp") == "$['@timestamp']"
    assert json_path("a b.c") == "$['a b'].c"


def test_a_mapping_of_ones_own_reads_nested_values_and_either_time():
    fmt = log_format("json:client=req.ip,time=ts,method=req.m,path=req.p,status=code,agent=ua[0]")
    epoch = {"req": {"ip": "203.0.113.7", "m": "GET", "p": "/a"}, "ts": 1796040000, "code": 200}
    iso = {**epoch, "ts": "2026-11-30T13:00:00+01:00", "ua": ['curl "8"']}
    rows, rejected = parse(fmt, json.dumps(epoch), json.dumps(iso), "{not json", "[]", "{}")
    assert rejected == [3, 4, 5]
    assert [row["time"].isoformat() for row in rows] == ["2026-11-30T12:00:00+00:00"] * 2
    assert [row["utc_offset"] for row in rows] == ["+0000", "+0100"]
    assert rows[1]["user_agent"] == 'curl "8"' and rows[0]["user_agent"] is None
    assert rows[0]["request"] == "GET /a" and rows[0]["host"] == "203.0.113.7"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("json:client=ip", "needs a client"),
        ("json:time=ts", "needs a client"),
        ("json:client=ip,time=ts,colour=c", "'colour=c' is not field=path"),
        ("json:client=ip,time", "'time' is not field=path"),
    ],
)
def test_a_mapping_that_is_not_one_is_refused(text, reason):
    with pytest.raises(ConfigError, match=reason):
        log_format(text)


def test_each_servers_json_is_detected_by_its_keys():
    nginx = {"time": "2026-11-30T10:00:00+00:00", "remote_addr": "203.0.113.7", "status": "200"}
    caddy = {"ts": 1764496800.25, "request": {"client_ip": "203.0.113.8"}, "status": 200}
    traefik = {"ClientHost": "203.0.113.9", "time": "2026-11-30T10:00:00Z", "DownstreamStatus": 1}
    for name, value in (("nginx_json", nginx), ("caddy_json", caddy), ("traefik_json", traefik)):
        assert detect([json.dumps(value)] * 5).name == name
        (row,), _ = parse(FORMATS[name], json.dumps(value))
        assert row["host"] == next(v for v in _strings(value) if v.startswith("203."))


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_an_nginx_json_log_end_to_end_with_its_forwarded_clients(tmp_path):
    lines = [
        json.dumps(
            {
                "time": f"2026-11-30T10:00:{i:02d}+00:00",
                "remote_addr": "10.0.0.2",
                "request": "GET / HTTP/1.1",
                "status": "200",
                "body_bytes_sent": "5",
                "http_referer": "",
                "http_user_agent": "curl",
                "http_x_forwarded_for": f"203.0.113.{i % 3}" if i % 4 else "",
            }
        )
        for i in range(40)
    ]
    log = tmp_path / "access.json"
    log.write_text("\n".join(lines) + "\n")
    data = answers(run_q1(log, use_dns=False, client="forwarded", **WINDOW))
    assert data["input"]["formats"] == {str(log): "nginx_json"}
    counts = {row["host"]: row["requests"] for row in data["top_hosts"]}
    assert counts == {"10.0.0.2": 10, "203.0.113.0": 10, "203.0.113.1": 10, "203.0.113.2": 10}
