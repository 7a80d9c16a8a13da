"""The compiled accelerator of Common, Combined and Combined with fields after it
(lib/logs/parsing/_clf.c, counted into summaries by lib.logs.counting.counted) against the
polars path: every summary must be the same, field by field, whatever the lines."""

from __future__ import annotations

import math
import random
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from lib.logs.counting import bounded, caps
from lib.logs.counting.counted import BlockSummaries, summarize_block
from lib.logs.counting.parsed import summarize_lines
from lib.logs.counting.summary import LogSummary, combine
from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines.local import summarize_log
from lib.logs.engines.pipeline import PieceReader
from lib.logs.parsing import accelerators
from lib.logs.parsing.clients import client_rule
from lib.logs.parsing.fields import duration_us
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.parsing.roles import DURATION_SCALES
from lib.logs.reading._compression import HEAD_BYTES, sniff
from lib.logs.reading.partitions import Partition
from lib.logs.window import Window
from tests.support.log_corpus import VARIANTS
from tests.support.summaries import (
    CHOICES,
    WINDOW,
    assert_same,
    assert_same_outcome,
    outcome,
    polars_only,
)
from tests.support.trailing import ESCAPED, TRAILING, layout_of, ops, tail

NAMES = ("common", "combined", *TRAILING)  # every format the counter reads


def test_extension_is_built():
    # CI installs with `pip install -e .`, which builds it; without it every line is read
    # with polars (correct, but several times slower), which must not go unnoticed.
    from lib.logs.parsing import _clf

    for name in NAMES:
        assert FORMATS[name].accelerator == "clf"
        assert isinstance(accelerators.counter(FORMATS[name], 0, 1), _clf.Counter)
    assert accelerators.counter(FORMATS["vhost_common"], 0, 1) is None


def test_a_client_from_x_forwarded_for_leaves_every_line_to_polars():
    # nginx_main logs X-Forwarded-For after Combined: the counter reads the peer's address
    fmt = FORMATS["nginx_main"]
    assert accelerators.counter_for(FormatChoice.of(fmt), WINDOW) is not None
    assert accelerators.counter_for(FormatChoice.of(fmt, client_rule("forwarded")), WINDOW) is None
    assert accelerators.counter_for(FormatChoice.of(fmt, client_rule("real_ip")), WINDOW)


def at_a_bucket_bound(lines: list[str], name: str) -> set[int]:
    """The indices of ``lines`` whose time taken, as polars reads it, lies at a bound of
    ``bounded.duration_bucket`` (a whole power of GAMMA, to a relative 1e-8)."""
    requests, _ = FORMATS[name].parse_lines(pl.Series(lines, dtype=pl.String), 0)
    if "duration_us" not in requests.columns:
        return set()
    found = set()
    for line_no, taken in requests.select("line_no", "duration_us").iter_rows():
        if taken is not None and taken >= 1:
            power = math.log(taken) / math.log(bounded.GAMMA)
            if abs(power - round(power)) < 1e-8:
                found.add(line_no)
    return found


def fast_counts(block: bytes, name: str) -> tuple[int, list[int] | None]:
    """(lines, indices left over) of one block by the C scanner alone."""
    counter = accelerators.counter(FORMATS[name], 0, 1)
    lines, _, indices, _ = counter.add(block)
    return lines, indices


# --- lines at every field's edges -----------------------------------------------------------

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
TOKEN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=6)
ODD = st.sampled_from(["", " ", "\t", '"', "[", "é", "\x00", "\x1f", "\\", "\r", "\ufeff"])
FIELD = st.one_of(st.just("-"), TOKEN, st.builds(lambda a, b: a + b, TOKEN, ODD))
DAY = st.one_of(st.integers(0, 32).map("{:02d}".format), st.sampled_from([" 1", "1/", "ab"]))
MONTH = st.one_of(st.sampled_from(MONTHS), st.sampled_from(["jan", "AUG", "Foo", "Sep."]))
YEAR = st.sampled_from(["0999", "1000", "1600", "1900", "1969", "1970", "1995", "2000", "2024"])
YEAR = st.one_of(YEAR, st.sampled_from(["0001", "9998", "9999", "199x"]))
CLOCK = st.integers(0, 25).map("{:02d}".format)
MINUTE = st.one_of(
    st.sampled_from(["00", "59", "60", "99"]), st.integers(0, 59).map("{:02d}".format)
)
ZONE = st.builds(
    "{}{}{}".format,
    st.sampled_from(["-", "+", "-", "+", " ", "*"]),
    st.sampled_from(["00", "04", "23", "24", "99"]),
    st.sampled_from(["00", "30", "59", "60"]),
)
STAMP = st.builds("{}/{}/{}:{}:{}:{} {}".format, DAY, MONTH, YEAR, CLOCK, MINUTE, MINUTE, ZONE)
REQUEST = st.one_of(
    st.sampled_from(["GET / HTTP/1.0", "", " ", '"', 'GET /" 200 5 "x" "y', "a\\", '" 200 5']),
    st.text(st.sampled_from(list('ab "\\-01 /\t')), max_size=14),
    st.text(max_size=8),
)
STATUS = st.one_of(st.sampled_from(["200", "304", "000", "999"]), st.sampled_from(["20", "2000"]))
SIZE = st.one_of(
    st.sampled_from(["-", "0", "7", "9" * 18, "9" * 19, "0" * 18, "", "-5", "1-", "+5"]),
    st.integers(0, 10**18 - 1).map(str),
)
ESCAPED_FIELD = st.one_of(
    st.sampled_from(["-", "", "http://a/b", 'x\\"y', "x\\x22y", "x\\\\", '" "', "\\"]),
    st.text(st.sampled_from(list('ab "\\-')), max_size=8),
)
ENDING = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\r\n"])


