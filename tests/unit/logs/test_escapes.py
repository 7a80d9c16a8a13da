"""Referers and user agents decoded as the servers escaped them (lib.logs.parsing.escapes), so
the same value logged by nginx (``\\x22``) and by Apache (``\\"``) is one key: through the
compiled accelerator and through polars alike, in the Combined format and in the formats of the
``regex`` kind, in the summary and in results.json."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.counting.counted import summarize_block
from lib.logs.counting.parsed import summarize_lines
from lib.logs.parsing.escapes import unescape
from lib.logs.parsing.formats import FORMATS, FormatChoice, log_format, w3c_format
from lib.logs.q1 import answers, run_q1
from lib.logs.window import Window
from tests.support.log_corpus import apache_escape, nginx_escape
from tests.support.summaries import assert_same, polars_only

WINDOW = Window.parse("2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
AGENT = 'Mozilla/5.0 (X11; "quoted"; C:\\Temp\\é) Gecko\ttab'


def combined(host: str, referer: str, agent: str, second: int = 0) -> str:
    return (
        f'{host} - - [30/Nov/2026:10:00:{second:02d} +0000] "GET / HTTP/1.1" 200 5 '
        f'"{referer}" "{agent}"'
    )


@pytest.mark.parametrize(
    ("logged", "value"),
    [
        (r"UA \x22q\x22 \x5C", 'UA "q" \\'),  # nginx
        (r"UA \"q\" \\", 'UA "q" \\'),  # Apache
        (r"a\nb\tc\rd\be\vf", "a\nb\tc\rd\be\vf"),
        (r"caf\xC3\xA9 caf\xc3\xa9 café", "café café café"),  # UTF-8 bytes, either case
        (r"bad \xff byte", "bad \ufffd byte"),  # not UTF-8: U+FFFD
        (r"\q \x4 \x", r"\q \x4 \x"),  # a backslash that starts no escape stays
        (r"\\x22", r"\x22"),  # an escaped backslash, then text
        ("plain", "plain"),
    ],
)
def test_each_escape_decodes_to_its_byte(logged, value):
    assert unescape(logged) == value


PRINTABLE = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(text=PRINTABLE)
def test_decoding_then_escaping_again_round_trips(text):
    for escape in (nginx_escape, apache_escape):
        logged = escape(text)
        assert unescape(logged) == text
        assert escape(unescape(logged)) == logged


def test_one_agent_escaped_both_ways_is_one_agent():
    lines = [
        combined("a", nginx_escape('http://x/?q="1"'), nginx_escape(AGENT), 1),
        combined("b", apache_escape('http://x/?q="1"'), apache_escape(AGENT), 2),
        combined("c", apache_escape('http://x/?q="1"'), apache_escape(AGENT), 3),
    ]
    block = ("\n".join(lines) + "\n").encode()
    choice = FormatChoice.of(FORMATS["combined"])
    fast = summarize_block(block, WINDOW, choice)
    with polars_only():
        slow = summarize_lines(block, WINDOW, choice)
    assert_same(fast, slow)
    assert fast.user_agents.rows() == [(AGENT, 3)]
    assert fast.referers.rows() == [('http://x/?q="1"', 3)]


def test_the_regex_kind_decodes_apache_s_and_nginx_s_alike():
    apache = FORMATS["vhost_combined"]
    nginx = FORMATS["host_combined"]
    stamp = "[30/Nov/2026:10:00:00 +0000]"
    lines = {
        apache: f'site:80 h - - {stamp} "GET / HTTP/1.1" 200 5 "-" "{apache_escape(AGENT)}"',
        nginx: f'site h - - {stamp} "GET / HTTP/1.1" 200 5 "-" "{nginx_escape(AGENT)}"',
    }
    for fmt, line in lines.items():
        summary = summarize_lines(line.encode(), WINDOW, FormatChoice.of(fmt))
        assert summary.user_agents.rows() == [(AGENT, 1)], fmt.name
    custom = log_format('$remote_addr [$time_local] $status "$http_user_agent"')
    summary = summarize_lines(f'h {stamp} 200 "{nginx_escape(AGENT)}"'.encode(), WINDOW,
                              FormatChoice.of(custom))  # fmt: skip
    assert summary.user_agents.rows() == [(AGENT, 1)]


def test_w3c_fields_are_kept_as_logged():
    header = "#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent)"
    line = r"2026-11-30 10:00:00 10.0.0.1 GET / 200 Tool\x22v1+(x)"
    summary = summarize_lines(
        f"{header}\n{line}".encode(), WINDOW, FormatChoice.of(w3c_format(header))
    )
    assert summary.user_agents.rows() == [(r"Tool\x22v1 (x)", 1)]


def test_results_json_has_one_key_for_one_agent(tmp_path):
    path = tmp_path / "access.log"
    lines = [combined(f"h{i}", "-", (nginx_escape if i % 2 else apache_escape)(AGENT), i % 60)
             for i in range(40)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = answers(
        run_q1(path, "2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00", use_dns=False)
    )
    assert data["top_user_agents"] == [{"user_agent": AGENT, "requests": 40}]
