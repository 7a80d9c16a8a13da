import gzip
import io
import re
import tracemalloc
from collections import Counter
from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.counting.counted import summarize_block
from lib.logs.errors import LogReadError
from lib.logs.parsing.clf import COMMON_LINE as LINE_PATTERN
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.parsing.kinds.clf import parse_line
from lib.logs.parsing.requests import iter_parsed, read_log
from lib.logs.reading.blocks import cut_line, iter_blocks, open_log
from lib.logs.reading.lines import block_to_lines
from lib.logs.window import Window

GOOD = (
    "in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "
    '"GET /shuttle/missions/sts-68/news/sts-68-mcc-05.txt HTTP/1.0" 200 1839'
)


def test_parses_every_field_of_a_normal_line():
    row = parse_line(GOOD)
    assert row["host"] == "in24.inetnebr.com"
    assert row["time"] == datetime(1995, 8, 1, 4, 0, 1, tzinfo=UTC)
    assert row["utc_offset"] == "-0400"
    assert (row["method"], row["protocol"]) == ("GET", "HTTP/1.0")
    assert row["path"] == "/shuttle/missions/sts-68/news/sts-68-mcc-05.txt"
    assert (row["status"], row["bytes"]) == (200, 1839)


@pytest.mark.parametrize(
    ("zone", "utc"),
    [
        ("-0400", "1995-08-18T16:30:00+00:00"),
        ("+0530", "1995-08-18T07:00:00+00:00"),
        ("-0000", "1995-08-18T12:30:00+00:00"),
        ("-2359", "1995-08-19T12:29:00+00:00"),
        ("+2400", None),  # no such offset: rejected
        ("-0460", None),
    ],
)
def test_times_are_converted_to_utc_with_their_offset(zone, utc):
    row = parse_line(f'h - - [18/Aug/1995:12:30:00 {zone}] "GET / HTTP/1.0" 200 1')
    assert (row and row["time"].isoformat()) == utc
    assert row is None or row["utc_offset"] == zone


def test_dash_bytes_is_null():
    row = parse_line('h - - [01/Aug/1995:00:00:07 -0400] "GET / HTTP/1.0" 304 -')
    assert row["status"] == 304 and row["bytes"] is None


def test_request_without_protocol_is_a_request():
    row = parse_line('h - - [01/Aug/1995:00:00:07 -0400] "GET /" 200 7')
    assert (row["method"], row["path"], row["protocol"]) == ("GET", "/", None)


def test_quotes_inside_the_request_stay_in_the_path():
    row = parse_line('h - - [01/Aug/1995:00:00:07 -0400] "GET /a"b" c.html HTTP/1.0" 404 -')
    assert row["path"] == '/a"b" c.html' and row["protocol"] == "HTTP/1.0"
    assert row["status"] == 404


def test_lone_surrogates_in_a_str_do_not_crash():
    row = parse_line('h\ud800 - - [01/Aug/1995:00:00:07 -0400] "GET /\udcff" 200 1')
    assert row["host"] == "h?" and row["path"] == "/?"


def test_non_utf8_request_is_still_a_request():
    # Both kinds occur in the real August log; the server answered them.
    binary = b'128.159.144.83 - - [14/Aug/1995:15:51:37 -0400] "\x16\xb1\x02\x01..." 400 -'
    accent = (
        b"port9.trytel.com - - [31/Aug/1995:13:19:14 -0400] "
        b'"GET /facts\xe9faq12.html HTTP/1.0" 404 -'
    )
    assert parse_line(binary)["status"] == 400
    row = parse_line(accent)
    assert row["host"] == "port9.trytel.com" and row["path"] == "/facts\ufffdfaq12.html"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "miriwo",  # the real truncated last line of the slice
        'h - - [01/Aug/1995:00:00:07 -0400] "GET /index.html HTT',
        'h - - [01/Aug/1995:00:00:07 -0400] "GET /" 200',
        'h - - [32/Aug/1995:00:00:07 -0400] "GET /" 200 1',  # no such day
        'h - - [01/Aug/1995:00:00:07] "GET /" 200 1',  # no offset
        'h - - [01/Aug/1995:00:00:07 -0400] " 200 1',  # one quote serving as both
        "h - - [01/Aug/1995:00:00:07 -0400] GET / 200 1",  # no quotes
        'h - - [01/Aug/1995:00:00:07 -0400] "GET /" 200 ' + "9" * 19,  # no such byte count
        'h - - [01/Aug/1995:00:00:07 -0400] "GET /" 200 ' + "1" * 60,
    ],
)
def test_damaged_lines_are_rejected(text):
    assert parse_line(text) is None


