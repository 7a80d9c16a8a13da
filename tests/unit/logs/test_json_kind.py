"""The json kind's reading of odd lines (lib/logs/parsing/kinds/json_objects.py): a batch is
decoded at once, and a line the decoder cannot take (not JSON, a value of another type than
the paths expect) is read path by path, never failing the batch nor moving another line's
values; the registered formats read the deployment corpus as path-by-path reading does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lib.logs.parsing.formats import FORMATS, log_format
from lib.logs.parsing.kinds import json_objects
from tests.support.log_corpus import VARIANTS

NGINX = FORMATS["nginx_json"]
CADDY = FORMATS["caddy_json"]
TIME = "2026-11-30T10:00:00+00:00"
CUSTOM = log_format(
    "json:client=c,time=t,status=s,bytes=b,agent=h.ua[0],referer=h.ref,forwarded=h.xff[1]"
)


def parse(fmt, lines: list[str], request_parts: bool = False):
    """``(rows by line number, rejected line numbers)``."""
    good, rejected = fmt.parse_lines(pl.Series("line", lines, pl.String), 1, request_parts)
    return {row["line_no"]: row for row in good.to_dicts()}, rejected["line_no"].to_list()


def line(**values) -> str:
    return json.dumps({"c": "203.0.113.7", "t": TIME, **values})


def one(fmt, text: str) -> dict | None:
    """The request ``text`` is, read among valid lines either side; None if it is rejected."""
    rows, rejected = parse(fmt, [line(), text, line()])
    assert set(rows) | set(rejected) == {1, 2, 3} and 1 in rows and 3 in rows
    return rows.get(2)


def path_by_path(monkeypatch) -> None:
    """Make the kind read every line path by path (its way for lines it cannot decode)."""
    monkeypatch.setattr(json_objects, "_decode", lambda *_: None)


@pytest.mark.parametrize(
    "name", ["nginx_json", "caddy_json", "caddy_json_behind_lb", "traefik_json"]
)
def test_decoding_reads_the_corpus_as_reading_path_by_path_does(name, monkeypatch):
    variant = VARIANTS[name]
    lines = pl.Series("line", variant.lines())
    fmt = FORMATS[variant.detect_as]
    decoded = fmt.parse_lines(lines, 5, True)
    path_by_path(monkeypatch)
    one_by_one = fmt.parse_lines(lines, 5, True)
    assert decoded[0].height == len(lines) and decoded[1].is_empty()
    assert_frame_equal(decoded[0], one_by_one[0])
    assert_frame_equal(decoded[1], one_by_one[1])


def test_values_come_out_as_text_numbers_as_their_digits():
    rows, rejected = parse(
        CADDY,
        [
            json.dumps(
                {
                    "ts": 1796032800.123456,
                    "status": 200,
                    "size": 12345678901234567890,
                    "duration": 0.002,
                    "request": {
                        "client_ip": "203.0.113.7",
                        "headers": {"User-Agent": ["a\u00e9"]},
                    },
                }
            )
        ],
    )
    assert rejected == []
    row = rows[1]
    assert row["time"] == datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)
    assert (row["status"], row["bytes"], row["user_agent"]) == (200, None, "a\u00e9")


@pytest.mark.parametrize(
    "ts",
    [1764476400.123456, 1764476400.5, 1764476400, 1.764476400123456e9, 1764476400.999999],
)
def test_seconds_since_1970_keep_their_microsecond(ts):
    rows, _ = parse(log_format("json:client=c,time=t"), [line(t=ts)])
    assert rows[1]["time"] == datetime.fromtimestamp(round(ts * 1_000_000) / 1_000_000, UTC)


def test_escapes_are_decoded_and_a_lone_surrogate_rejects_its_line():
    agents = {
        2: ("\\u00e9\\u4e2d", "\u00e9\u4e2d"),
        3: ("\\ud83d\\ude00 ok", "\U0001f600 ok"),
        4: ('\\"q\\" \\\\ \\/ \\t', '"q" \\ / \t'),
        5: ("\\\\ud800", "\\ud800"),  # an escaped backslash, then text
    }
    lines = [line()]
    lines += [
        f'{{"c":"203.0.113.7","t":"{TIME}","h":{{"ua":["{raw}"]}}}}' for raw, _ in agents.values()
    ]
    lines.append(f'{{"c":"203.0.113.7","t":"{TIME}","h":{{"ua":["x\\ud800"]}}}}')
    rows, rejected = parse(CUSTOM, lines)
    assert {no: rows[no]["user_agent"] for no in agents} == {
        no: text for no, (_, text) in agents.items()
    }
    assert rejected == [6]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"h": {"ref": {"x": 1}}}, {"referer": '{"x":1}'}),  # an object as its JSON text
        ({"h": {"ua": [{"x": [1]}]}}, {"user_agent": '{"x":[1]}'}),
        ({"h": {"ua": {"x": 1}}}, {"user_agent": None}),  # an object has no item [0]
        ({"h": {"ua": "curl"}}, {"user_agent": "curl"}),  # text for a list: its only item
        ({"h": {"ua": 7}}, {"user_agent": "7"}),
        ({"h": "text"}, {"user_agent": None, "referer": None}),  # text for an object
        ({"h": [1, 2]}, {"user_agent": None}),
        ({"h": {"ref": ["a"]}}, {"referer": '["a"]'}),
        ({"s": {"code": 200}}, {"status": None}),
        ({"s": True, "b": None}, {"status": None, "bytes": None}),
        ({"s": 404.0, "b": 1e3}, {"status": 404, "bytes": 1000}),
        ({"b": 123456789012345678901234567890}, {"bytes": None}),
        ({"h": {"xff": ["10.0.0.1", "198.51.100.2"]}}, {"forwarded_for": "198.51.100.2"}),
        ({"h": {"xff": ["10.0.0.1"]}}, {"forwarded_for": None}),
    ],
)
def test_a_value_of_another_type_is_read_without_failing_the_batch(values, expected):
    row = one(CUSTOM, line(**values))
    assert row is not None
    assert {key: row[key] for key in expected} == expected


@pytest.mark.parametrize(
    "text",
    [
        line(t={"when": TIME}),
        line(t=[TIME]),
        line(t=None),
        json.dumps({"t": TIME}),  # no client
        json.dumps({"c": "203.0.113.7"}),  # no time
        "{}",
        "null",
        "[]",
        '"text"',
        "",
        "   ",
        "{not json}",
        line()[:-1],  # cut short
        line()[:-1] + ",}",
        line() + " trailing",
        line() + "," + line(),  # two objects: read alone, the array they make is no object
        line() + line(),
        line().replace('"c"', "'c'"),
        line(s=1)[:-2] + "1e400}",  # a number past a double's range
        line().replace(TIME, "a\tb"),  # a raw control character in a string
        line().replace(TIME, "\\x41"),  # an escape JSON does not have (nginx's default escaping)
        line()[:-1] + ',"z":' + "[" * 2000 + "]" * 2000 + "}",  # nesting past the decoder's limit
        line().replace("}", "\n}"),  # a line break: two lines
    ],
)
def test_a_line_that_is_no_json_object_with_a_client_and_a_time_is_rejected(text):
    rows, rejected = parse(CUSTOM, [line(), text, line()])
    assert rejected == [2] and sorted(rows) == [1, 3]


def test_a_client_given_as_an_object_is_its_json_text():
    row = one(log_format("json:client=c,time=t"), line(c={"ip": "203.0.113.7"}))
    assert row["host"] == '{"ip":"203.0.113.7"}'


def test_deep_nesting_beside_the_fields_is_read_to_the_decoders_limit():
    deep = line()[:-1] + ',"z":' + "[" * 500 + "]" * 500 + "}"
    assert one(CUSTOM, deep)["host"] == "203.0.113.7"


def test_missing_keys_are_nulls_and_alternatives_give_the_first_there():
    rows, rejected = parse(
        NGINX,
        [
            json.dumps({"remote_addr": "203.0.113.7", "@timestamp": TIME}),
            json.dumps({"remote_addr": "203.0.113.8", "timestamp": TIME, "time": "bad"}),
            json.dumps({"remote_addr": "203.0.113.9", "timestamp": TIME, "time_iso8601": None}),
            json.dumps({"remote_addr": "203.0.113.9", "body_bytes_sent": "5"}),
        ],
        request_parts=True,
    )
    assert rejected == [2, 4]  # the first time there is read, not the next one
    assert rows[1]["status"] is None and rows[1]["request"] is None and rows[1]["bytes"] is None
    assert rows[3]["time"] == datetime(2026, 11, 30, 10, tzinfo=UTC)


def test_paths_through_lists_names_with_signs_and_one_path_inside_anothers_value():
    fmt = log_format("json:client=a.b[1][0],time=@timestamp,agent=a,referer=x y.z")
    rows, rejected = parse(
        fmt,
        [
            json.dumps(
                {
                    "a": {"b": [["10.0.0.1"], ["203.0.113.7"]]},
                    "@timestamp": TIME,
                    "x y": {"z": "https://r/"},
                }
            ),
            json.dumps({"a": {"b": [["10.0.0.1"]]}, "@timestamp": TIME}),
        ],
    )
    assert rejected == [2]
    assert rows[1]["host"] == "203.0.113.7" and rows[1]["referer"] == "https://r/"
    assert rows[1]["user_agent"] == '{"b":[["10.0.0.1"],["203.0.113.7"]]}'


def test_bad_lines_anywhere_in_a_large_batch_keep_every_other_line_in_its_place():
    count = 5000
    bad = {0, 3, 1023, 1024, 1500, 1501, 2047, 4999, *range(2100, 2400), *range(3000, 3100, 7)}
    oddities = [
        "{not json}",
        '{"c":"203.0.113.1","t":"' + TIME + '"},{"c":"203.0.113.2","t":"' + TIME + '"}',
        '{"c":"203.0.113.3","t":"' + TIME + '","u":"}',  # its string would run into the next line
        '{"}',
        line(t={"x": 1}),
        line(c=["1"], t=None),
    ]
    lines, hosts = [], {}
    for number in range(count):
        if number in bad:
            lines.append(oddities[number % len(oddities)])
        else:
            hosts[number + 1] = f"10.{number // 65536}.{number // 256 % 256}.{number % 256}"
            lines.append(line(c=hosts[number + 1], s=number % 600))
    rows, rejected = parse(CUSTOM, lines)
    assert rejected == sorted(number + 1 for number in bad)
    assert {no: row["host"] for no, row in rows.items()} == hosts
    assert all(row["status"] == (no - 1) % 600 for no, row in rows.items())


def test_lines_that_would_run_together_in_one_array_keep_their_places():
    """A line of two objects, and a string left open running into the next line, would make
    as many items of an array as there are lines, each in another line's place."""
    lines = [
        line(c="10.0.0.1"),
        line(c="10.0.0.2") + "," + line(c="10.0.0.99"),
        line(c="10.0.0.3"),
        line(c="10.0.0.4")[:-1] + ', "u": "}',
        '{"}',
        line(c="10.0.0.6"),
    ]
    rows, rejected = parse(CUSTOM, lines)
    assert {no: row["host"] for no, row in rows.items()} == {
        1: "10.0.0.1",
        3: "10.0.0.3",
        6: "10.0.0.6",
    }
    assert rejected == [2, 4, 5]


def test_lines_made_to_shift_the_next_ones_are_caught_by_their_positions():
    """Lines written to close the object each is decoded in, open another and have a later
    line close that: as many items as lines, each of the three not its line's own."""
    forged = line(c="10.0.0.1")[:-1] + '}},{"#":1,"v":' + line(c="6.6.6.6")
    opened = line(c="10.0.0.2")[:-1] + ', "z": [{"y": {}'
    rows, rejected = parse(CUSTOM, [forged, opened, '{"d": 1}}]}', line(c="10.0.0.9")])
    assert rejected == [1, 2, 3] and rows[4]["host"] == "10.0.0.9"


def test_an_empty_batch_and_one_of_no_json():
    for lines in ([], ["plain text", ""]):
        good, rejected = NGINX.parse_lines(pl.Series("line", lines, pl.String), 1, True)
        assert good.is_empty() and rejected["line_no"].to_list() == list(range(1, len(lines) + 1))
        assert {"host", "time", "request", "method"} <= set(good.columns)