TAIL_JUNK = st.sampled_from(["", " ", " -", " 1", ' "x"', " 0.1, 2", " a : b", " x y"])


@st.composite
def log_line(draw, name: str) -> str:
    line = (
        f"{draw(FIELD)} {draw(FIELD)} {draw(FIELD)} [{draw(STAMP)}] "
        f'"{draw(REQUEST)}" {draw(STATUS)} {draw(SIZE)}'
    )
    if name != "common" or draw(st.booleans()):
        line += f' "{draw(ESCAPED_FIELD)}" "{draw(ESCAPED_FIELD)}"'
    if name in TRAILING:  # its own tail, or another, or none
        line += draw(st.one_of(tail(name), TAIL_JUNK, tail(draw(st.sampled_from(TRAILING)))))
    return line


@st.composite
def mutated(draw, line: st.SearchStrategy[str]) -> str:
    """A line with bytes cut, inserted or replaced somewhere."""
    text = draw(line)
    at = draw(st.integers(0, len(text)))
    junk = draw(st.sampled_from(["", " ", '"', "\\", "\x00", "\x1f", "\ufffd", "é", "\r", "9"]))
    return text[:at] + junk + text[at + draw(st.integers(0, 3)) :]


def block_of(lines: list[str], endings: list[str], last_ending: bool) -> bytes:
    """The lines, each with its ending (the last one's dropped unless ``last_ending``); U+FFFD
    stands for a byte that is not UTF-8."""
    ends = endings[: len(lines) - 1] + ([endings[-1]] if last_ending else [""]) if lines else []
    text = "".join(line + end for line, end in zip(lines, ends, strict=True))
    return text.encode().replace("\ufffd".encode(), b"\xff")


def lines_for(name: str) -> st.SearchStrategy[list[str]]:
    one = st.one_of(log_line(name), good_line(name)) if name in TRAILING else log_line(name)
    return st.lists(
        st.one_of(one, one, mutated(one), st.sampled_from(["", "\r", "x", "miriwo"])),
        min_size=0,
        max_size=12,
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NAMES), st.data(), st.booleans())
def test_any_block_summarizes_the_same_both_ways(name, data, last_ending):
    # each odd line beside a well-formed one, so that the block is mostly its format (a block
    # mostly left over goes to polars whole) and both paths read lines of it
    odd = data.draw(lines_for(name))
    good = data.draw(st.lists(good_line(name), min_size=len(odd), max_size=12))
    paired = zip(good, odd + [None] * (len(good) - len(odd)), strict=True)
    lines = [line for pair in paired for line in pair if line is not None]
    endings = data.draw(st.lists(ENDING, min_size=len(lines), max_size=len(lines)))
    block = block_of(lines, endings, last_ending)
    _, left = fast_counts(block, name)
    event("all to polars" if left is None else "fast and polars" if left else "all fast")
    fast = outcome(summarize_block, block, WINDOW, CHOICES[name])
    slow = outcome(summarize_lines, block, WINDOW, CHOICES[name])
    assert_same_outcome(fast, slow)


# --- lines that are certainly well formed: the C path must take them ----------------------


def edge(values: list, others: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), others)


# requests at the edges of fields._REQUEST_PATTERN (the path: lazy, before an optional protocol)
# and of the URL's cut at its first `?`
ODD_REQUESTS = [
    "GET",
    "GET ",
    "GET /",
    "GET HTTP/1.0",
    "GET  HTTP/1.0",
    "GET  / HTTP/1.0",
    "GET / HTTP/",
    "GET / HTTP/.",
    "GET / HTTP/1.0 ",
    "GET /x HTTP/1.0x",
    "GET HTTP/1.0 HTTP/1.1",
    "GET /a HTTP/1.0 HTTP/1.1",
    " GET / HTTP/1.0",
    "GET ?",
    "GET ? HTTP/1.0",
    "GET /? HTTP/1.0",
    "GET /?? HTTP/1.0",
    "GET /??x?y HTTP/1.0",
    "GET /a b?c d HTTP/1.1",
    "GET /%20a%3F?q=%25 HTTP/1.1",
    "GET /" + "a" * 3000 + "?" + "q" * 3000 + " HTTP/1.0",
]
REQUEST_LINE = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["GET", "POST", "", "get", "G?T"]),
    st.sampled_from([" ", "  ", ""]),
    st.text(st.sampled_from(list("/a?b %=.")), max_size=12),
    st.sampled_from(["", " HTTP/1.0", " HTTP/1.1", " HTTP/", " HTTP/1.0 ", "HTTP/2"]),
)