def test_rejected_lines_are_returned_with_their_line_numbers():
    lines = pl.Series("line", [GOOD, "garbage", GOOD, ""])
    good, rejected = FORMATS["common"].parse_lines(lines, first_line_no=10)
    assert good["line_no"].to_list() == [10, 12]
    assert rejected.rows() == [(11, "garbage"), (13, "")]


def _shape_ok(line: bytes) -> bool:
    """An independent oracle: Python's re on the whole-line pattern, and strptime on the stamp."""
    text = line.decode("utf-8", "replace").rstrip("\r")
    if re.match(LINE_PATTERN, text) is None:
        return False
    stamp = re.match(r"^[^ ]+ [^ ]+ [^ ]+ \[([^\]]+)\]", text).group(1)
    try:
        datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_no_input_line_raises(data):
    line = data.replace(b"\n", b" ")
    assert (parse_line(line) is not None) == _shape_ok(line)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GOOD)), st.integers(0, len(GOOD)), st.binary(max_size=8))
def test_damaged_copies_of_a_good_line_parse_exactly_when_they_keep_the_shape(cut, end, junk):
    # Splice junk bytes into a real line: truncations, insertions and garbling near valid shape.
    raw = GOOD.encode()
    line = (raw[:cut] + junk + raw[max(cut, end) :]).replace(b"\n", b" ")
    assert (parse_line(line) is not None) == _shape_ok(line)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=" \n\r\x1f"),
        min_size=1,
        max_size=20,
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x1f"),
        max_size=60,
    ),
    st.integers(100, 599),
    st.one_of(st.integers(0, 10**18 - 1), st.none()),
)
def test_any_request_text_round_trips(host, request, status, size):
    line = (
        f'{host} - - [18/Aug/1995:12:30:00 -0400] "{request}" {status} '
        f"{'-' if size is None else size}"
    )
    row = parse_line(line)
    assert row is not None
    assert (row["host"], row["request"], row["status"], row["bytes"]) == (
        host,
        request,
        status,
        size,
    )


def test_blocks_end_on_line_boundaries_and_lose_nothing():
    import io

    data = b"".join(b"line %d\n" % i for i in range(1000)) + b"no newline at end"
    blocks = list(iter_blocks(io.BytesIO(data), block_bytes=97))
    assert b"".join(blocks) == data
    assert all(b.endswith(b"\n") for b in blocks[:-1])


def test_block_to_lines_keeps_empty_lines_and_odd_bytes():
    lines = block_to_lines(b"a\n\n\x1f\xff b\r\nlast")
    assert lines.to_list() == ["a", "", "\ufffd\ufffd b", "last"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b" ", b'"', b"\x1f", b"\xff", b"\xc3"]))
)
def test_block_to_lines_is_one_line_per_newline_whatever_the_bytes(pieces):
    # The reader is trusted to keep every line (empty ones too) with no runtime recount.
    block = b"".join(pieces)
    text = block.replace(b"\x1f", b"\xff").decode("utf-8", "replace").split("\n")
    if text[-1] == "":
        text.pop()
    assert block_to_lines(block).to_list() == [t.removesuffix("\r") for t in text]


MAGIC_NUMBERS = [  # compressed streams' first bytes, which a reader might take a block for
    b"\x1f\x8b\x08",  # gzip
    b"\x28\xb5\x2f\xfd",  # zstd
    b"BZh9",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"\x04\x22\x4d\x18",  # lz4
    b"PK\x03\x04",  # zip
]


