"""Combined with fields after it (lib/logs/parsing/tails.py): which formats the compiled counter
reads, the programs their patterns give, the patterns that give none, and the counter's match of
a tail (``_clf._match_tail``) against the regular expression's on any tail: where the counter
accepts, the regex matches and each of its groups is where the counter found the field."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.parsing import tails
from lib.logs.parsing.formats import FORMATS, log_format
from tests.support.trailing import (
    ITEM,
    PRINTABLE,
    TRAILING,
    VALUES,
    edge,
    layout_of,
    ops,
    tail,
    upstream_list,
)

_clf = pytest.importorskip("lib.logs.parsing._clf", reason="the C parser is not built")


def test_the_formats_with_fields_after_combined_are_all_read_by_the_counter():
    assert TRAILING == (
        "nginx_main",
        "apache_combined_duration",
        "nginx_request_time",
        "nginx_upstream_host",
        "ingress_nginx",
        "traefik_clf",
        "combined_plus",
    )
    for name, fmt in FORMATS.items():  # and no other
        found = tails.layout(fmt.pattern, fmt.roles) if fmt.kind == "regex" else None
        assert (found is not None) == (name in TRAILING), name


def test_the_programs_say_what_the_format_strings_do():
    def shape(name):
        found = layout_of(name)
        return found.dash_ident, ops(found.program), found.fields

    assert shape("apache_combined_duration") == (False, [("L", " "), ("I", "")], ("duration_us",))
    assert shape("nginx_request_time") == (True, [("L", " "), ("D", "")], ("duration_s",))
    assert shape("nginx_upstream_host") == (
        True,
        [("L", " "), ("S", ""), ("L", " "), ("T", "")],
        ("upstream_time", "vhost"),
    )
    assert shape("traefik_clf")[1] == [
        ("L", " "),
        ("T", ""),
        ("L", ' "'),
        ("Q", ""),
        ("L", '" "'),
        ("Q", ""),
        ("L", '" '),
        ("D", ""),
        ("L", "ms"),
    ]
    assert shape("combined_plus") == (False, [("L", " "), ("R", "")], ("other",))
    # a field is found by its role: what a counter of durations or virtual hosts reads
    assert layout_of("ingress_nginx").field("duration_s") == 1
    assert layout_of("nginx_upstream_host").field("vhost") == 1
    assert layout_of("nginx_request_time").field("vhost") is None


NGINX = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
NGINX += '"$http_referer" "$http_user_agent"'
APACHE = r"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""


@pytest.mark.parametrize(
    ("source", "read"),
    [
        (NGINX, True),  # Combined as a custom string: the regex kind's, through the counter
        (APACHE + " %D", True),
        (APACHE.replace("%h", "%a").replace("%b", "%O") + " %T", True),
        (NGINX + " $request_time $upstream_addr", True),
        (NGINX + ' "$http_x_forwarded_for" $host', True),
        (NGINX + " $request_time$host", False),  # two fields with nothing between
        (NGINX + " $request_time:$host", False),  # `:` then a field: where it splits is not sure
        (NGINX + " [$upstream_addr]", False),  # a list before `]`
        (NGINX + " $upstream_addr:", False),
        (NGINX + " $status", False),  # [0-9]{3}: no program has it
        (NGINX + " $time_iso8601", False),
        (NGINX + " $request_time ms", True),
        (NGINX + " ${request_time}ms $host", True),  # `ms` then a space: it ends the run
        (APACHE.replace("%l ", ""), False),  # not Combined
        ("$host " + NGINX, False),  # a field before Combined
        (NGINX + " $request_time\t$host", False),  # not printable ASCII: no line would match
    ],
)
def test_only_tails_the_counter_matches_exactly_get_a_program(source, read):
    fmt = log_format(source)
    assert (fmt.accelerator == "clf") == read
    assert (tails.layout(fmt.pattern, fmt.roles) is not None) == read


def test_a_wrapped_format_is_read_by_polars():
    assert log_format("syslog+nginx_request_time").accelerator is None


def tail_start(name: str, line: str) -> tuple[re.Match | None, int]:
    """The regex's match of ``line`` and where its tail starts (after the user agent's quote)."""
    fmt = FORMATS[name]
    match = re.match(fmt.pattern, line)
    return match, (match.end(f"g{fmt.roles.index('user_agent')}") + 1 if match else -1)


HEAD = (
    '192.0.2.5 - - [30/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11)"'
)


def assert_found_where_the_regex_finds_them(name: str, text: str) -> list | None:
    """The counter's match of ``text`` as the tail of a Combined line: None, or each field's
    span, which must be its group's in the regex's match of the whole line."""
    program = layout_of(name).program
    found = _clf._match_tail(text.encode(), program)
    if found is None:
        return None
    match, start = tail_start(name, HEAD + text)
    assert match is not None, (name, text)
    groups = range(
        len(FORMATS[name].roles) - len(layout_of(name).fields), len(FORMATS[name].roles)
    )
    assert found == [(match.start(f"g{g}") - start, match.end(f"g{g}") - start) for g in groups]
    return found


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TRAILING), st.data())
def test_the_counter_reads_every_drawn_tail_where_the_regex_does(name, data):
    text = data.draw(tail(name))
    assert assert_found_where_the_regex_finds_them(name, text) is not None


# near misses: a field added, one missing, quotes, spaces in a list, a dash or huge number where
# a number goes, list items starting with ':' (where ' : ' may end a list)
ODD_VALUES = {
    **VALUES,
    "I": edge(["", "-1", "1.5", "1-", "--", "9" * 400, "0x1"], VALUES["I"]),
    "D": edge(["", ".5", "5.", "1.2.3", "-0.5", "1,5", "- "], VALUES["D"]),
    "S": edge(
        ["", ",", "a,", "a,b", "a , b", "a :b", "a: b", "a, ", ": a", "a : : b", "a , , b"],
        upstream_list(edge([":", ": ", ":a", ","], ITEM)),
    ),
    "Q": edge(['a"b', "a\\", '\\\\"'], VALUES["Q"]),
    "T": edge(["a b", " "], VALUES["T"]),
}
JUNK = st.text(st.sampled_from(PRINTABLE), max_size=6)


@st.composite
def odd_tail(draw, name: str) -> str:
    pieces = ops(layout_of(name).program)
    if draw(st.booleans()):  # a piece left out
        del pieces[draw(st.integers(0, len(pieces) - 1))]
    text = "".join(value if op == "L" else draw(ODD_VALUES[op]) for op, value in pieces)
    if draw(st.booleans()):  # something after it
        text += draw(st.sampled_from([" ", " x", ' "x"', " 1", " -", ", 2", " : 2"])) + draw(JUNK)
    return text


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(TRAILING), st.data())
def test_wherever_the_counter_accepts_an_odd_tail_the_regex_agrees(name, data):
    assert_found_where_the_regex_finds_them(name, data.draw(odd_tail(name)))


@pytest.mark.parametrize(
    ("name", "text", "read"),
    [
        ("nginx_upstream_host", " 0.002, 1.044 example.org", True),
        ("nginx_upstream_host", " 0.002 : 1.044 example.org", True),
        ("nginx_upstream_host", " - example.org", True),
        ("nginx_upstream_host", " 0.002 ", True),  # $host empty
        ("nginx_upstream_host", " 0.002,1.044 example.org", False),  # not nginx's separator
        ("nginx_upstream_host", " 0.002, 1.044", False),  # no $host: ', 1.044' is not one
        ("nginx_upstream_host", " 0.002 example.org extra", False),
        # ' : ' taken as the list's (the regex's first choice), and then too few fields are left:
        # left over for polars, though the regex finds another way (`a`, `:`, `b`, `c`, `d`)
        ("ingress_nginx", " 1 0.5 [x] [] a : b c d", False),
        ("apache_combined_duration", " -", True),
        ("apache_combined_duration", " " + "9" * 40, True),
        ("apache_combined_duration", " 1.5", False),
        ("apache_combined_duration", "", False),
        ("apache_combined_duration", " 1 2", False),
        ("nginx_request_time", " 0.", False),
        ("traefik_clf", ' 1 "r" "http://a" 5ms', True),
        ("traefik_clf", ' 1 "r" "http://a" 5', False),
        ("traefik_clf", ' 1 "r" "http://a" 5msms', False),
        ("traefik_clf", ' 1 "r\\" x" "http://a" 5.5ms', True),
        ("traefik_clf", ' 1 "r" x" "http://a" 5ms', False),
        ("nginx_main", ' "10.0.0.1, 203.0.113.9"', True),
        ("nginx_main", ' "a" "b"', False),
        ("combined_plus", "  ", True),
        ("combined_plus", " ", False),  # a space, and then nothing
        ("combined_plus", "", False),
        ("combined_plus", 'x "y"', False),
    ],
)
def test_tails_at_their_edges(name, text, read):
    assert (assert_found_where_the_regex_finds_them(name, text) is not None) == read
    if not read:  # the regex reads none of them either, but the one it reads another way
        assert (tail_start(name, HEAD + text)[0] is None) == (name != "ingress_nginx")


@pytest.mark.parametrize(
    "program",
    [b"L", b"L\x05ab", b"X", b"L\x01 Z", b"I" * 65],
)
def test_a_program_that_is_not_one_is_refused(program):
    with pytest.raises(ValueError, match="tail"):
        _clf._match_tail(b" 1", program)
    with pytest.raises(ValueError, match="tail"):
        _clf.Counter(True, 0, 1, tail=program)


def test_a_tail_needs_combined():
    with pytest.raises(ValueError, match="combined"):
        _clf.Counter(False, 0, 1, tail=b"L\x01 I")