@st.composite
def good_line(draw, name: str) -> str:
    """A line the fast path must take: printable ASCII of exactly the format's shape, a real
    date, in range; its fields often at their edges. The formats with fields after Combined
    (the regex kind's) have an escaped request, and nginx's the literal ``-`` for ident."""
    tailed = name in TRAILING
    year = draw(edge([1001, 1600, 1900, 1969, 1970, 2000, 9997], st.integers(1001, 9997)))
    month = draw(edge([1, 2, 12], st.integers(1, 12)))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    day = draw(edge([1, days], st.integers(1, days)))
    clock = [draw(edge([0, top], st.integers(0, top))) for top in (23, 59, 59, 23, 59)]
    stamp = (
        f"{day:02d}/{MONTHS[month - 1]}/{year}:{clock[0]:02d}:{clock[1]:02d}:{clock[2]:02d} "
        f"{draw(st.sampled_from('+-'))}{clock[3]:02d}{clock[4]:02d}"
    )
    printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    token = edge(
        ["-", '"', "[", "\\", "a]"],
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
    )
    request = draw(
        edge(['\\"', " ", 'GET /\\" 200 5 \\"x\\" \\"y', *ODD_REQUESTS], ESCAPED)
        if tailed
        else edge(
            ["", " ", '"', '" 200 5', 'GET /" 200 5 "x" "y', "a\\", *ODD_REQUESTS],
            st.one_of(st.text(printable, max_size=30), REQUEST_LINE),
        )
    )
    size = draw(edge(["-", "0", "9" * 18, "0" * 18], st.integers(0, 10**18 - 1).map(str)))
    status = draw(edge([0, 999], st.integers(0, 999)))
    ident = "-" if tailed and layout_of(name).dash_ident else draw(token)
    line = f'{draw(token)} {ident} {draw(token)} [{stamp}] "{request}" {status:03d} {size}'
    if name != "common":
        # an escaped field: no bare quote or backslash; \\" and \\\\ as servers write them
        plain = st.sampled_from([chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\'])
        escaped = st.lists(st.one_of(plain, st.sampled_from(['\\"', "\\\\"])), max_size=20)
        referer = draw(edge(["-", "", '\\"'], escaped.map("".join)))
        agent = draw(edge(["-", ""], escaped.map("".join)))
        line += f' "{referer}" "{agent}"'
    if tailed:
        line += draw(tail(name))
    return line


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NAMES), st.data())
def test_well_formed_lines_take_the_fast_path_and_agree(name, data):
    lines = data.draw(st.lists(good_line(name), min_size=1, max_size=8))
    block = "\n".join(lines).encode()
    read, left_over = fast_counts(block, name)
    # none left for polars but a time taken at a bucket's bound (the counter leaves those) ...
    bound = at_a_bucket_bound(lines, name)
    assert read == len(lines)
    if left_over is None:  # ... and a block mostly left over is polars' whole
        assert 2 * len(bound) > read
    else:
        assert set(left_over) <= bound
    assert_same(
        summarize_block(block, WINDOW, CHOICES[name]),
        summarize_lines(block, WINDOW, CHOICES[name]),
    )


# --- edges worth naming -----------------------------------------------------------------------

GOOD = 'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 5'
REF = ' "http://r/" "agent"'
TAILS = {  # a tail of each format with fields after Combined, as its server writes it
    "nginx_main": ' "203.0.113.9, 10.0.0.1"',
    "apache_combined_duration": " 5890",
    "nginx_request_time": " 0.006",
    "nginx_upstream_host": " 0.002, 1.044 example.org",
    "ingress_nginx": " 309 0.006 [default-web-8080] [] 10.0.0.12:8080 0 0.006 404 2461904",
    "traefik_clf": ' 1 "web@docker" "http://10.0.0.12:8080" 5ms',
    "combined_plus": ' 0.004 "-" cache=HIT',
}
WELL_FORMED = {"common": GOOD, "combined": GOOD + REF} | {
    name: GOOD + REF + tail for name, tail in TAILS.items()
}
NGINX_HEAD = GOOD.replace("h - -", "h - u")
BYTES_19 = GOOD.replace(" 5", " " + "9" * 19) + REF  # the regex kind reads it; left to polars