def test_a_block_that_starts_like_a_compressed_stream_is_read_as_lines():
    # Found by the fast path's property test: a block starting `x^` (a zlib header) made the
    # CSV reader try to inflate it and fail. Any first byte before the second bytes of zlib's,
    # zstd's and gzip's headers, `x` and `(` before any byte, and the known magics:
    seconds = b"\x01\x5e\x9c\xda\xb5\x8b "
    leads = [bytes([a, b]) for a in range(256) for b in seconds]
    leads += [lead + bytes([b]) for lead in (b"x", b"(") for b in range(256)]
    for lead in leads + MAGIC_NUMBERS:
        if b"\n" in lead:
            continue
        block = lead + b' - - [01/Jan/1001:00:00:00 +0000] "" 000 -\nnext\n'
        lines = block_to_lines(block).to_list()
        assert len(lines) == 2 and lines[1] == "next", lead
        assert lines[0].startswith(lead.replace(b"\x1f", b"\xff").decode("utf-8", "replace"))


def test_gzip_and_plain_read_the_same(tmp_path):
    text = (GOOD + "\n") * 3 + "broken\n"
    plain = tmp_path / "log.txt"
    plain.write_text(text)
    packed = tmp_path / "log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        counts = [(n, g.height, r.height) for n, g, r in iter_parsed(path)]
        assert counts == [(4, 3, 1)]


def test_truncated_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress((GOOD + "\n").encode() * 5000)[:-40])
    with pytest.raises(LogReadError, match="truncated|damaged"):
        list(iter_parsed(path))


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    packed = bytearray(gzip.compress((GOOD + "\n").encode() * 5000))
    packed[200:260] = b"\xff" * 60  # damage inside the deflate stream
    path = tmp_path / "corrupt.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(LogReadError, match="damaged or truncated"):
        list(iter_parsed(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LogReadError, match="cannot open log"):
        open_log(tmp_path / "absent.log")


def test_real_slice_has_1880_requests_and_one_rejected_line(nasa_slice):
    frame = read_log(nasa_slice)
    assert len(frame) == 1880
    # Counted independently: first field of every line but the truncated last one. (The slice's
    # README says 176 distinct hosts; the file itself has 177.)
    complete = nasa_slice.read_bytes().splitlines()[:-1]
    assert frame["host"].nunique() == len({line.split(b" ")[0] for line in complete}) == 177
    # Status counts, likewise from the second-to-last field (the README's 200 x1710 does not add
    # up to 1,880; the file has 1,717).
    statuses = Counter(int(line.split(b" ")[-2]) for line in complete)
    assert frame["status"].value_counts().to_dict() == statuses
    rejected = [r for _, _, r in iter_parsed(nasa_slice)][0]
    assert rejected.rows() == [(1881, "miriwo")]


class _Endless:
    """A stream of ``size`` bytes of ``x`` with no newline, made as it is read."""

    def __init__(self, size: int):
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"x" * n


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 120), min_size=1, max_size=12),
    block=st.integers(8, 40),
    ends_with_newline=st.booleans(),
)
def test_a_line_longer_than_a_block_becomes_one_cut_line(lengths, block, ends_with_newline):
    lines = [bytes([97 + i % 26]) * length for i, length in enumerate(lengths)]
    data = b"\n".join(lines) + (b"\n" if ends_with_newline else b"")
    out = b"".join(iter_blocks(io.BytesIO(data), block, max_line=block)).split(b"\n")
    if ends_with_newline:
        assert out.pop() == b""
    assert len(out) == len(lines)  # every line counted once, long or not
    for got, line in zip(out, lines, strict=True):
        if len(line) < block:
            assert got == line
        elif len(line) >= 2 * block + 2:
            assert got == cut_line(len(line))
        else:
            assert got in (line, cut_line(len(line)))


def test_a_huge_file_without_a_newline_is_one_rejected_line_in_bounded_memory():
    tracemalloc.start()
    try:
        blocks = list(iter_blocks(_Endless(300 * 1024 * 1024), name="huge"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert blocks == [cut_line(300 * 1024 * 1024)]
    assert peak < 40 * 1024 * 1024  # a few blocks' worth, not the 300 MB line
    window = Window.parse("1995-08-01T00:00:00+00:00", "1995-09-01T00:00:00+00:00")
    common = FormatChoice.of(FORMATS["common"])
    summary = summarize_block(b"".join(blocks) + b"\n", window, common)
    assert (summary.lines, summary.requests, summary.rejected) == (1, 0, 1)
