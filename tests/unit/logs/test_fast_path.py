"""The compiled accelerator of Common and Combined (lib/logs/parsing/_clf.c, counted into
summaries by lib.logs.counting.counted) against the polars path: every summary must be the
same, field by field, whatever the lines."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from lib.logs.counting.counted import summarize_block
from lib.logs.counting.parsed import summarize_lines
from lib.logs.counting.summary import LogSummary
from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines.local import summarize_log
from lib.logs.engines.pipeline import PieceReader
from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import FORMATS
from lib.logs.reading._compression import HEAD_BYTES, sniff
from lib.logs.reading.partitions import Partition
from lib.logs.window import Window
from tests.support.summaries import (
    CHOICES,
    WINDOW,
    assert_same,
    assert_same_outcome,
    outcome,
    polars_only,
)


def test_extension_is_built():
    # CI installs with `pip install -e .`, which builds it; without it every line is read
    # with polars (correct, but several times slower), which must not go unnoticed.
    from lib.logs.parsing import _clf

    for name in ("common", "combined"):
        assert FORMATS[name].accelerator == "clf"
        assert isinstance(accelerators.counter(FORMATS[name], 0, 1), _clf.Counter)
    assert accelerators.counter(FORMATS["vhost_common"], 0, 1) is None


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
ESCAPED = st.one_of(
    st.sampled_from(["-", "", "http://a/b", 'x\\"y', "x\\x22y", "x\\\\", '" "', "\\"]),
    st.text(st.sampled_from(list('ab "\\-')), max_size=8),
)
ENDING = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\r\n"])


@st.composite
def log_line(draw, combined: bool) -> str:
    line = (
        f"{draw(FIELD)} {draw(FIELD)} {draw(FIELD)} [{draw(STAMP)}] "
        f'"{draw(REQUEST)}" {draw(STATUS)} {draw(SIZE)}'
    )
    if combined or draw(st.booleans()):
        line += f' "{draw(ESCAPED)}" "{draw(ESCAPED)}"'
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


def lines_for(combined: bool) -> st.SearchStrategy[list[str]]:
    one = log_line(combined)
    return st.lists(
        st.one_of(one, one, mutated(one), st.sampled_from(["", "\r", "x", "miriwo"])),
        min_size=0,
        max_size=12,
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["common", "combined"]), st.data(), st.booleans())
def test_any_block_summarizes_the_same_both_ways(name, data, last_ending):
    # each odd line beside a well-formed one, so that the block is mostly its format (a block
    # mostly left over goes to polars whole) and both paths read lines of it
    odd = data.draw(lines_for(name == "combined"))
    good = data.draw(st.lists(good_line(name == "combined"), min_size=len(odd), max_size=12))
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


@st.composite
def good_line(draw, combined: bool) -> str:
    """A line the fast path must take: printable ASCII of exactly the format's shape, a real
    date, in range; its fields often at their edges."""
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
        edge(
            ["", " ", '"', '" 200 5', 'GET /" 200 5 "x" "y', "a\\"],
            st.text(printable, max_size=30),
        )
    )
    size = draw(edge(["-", "0", "9" * 18, "0" * 18], st.integers(0, 10**18 - 1).map(str)))
    status = draw(edge([0, 999], st.integers(0, 999)))
    line = f'{draw(token)} {draw(token)} {draw(token)} [{stamp}] "{request}" {status:03d} {size}'
    if combined:
        # an escaped field: no bare quote or backslash; \\" and \\\\ as servers write them
        plain = st.sampled_from([chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\'])
        escaped = st.lists(st.one_of(plain, st.sampled_from(['\\"', "\\\\"])), max_size=20)
        referer = draw(edge(["-", "", '\\"'], escaped.map("".join)))
        agent = draw(edge(["-", ""], escaped.map("".join)))
        line += f' "{referer}" "{agent}"'
    return line


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["common", "combined"]), st.data())
def test_well_formed_lines_take_the_fast_path_and_agree(name, data):
    lines = data.draw(st.lists(good_line(name == "combined"), min_size=1, max_size=8))
    block = "\n".join(lines).encode()
    assert fast_counts(block, name) == (len(lines), [])  # none left for polars
    assert_same(
        summarize_block(block, WINDOW, CHOICES[name]),
        summarize_lines(block, WINDOW, CHOICES[name]),
    )


# --- edges worth naming -----------------------------------------------------------------------

GOOD = 'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 5'
REF = ' "http://r/" "agent"'


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
    ],
)
def test_edges(name, line, taken):
    well_formed = GOOD + (REF if name == "combined" else "")  # so the block is mostly its format
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
        line = GOOD + (REF if name == "combined" else "") + "\n"
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


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["common", "combined"]), st.data(), st.integers(1, 400))
def test_any_stream_summarizes_the_same_both_ways(name, data, block_bytes):
    # blocks of a few lines each, scanned two at a time into one Counter
    combined = name == "combined"
    odd = st.one_of(log_line(combined), mutated(log_line(combined)), st.just(""))
    lines = data.draw(st.lists(st.one_of(good_line(combined), good_line(combined), odd)))
    data_bytes = block_of(lines, ["\n"] * len(lines), data.draw(st.booleans()))
    fast, slow = both_ways(data_bytes, name, block_bytes)
    assert_same(fast, slow)


def test_the_nasa_slice_summarizes_the_same_both_ways(nasa_slice):
    window = Window.parse("1995-08-01T00:00:00-04:00", "1995-08-01T00:30:00-04:00")
    fast = summarize_log(nasa_slice, window, block_bytes=64 * 1024, workers=2)
    with polars_only():
        slow = summarize_log(nasa_slice, window, block_bytes=64 * 1024, workers=2)
    assert_same(fast, slow)
    assert (fast.lines, fast.requests, fast.rejected) == (1881, 1880, 1)
    assert fast.rejected_examples.rows() == [(str(nasa_slice), 1881, "miriwo")]
    assert not fast.window_hosts.is_empty()


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