@pytest.mark.parametrize(
    ("name", "line", "taken"),
    [
        ("common", GOOD, True),
        ("common", GOOD.replace("200 5", "200 -"), True),
        ("common", GOOD.replace(" 5", " " + "9" * 18), True),
        ("common", GOOD.replace(" 5", " " + "9" * 19), False),  # not a request
        ("common", GOOD.replace("Aug", "aug"), False),  # chrono reads it; polars decides
        ("common", GOOD.replace("18/Aug", "31/Apr"), False),  # no such day
        ("common", GOOD.replace("18/Aug/1995", "29/Feb/1900"), False),
        ("common", GOOD.replace("18/Aug/1995", "29/Feb/2000"), True),
        ("common", GOOD.replace(":00 -0400", ":60 -0400"), False),
        ("common", GOOD.replace("-0400", "-2360"), False),
        ("common", GOOD.replace("-0400", "+2359"), True),
        ("common", GOOD.replace("GET /", 'GET /" 200 5'), True),  # a quote inside the request
        ("common", 'h - - [18/Aug/1995:12:30:00 -0400] " 200 5', False),  # shares the quote
        ("common", 'h - - [18/Aug/1995:12:30:00 -0400] "" 200 5', True),
        ("common", GOOD.replace("GET", "G\tET"), False),
        ("common", GOOD.replace("GET", "GÉT"), False),
        ("combined", GOOD + REF, True),
        ("combined", GOOD + ' "-" "a \\" b"', True),
        ("combined", GOOD + ' "-" "a " b"', False),  # a bare quote: polars decides
        # leftmost match: the suffix starts inside the request, which ends at `/`
        ("combined", GOOD.replace("GET /", 'GET /" 200 5 "x" "y') + REF, True),
        ("combined", 'h - - [18/Aug/1995:12:30:00 -0400] " 200 5 "r" "a"', False),
        # Combined with fields after it: left over, the line is another format's, or none's
        ("apache_combined_duration", GOOD + REF + " -", True),
        ("apache_combined_duration", GOOD + REF + " " + "9" * 40, True),  # any digits
        ("apache_combined_duration", GOOD + REF + " 5.5", False),
        ("apache_combined_duration", GOOD + REF, False),  # a field missing: Combined's
        ("apache_combined_duration", GOOD + REF + " 5890 7", False),  # one more: combined_plus's
        ("apache_combined_duration", BYTES_19 + " 5890", False),
        ("apache_combined_duration", GOOD.replace("h - -", "h i u") + REF + " 1", True),
        ("nginx_request_time", GOOD + REF + " -", True),
        ("nginx_request_time", GOOD + REF + " 0.006 ", False),
        ("nginx_request_time", GOOD + REF + " -0.5", False),
        ("nginx_request_time", GOOD.replace("h - -", "h x -") + REF + " 0.006", False),
        ("nginx_request_time", NGINX_HEAD + REF + " 0.006", True),
        ("nginx_request_time", GOOD.replace("GET /", 'GET /"') + REF + " 0.006", False),
        ("nginx_request_time", GOOD.replace("GET /", 'GET /\\"') + REF + " 0.006", True),
        ("nginx_request_time", GOOD.replace("GET /", "GET /\\") + REF + " 0.006", True),
        ("nginx_request_time", GOOD.replace("1.0", "1.0\\") + REF + " 0.006", False),
        ("nginx_request_time", GOOD + ' "a \\" b" "c" 0.006', True),
        ("nginx_request_time", GOOD + ' "a " b" "c" 0.006', False),
        ("nginx_upstream_host", GOOD + REF + " 0.002 : 1.044, 0.5 example.org", True),
        ("nginx_upstream_host", GOOD + REF + " - ", True),  # no upstream, no host
        ("nginx_upstream_host", GOOD + REF + " 0.002,1.044 example.org", False),
        ("nginx_upstream_host", GOOD + REF + " 0.002 , 1.044 example.org", False),
        ("nginx_upstream_host", GOOD + REF + " 0.002, 1.044", False),  # the host missing
        ("nginx_upstream_host", GOOD + REF + " 0.002 example.org :80", False),
        ("ingress_nginx", GOOD + REF + TAILS["ingress_nginx"] + " x", False),
        ("ingress_nginx", GOOD + REF + TAILS["ingress_nginx"].replace(" 0 ", " "), False),
        ("ingress_nginx", GOOD + REF + TAILS["ingress_nginx"].replace(" 0 ", " 0, 5 : 7 "), True),
        ("ingress_nginx", GOOD + REF + TAILS["ingress_nginx"].replace("309", "-"), True),
        ("ingress_nginx", GOOD + REF + TAILS["ingress_nginx"].replace("[]", "[a]]"), True),
        ("ingress_nginx", GOOD + REF + TAILS["ingress_nginx"].replace("[]", "[a b]"), False),
        ("traefik_clf", GOOD + REF + ' 1 "r\\"q" "u" 5ms', True),
        ("traefik_clf", GOOD + REF + ' 1 "r"q" "u" 5ms', False),
        ("traefik_clf", GOOD + REF + ' 1 "r" "u" 5', False),
        ("traefik_clf", GOOD + REF + ' 1 "r" "u" 99999999999999999999.5ms', True),
        ("nginx_main", GOOD + REF + ' "-"', True),
        ("nginx_main", GOOD + REF + ' "a" "b"', False),
        ("combined_plus", GOOD + REF + " x", True),
        ("combined_plus", GOOD + REF + '  "" "" - 1 2 3', True),
        ("combined_plus", GOOD + REF + " ", False),
        ("combined_plus", GOOD + REF, False),  # Combined's
        ("combined_plus", GOOD + REF + "x", False),
    ],
)
def test_edges(name, line, taken):
    well_formed = WELL_FORMED[name]  # so the block is mostly its format
    block = f"{well_formed}\n{line}\n{well_formed}\n".encode()
    assert fast_counts(block, name) == (3, [] if taken else [1])
    choice = CHOICES[name]
    assert_same(summarize_block(block, WINDOW, choice), summarize_lines(block, WINDOW, choice))


def test_a_combined_suffix_inside_the_request_is_passed_over():
    # `" 500 9 "x" "y` in the request starts a suffix that does not reach the line's end (the
    # regex's leftmost match is the real one, whose status is 200)
    line = GOOD.replace("GET /", 'GET /" 500 9 "x" "y') + REF
    block = (line + "\n").encode()
    assert fast_counts(block, "combined") == (1, [])
    fast = summarize_block(block, WINDOW, CHOICES["combined"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["combined"]))
    assert fast.statuses.rows() == [(200, 1)]
    assert fast.referers.rows() == [("http://r/", 1)]


def test_byte_totals_wrap_as_polars_sums_do():
    # polars sums a block's Int64 bytes modulo 2**64; the fast path must not be "more right"
    lines = [GOOD.replace(" 5", " " + "9" * 18)] * 10 + ["broken"]
    block = "\n".join(lines).encode()
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    assert fast.bytes_sent == 10 * (10**18 - 1) - 2**64


def test_a_byte_order_mark_is_dropped_only_at_a_block_start():
    block = ("\ufeff" + GOOD + "\n" + GOOD + "\n\ufeff" + GOOD + "\n" + GOOD).encode()
    assert fast_counts(block, "common") == (4, [0, 2])
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    assert dict(fast.hosts.select("host", "requests").rows()) == {"h": 3, "\ufeffh": 1}


def test_a_block_whose_only_line_takes_a_time_at_a_bucket_bound_goes_to_polars_whole():
    # 16,339,627,506 us is GAMMA**482: the counter leaves it, so it counts no line at all
    line = '- - - [01/Jan/1001:00:00:00 +0000] "\\"" 000 - "-" "-" 16339627506'
    block = line.encode()
    assert at_a_bucket_bound([line], "apache_combined_duration") == {0}
    assert fast_counts(block, "apache_combined_duration") == (1, None)
    choice = CHOICES["apache_combined_duration"]
    assert_same(summarize_block(block, WINDOW, choice), summarize_lines(block, WINDOW, choice))


def test_a_block_mostly_of_times_at_a_bucket_bound_goes_to_polars_whole():
    # two of three lines left over: the counter takes none, the line between them too
    line = '- - - [01/Jan/1001:00:00:00 +0000] "\\"" 000 - "-" "-" 16339627506'
    lines = [line.replace(" 16339627506", " -"), line, line]
    block = "\n".join(lines).encode()
    assert at_a_bucket_bound(lines, "apache_combined_duration") == {1, 2}
    assert fast_counts(block, "apache_combined_duration") == (3, None)
    choice = CHOICES["apache_combined_duration"]
    assert_same(summarize_block(block, WINDOW, choice), summarize_lines(block, WINDOW, choice))


def test_a_block_mostly_of_another_format_goes_to_polars_whole():
    vhost = "site:80 " + GOOD + REF
    block = "\n".join([GOOD, vhost, vhost, vhost, "x"]).encode()
    assert fast_counts(block, "common") == (5, None)
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    assert dict(fast.formats.rows()) == {"common": 1, "vhost_combined": 3}


# --- whole streams: blocks on a thread pool, counts kept across them -------------------------


def both_ways(data: bytes, name: str, block_bytes: int) -> tuple[LogSummary, LogSummary]:
    """A file of ``data`` read as the local engine reads a piece (a pool of two threads, counts
    kept across its blocks), with the accelerator and without. Data a file could not start
    with (a NUL byte early on is binary data, a compression's magic another kind of file) comes
    after a few well-formed lines."""
    if sniff(data[:HEAD_BYTES]) != "text":
        line = WELL_FORMED[name] + "\n"
        data = line.encode() * (HEAD_BYTES // len(line) + 1) + data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log"
        path.write_bytes(data)
        part, choice = Partition(str(path)), CHOICES[name]

        def run() -> LogSummary:
            with ThreadPoolExecutor(2) as pool:
                return PieceReader(part, WINDOW, choice, block_bytes, pool, 2).summary()

        fast = run()
        with polars_only():
            slow = run()
    return fast, slow


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(NAMES), st.data(), st.integers(1, 400))
def test_any_stream_summarizes_the_same_both_ways(name, data, block_bytes):
    # blocks of a few lines each, scanned two at a time into one Counter
    odd = st.one_of(log_line(name), mutated(log_line(name)), mutated(good_line(name)), st.just(""))
    lines = data.draw(st.lists(st.one_of(good_line(name), good_line(name), odd)))
    data_bytes = block_of(lines, ["\n"] * len(lines), data.draw(st.booleans()))
    fast, slow = both_ways(data_bytes, name, block_bytes)
    assert_same(fast, slow)


def left_over(line: str) -> str:
    """``line`` as the counter leaves it over and polars reads it: a month in lower case."""
    return line.replace("/Aug/", "/aug/")


def test_left_over_lines_of_consecutive_blocks_are_parsed_at_once(monkeypatch):
    # each block of two lines has one the counter leaves over: one polars parse for all
    runs = []
    finish_run = BlockSummaries.finish_run
    monkeypatch.setattr(
        BlockSummaries,
        "finish_run",
        lambda self, run: runs.append(len(run)) or finish_run(self, run),
    )
    lines = [GOOD, left_over(GOOD).replace(" 5", " 7")] * 20
    fast, slow = both_ways(("\n".join(lines) + "\n").encode(), "common", 70)
    assert_same(fast, slow)
    assert (fast.requests, fast.bytes_sent) == (40, 20 * 12)
    assert max(runs) > 1 and sum(runs) >= 20


def test_a_run_of_blocks_sums_each_blocks_bytes_as_polars_does():
    # each block's Int64 sum is taken on its own: ten blocks of 1e18 bytes add up past 2**63
    big = left_over(GOOD).replace(" 5", " " + "9" * 18)
    lines = [GOOD, big] * 10
    fast, slow = both_ways(("\n".join(lines) + "\n").encode(), "common", 80)
    assert_same(fast, slow)
    assert fast.bytes_sent == 10 * (10**18 - 1 + 5) > 2**63


def test_a_run_ends_before_a_block_whose_first_line_is_left_over():
    # read at the start of polars' buffer, a block's first line loses a byte-order mark: in a
    # run after another block's left-over line it would keep it (blocks cut at their last newline)
    first = [GOOD, left_over(GOOD), GOOD]
    second = ["\ufeff" + left_over(GOOD), GOOD, GOOD]
    assert fast_counts(("\n".join(second) + "\n").encode(), "common") == (3, [0])
    fast, slow = both_ways(("\n".join(first + second) + "\n").encode(), "common", 175)
    assert_same(fast, slow)
    assert dict(fast.hosts.select("host", "requests").rows()) == {"h": 6}


def test_the_nasa_slice_summarizes_the_same_both_ways(nasa_slice):
    window = Window.parse("1995-08-01T00:00:00-04:00", "1995-08-01T00:30:00-04:00")
    fast = summarize_log(nasa_slice, window, block_bytes=64 * 1024, workers=2)
    with polars_only():
        slow = summarize_log(nasa_slice, window, block_bytes=64 * 1024, workers=2)
    assert_same(fast, slow)
    assert (fast.lines, fast.requests, fast.rejected) == (1881, 1880, 1)
    assert fast.rejected_examples.rows() == [(str(nasa_slice), 1881, "miriwo")]
    assert not fast.window_hosts.is_empty()


@pytest.mark.parametrize("name", TRAILING)
def test_every_line_of_the_corpus_variants_takes_the_fast_path(tmp_path, name):
    # the deployment corpus (tests/support/log_corpus.py) as each server writes it
    variants = [variant for variant in VARIANTS.values() if variant.detect_as == name]
    # combined_plus, which no server writes by that name: every other one's lines
    variants = variants or [v for v in VARIANTS.values() if v.detect_as in TRAILING]
    lines = [line for variant in variants for line in variant.lines()]
    block = "\n".join(lines).encode()
    assert fast_counts(block, name) == (len(lines), [])
    path = tmp_path / "log"
    path.write_bytes(block)
    fast = summarize_log(path, WINDOW, block_bytes=1 << 16, workers=2, choice=CHOICES[name])
    with polars_only():
        slow = summarize_log(path, WINDOW, block_bytes=1 << 16, workers=2, choice=CHOICES[name])
    assert_same(fast, slow)
    assert fast.requests == len(lines)


@pytest.mark.parametrize("name", ["common", "combined"])
def test_synthetic_logs_summarize_the_same_both_ways(tmp_path, name):
    path = generate_log(tmp_path / f"{name}.log.gz", lines=120_000, seed=7, log_format=name)
    choice = CHOICES[name]
    fast = summarize_log(path, WINDOW, block_bytes=1 << 20, workers=2, choice=choice)
    with polars_only():
        slow = summarize_log(path, WINDOW, block_bytes=1 << 20, workers=2, choice=choice)
    assert_same(fast, slow)
    assert fast.rejected > 0 and fast.requests > 119_000 and not fast.window_hosts.is_empty()
    assert (not fast.referers.is_empty()) == (name == "combined")


# --- the breakdowns: URLs and queries, visitors, bytes per host and URL, errors per hour ------


@pytest.mark.parametrize("name", ["common", "combined"])
@pytest.mark.parametrize("request_line", ODD_REQUESTS + ["", " ", "GET /é HTTP/1.0"])
def test_odd_requests_give_the_same_urls_and_queries(name, request_line):
    tail = REF if name == "combined" else ""
    odd = GOOD.replace("GET / HTTP/1.0", request_line) + tail
    block = "\n".join([GOOD + tail, odd, GOOD + tail]).encode()
    taken = request_line.isascii()  # a byte that is not ASCII: polars reads the line
    assert fast_counts(block, name) == (3, [] if taken else [1])
    fast = summarize_block(block, WINDOW, CHOICES[name])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES[name]))


def test_urls_and_queries_are_the_paths_cut_at_their_first_question_mark():
    requests = ["GET /a?x HTTP/1.0", "GET /a?y HTTP/1.0", "GET /a?x HTTP/1.0", "GET /a HTTP/1.0"]
    requests += ["GET /??z HTTP/1.0", "GET HTTP/1.0", "GET  HTTP/1.0", "GET /b?"]
    lines = [
        GOOD.replace("GET / HTTP/1.0", r).replace(" 5", f" {i}") for i, r in enumerate(requests)
    ]
    block = "\n".join(lines).encode()
    assert fast_counts(block, "common") == (len(lines), [])
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    urls = {url: (n, sent) for url, n, sent in fast.urls.rows()}
    assert urls == {"/a": (4, 0 + 1 + 2 + 3), "/": (1, 4), None: (1, 5), "": (1, 6), "/b": (1, 7)}
    queries = Counter(url for url, _ in fast.url_queries.rows())
    assert queries == {"/a": 2, "/": 1, "/b": 1}  # `?z` after `/?`; the empty query of /b


@pytest.mark.parametrize(
    ("agent", "taken"),
    [
        ("Mozilla/5.0", True),
        ("-", True),
        ("", True),
        ('a \\" b', True),  # Apache's escapes, decoded in the visitor's key
        ("a \\\\ b", True),
        ("a \\x22 b", True),  # nginx's, of a printable byte: decoded too
        ("a \\x5c\\x5C b", True),
        ("\\x2D", True),  # decoded after `-` is read as no agent: the text `-`
        ("a \\x7f b", False),  # not printable: polars decodes it
        ("a \\xe9 b", False),  # a byte that is not UTF-8 alone: polars makes it U+FFFD
        ("a \\x2 b", False),  # no escape: the backslash stays (polars keeps it)
        ("a \\n b", False),
    ],
)
def test_visitors_are_hosts_and_decoded_agents_per_day(agent, taken):
    lines = [GOOD + f' "-" "{agent}"', GOOD.replace("12:30", "23:59") + ' "x" "-"']
    lines += [GOOD.replace("18/Aug", "19/Aug") + f' "-" "{agent}"', GOOD + REF]
    block = "\n".join(lines * 3).encode()
    assert fast_counts(block, "combined") == (12, [] if taken else [0, 2, 4, 6, 8, 10])
    fast = summarize_block(block, WINDOW, CHOICES["combined"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["combined"]))
    # 23:59 at -0400 is the next UTC day
    days = Counter(day.isoformat() for day, _ in fast.visitors.rows())
    same = agent in ("-", "")  # the same visitor as the `"-"` agent's line
    assert days == {"1995-08-18": 2, "1995-08-19": 2 - same}


def test_a_day_before_the_year_1000_is_written_as_polars_writes_it():
    line = GOOD.replace("18/Aug/1995:12:30:00 -0400", "01/Jan/1000:00:30:00 +0100")
    block = "\n".join([line, GOOD]).encode()
    assert fast_counts(block, "common") == (2, [])
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    assert sorted(day.year for day, _ in fast.visitors.rows()) == [999, 1995]


def test_bytes_per_host_and_url_wrap_as_polars_sums_do():
    big = GOOD.replace(" 5", " " + "9" * 18)
    lines = [big] * 10 + [big.replace("GET /", "GET /x")] * 10 + [GOOD.replace(" 5", " -")]
    block = "\n".join(lines).encode()
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    assert fast.hosts.rows() == [("h", 21, 20 * (10**18 - 1) - 2**64)]
    assert dict(fast.urls.select("url", "bytes").rows()) == {
        "/": 10 * (10**18 - 1) - 2**64,
        "/x": 10 * (10**18 - 1) - 2**64,
    }


def test_client_and_server_errors_per_hour():
    statuses = [200, 404, 499, 500, 599, 400, 304, 600, 399]
    lines = [GOOD.replace("200 5", f"{s} 5") for s in statuses]
    lines.append(GOOD.replace("12:30", "13:30").replace("200 5", "503 5"))
    block = "\n".join(lines).encode()
    fast = summarize_block(block, WINDOW, CHOICES["common"])
    assert_same(fast, summarize_lines(block, WINDOW, CHOICES["common"]))
    errors = fast.hourly.sort("hour").select("requests", "client_errors", "server_errors")
    assert errors.rows() == [(9, 3, 2), (1, 0, 1)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_the_compiled_key_hashes_are_bounded_key_hash(keys):
    from lib.logs.parsing import _clf

    assert _clf.key_hashes(keys) == [bounded.key_hash(key) for key in keys]


def test_the_polars_path_hashes_its_keys_with_the_compiled_hashes_when_built():
    from lib.logs.parsing import _clf

    assert bounded._compiled() is _clf
    keys = pl.Series("k", ["", "a\0b", "é", "x" * 1000])
    want = [bounded.key_hash(key.encode()) for key in keys.to_list()]
    assert bounded.key_hashes(keys).to_list() == want


# --- the bounds: small caps, and the levels and errors they make -----------------------------


def lines_of(visitors: int, urls: int, queries: int) -> list[str]:
    """Combined lines: `visitors` hosts over two days, each asking for one of `urls` URLs with
    one of `queries` queries."""
    lines = []
    for i in range(max(visitors, urls, queries)):
        day = "18/Aug" if i % 2 else "19/Aug"
        request = f"GET /u{i % urls}?q={i % queries} HTTP/1.0"
        line = GOOD.replace("h ", f"h{i % visitors} ", 1).replace("18/Aug", day)
        lines.append(line.replace("GET / HTTP/1.0", request) + f' "-" "agent {i % 3}"')
    return lines


def both_summaries(lines: list[str], blocks: int) -> tuple[LogSummary, LogSummary]:
    """The summaries of the lines, in `blocks` blocks, through the compiled counter (one
    Counter) and through polars alone."""
    choice, size = CHOICES["combined"], -(-len(lines) // blocks)
    parts = [("\n".join(lines[i : i + size]) + "\n").encode() for i in range(0, len(lines), size)]
    counter = accelerators.counter_for(choice, WINDOW)
    kept = BlockSummaries(WINDOW, choice, counter)
    fast = [kept.finish(accelerators.count(counter, part)) for part in parts]
    fast = combine([*fast, kept.counts()])
    slow = combine([summarize_lines(part, WINDOW, choice) for part in parts])
    return fast, slow


def test_samples_over_their_caps_have_the_levels_of_the_rule(monkeypatch):
    # the distinct sample of the whole: the lowest level at which it fits, whatever the
    # blocks and shards (bounded.distinct), as the polars path finds it
    monkeypatch.setattr(caps, "QUERY_CAP", 40)
    monkeypatch.setattr(caps, "VISITOR_CAP", 50)
    fast, slow = both_summaries(lines_of(visitors=700, urls=5, queries=300), blocks=7)
    assert fast.query_level >= 2 and fast.visitor_level >= 2
    assert_same(fast, slow)
    keys = [f"/u{i % 5}\0q={i % 300}".encode() for i in range(700)]
    level = next(lv for lv in range(64) if len({k for k in keys if sampled(k, lv)}) <= 40)
    assert fast.query_level == level


def sampled(key: bytes, level: int) -> bool:
    return bounded.key_hash(key) < 1 << (64 - level)


def top_urls_rule(urls: list[str | None], cap: int) -> tuple[dict, int]:
    """The URLs' counts as the rule keeps them, one line after another: more than twice `cap`
    URLs, the `cap` busiest kept (ties by URL, None last) and the largest count dropped added
    to the error; at the end the `cap` busiest (bounded.top_urls)."""
    counts, error = {}, 0

    def cut(counts: dict, error: int) -> tuple[dict, int]:
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
        return dict(order[:cap]), error + order[cap][1]

    for url in urls:
        counts[url] = counts.get(url, 0) + 1
        if len(counts) > 2 * cap:
            counts, error = cut(counts, error)
    return cut(counts, error) if len(counts) > cap else (counts, error)


def test_urls_over_their_cap_are_kept_by_the_rule(monkeypatch):
    monkeypatch.setattr(caps, "URL_CAP", 6)
    rng = random.Random(5)
    paths = [f"/u{int(60 * rng.random() ** 3)}" for _ in range(3000)]
    paths = [None if i % 97 == 0 else path for i, path in enumerate(paths)]
    lines = [
        GOOD.replace("GET / HTTP/1.0", "GET" if p is None else f"GET {p}?{i % 4}") + REF
        for i, p in enumerate(paths)
    ]
    block = ("\n".join(lines) + "\n").encode()
    counter = accelerators.counter_for(CHOICES["combined"], WINDOW)
    assert accelerators.count(counter, block).indices == []  # one block: one shard, in order
    fast = BlockSummaries(WINDOW, CHOICES["combined"], counter).counts()
    kept, error = top_urls_rule(paths, 6)
    assert dict(fast.urls.select("url", "requests").rows()) == kept
    assert fast.url_error == error > 0
    truth = Counter(paths)
    for url, n in kept.items():
        assert truth[url] - error <= n <= truth[url]
    # the queries kept are those of the URLs kept
    assert {url for url, _ in fast.url_queries.rows()} <= set(kept)
    assert_bounded(fast)


def assert_bounded(summary: LogSummary) -> None:
    assert summary.urls.height <= caps.URL_CAP
    assert summary.url_queries.height <= caps.QUERY_CAP
    assert summary.visitors.height <= caps.VISITOR_CAP


def test_a_stream_over_every_cap_stays_within_them(monkeypatch, tmp_path):
    for name, cap in (("URL_CAP", 20), ("QUERY_CAP", 30), ("VISITOR_CAP", 40)):
        monkeypatch.setattr(caps, name, cap)
    lines = lines_of(visitors=3000, urls=400, queries=900)
    data = ("\n".join(lines) + "\n").encode()
    fast, slow = both_ways(data, "combined", block_bytes=20_000)
    assert_bounded(fast)
    assert fast.visitor_level == slow.visitor_level and fast.query_level >= 1
    assert fast.url_error > 0
    truth = Counter(line.split()[6].split("?")[0] for line in lines)
    for url, n in fast.urls.select("url", "requests").rows():
        assert truth[url] - fast.url_error <= n <= truth[url]


def test_the_counter_reads_the_times_taken_and_virtual_hosts_of_a_tail():
    # a tail's time taken and virtual host are counted in C; the clf kind's roles are
    # Common's or Combined's only (no other fields for the counter to read)
    for roles in (("vhost",), ("duration_ms",), ("duration_us", "vhost")):
        fmt = replace(FORMATS["combined"], roles=FORMATS["combined"].roles + roles)
        assert accelerators.counter_for(FormatChoice.of(fmt), WINDOW) is None
    for name in ("nginx_request_time", "ingress_nginx", "traefik_clf"):
        assert accelerators.counter_for(FormatChoice.of(FORMATS[name]), WINDOW) is not None
    assert accelerators.counter_for(CHOICES["combined"], WINDOW) is not None


# times taken at their edges, as any field could hold them (the registered formats' numbers
# hold digits and a point only): the text read as fields.duration_us reads it, then bucketed
TIME_TEXTS = [
    *["0", "-", "", "+", "+5", "+0.5", "-1", "-0", "-0.0", "1e3", "inf", "nan", "1.", ".5"],
    *["0.4", "0.5", "1.5", "2.5", "0.0000005", "0.0000015", "00001", "0." + "0" * 40 + "1"],
    *["9" * 40, "9" * 40 + ".5", "9" * 70, "4611686018427387903", "4611686018427387904"],
    *[str(math.ceil(bounded.GAMMA**k) + d) for k in (1, 2, 15, 100, 300, 500) for d in (-1, 0)],
]


@pytest.mark.parametrize("role", list(DURATION_SCALES))
def test_times_taken_are_read_and_bucketed_as_polars_does(role):
    from lib.logs.parsing import _clf

    found = layout_of("nginx_upstream_host")
    at = found.field("vhost")  # a token: any text without a space, here read as a time
    counter = _clf.Counter(
        True,
        *WINDOW.micros(),
        tail=found.program,
        dash_ident=found.dash_ident,
        duration_field=at,
        duration_scale=DURATION_SCALES[role],
    )
    plain = {"T": "x", "N": "x", "I": "1", "D": "1", "S": "a", "Q": "", "R": "x"}

    def line(url: str, time: str) -> str:
        values = iter(range(len(found.fields)))
        tail_text = "".join(
            text if op == "L" else time if next(values) == at else plain[op]
            for op, text in ops(found.program)
        )
        return GOOD.replace("GET / ", f"GET {url} ") + REF + tail_text

    texts = [*TIME_TEXTS, *["1"] * len(TIME_TEXTS)]  # mostly counted: the block is counted
    block = "\n".join(line(f"/u{i}", text) for i, text in enumerate(texts)).encode()
    _, _, left_over, _ = counter.add(block)
    assert left_over is not None
    counted = [i for i in range(len(texts)) if i not in set(left_over)]
    certain = {"0", "-", "0.5", "1.5", "9" * 40, "4611686018427387904", "00001", "+5"}
    assert certain <= {texts[i] for i in counted}
    frame = pl.DataFrame({"url": [f"/u{i}" for i in counted], "t": [texts[i] for i in counted]})
    timed = frame.select("url", duration_us(role, pl.col("t")).alias("us")).drop_nulls("us")
    expected = timed.select("url", bounded.duration_bucket(pl.col("us")).alias("bucket"))
    more = counter.result()[-1]
    got = zip(more["duration_urls"], more["duration_buckets"], strict=True)
    assert sorted(got) == sorted(expected.rows())
    assert set(more["duration_requests"]) <= {1}
