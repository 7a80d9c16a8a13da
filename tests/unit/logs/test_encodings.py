"""Logs written in UTF-16 (and UTF-32) are read as their UTF-8 text is
(lib.logs.reading._transcoding): with a byte-order mark or, for UTF-16, without one, plain,
compressed or piped, the same answers; binary data with NUL bytes is still refused, and a UTF-8
log (with its byte-order mark or not) is read as before."""

from __future__ import annotations

import gzip
import io
import lzma
import tracemalloc

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines import open_engine
from lib.logs.engines.local import summarize_log
from lib.logs.engines.plan import make_plan, sample_lines
from lib.logs.errors import LogReadError
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.q1 import answers, run_q1
from lib.logs.reading._compression import sniff
from lib.logs.reading._transcoding import STEP_BYTES, encoding_of, open_transcoded
from lib.logs.reading.blocks import open_log
from lib.logs.reading.partitions import Partition, log_kind, open_partition, plan_partitions
from lib.logs.window import Window
from tests.support.summaries import assert_same, unnamed

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
BLOCK = 64 * 1024
COMBINED = FormatChoice.of(FORMATS["combined"])
# How each writes its log: Python's "utf-16" is the machine's order (LE here) with a mark.
ENCODE = {
    "utf-16": lambda text: text.encode("utf-16"),
    "utf-16-le bom": lambda text: b"\xff\xfe" + text.encode("utf-16-le"),
    "utf-16-be bom": lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    "utf-16-le": lambda text: text.encode("utf-16-le"),  # no mark: told by its NUL bytes
    "utf-16-be": lambda text: text.encode("utf-16-be"),
    "utf-32": lambda text: text.encode("utf-32"),
    "utf-32-be bom": lambda text: b"\x00\x00\xfe\xff" + text.encode("utf-32-be"),
}
KIND = {
    "utf-16": "utf-16-le",
    "utf-16-le bom": "utf-16-le",
    "utf-16-be bom": "utf-16-be",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "utf-32": "utf-32-le",
    "utf-32-be bom": "utf-32-be",
}


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> str:
    """A Combined synthetic log, one line in 700 cut short, one user agent made non-ASCII."""
    path = generate_log(tmp_path_factory.mktemp("utf8") / "c.log", lines=5000, seed=8,
                        log_format="combined")  # fmt: skip
    lines = path.read_text().split("\n")
    for at in range(350, len(lines) - 1, 700):
        lines[at] = lines[at][:40]
    lines[10] = lines[10][:-1] + ' Ünïcødé 日本"'
    return "\n".join(lines)


@pytest.fixture(scope="module")
def utf8(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("utf8_answers") / "access.log"
    path.write_text(text, encoding="utf-8")
    return path


def without_input(data: dict) -> dict:
    data = {key: value for key, value in data.items() if key not in ("input", "engine")}
    data["rejected_examples"] = [{**row, "file": None} for row in data["rejected_examples"]]
    return data


@pytest.fixture(scope="module")
def want(utf8) -> dict:
    return without_input(answers(run_q1(utf8, use_dns=False, workers=2)))


@pytest.mark.parametrize("packed", [None, "gzip"])
@pytest.mark.parametrize("encoding", sorted(ENCODE))
def test_a_utf16_log_gives_its_utf8_answers(encoding, packed, text, want, tmp_path):
    data = ENCODE[encoding](text)
    path = tmp_path / "access.log"
    path.write_bytes(gzip.compress(data) if packed else data)
    assert log_kind(path) == (packed or KIND[encoding])
    got = answers(run_q1(path, use_dns=False, workers=2))  # its format detected, too
    assert got["input"]["formats"] == {str(path): "combined"}
    assert without_input(got) == want


def test_the_summaries_are_the_utf8_file_s_block_by_block(text, utf8, tmp_path):
    path = tmp_path / "access.log.xz"
    path.write_bytes(lzma.compress(text.encode("utf-16-be")))  # no mark, inside an xz stream
    got = summarize_log(path, WINDOW, BLOCK, 2, COMBINED)
    want = summarize_log(utf8, WINDOW, BLOCK, 2, COMBINED)
    assert_same(unnamed(got), unnamed(want))  # the same blocks, so the same line numbers
    assert got.user_agents.filter(pl.col("user_agent").str.contains("Ünïcødé 日本")).height == 1
    assert sample_lines(path) == sample_lines(utf8)


def test_a_utf16_file_is_one_partition_and_its_gzip_text_ranges_lose_no_line(text, tmp_path):
    plain = tmp_path / "a.log"
    plain.write_bytes(text.encode("utf-16"))
    (part,) = plan_partitions([plain], partition_bytes=1000)  # its bytes are not its text's
    assert part.whole and part.packed and not part.cuttable
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-16")))
    bounds = [0, 70_000, 200_000, 10**9]  # offsets into its UTF-8 text; the last past its end
    pieces = []
    for start, end in zip(bounds, [*bounds[1:], None], strict=True):
        with open_partition(Partition(str(packed), start, end, packed=True)) as stream:
            pieces.append(stream.read())
    assert b"".join(pieces) == text.encode("utf-8")
    assert all(p.endswith(b"\n") for p in pieces[:2])


def test_utf16_through_a_pipe_is_read_too(text, utf8):
    stdin = io.BytesIO(gzip.compress(text.encode("utf-16")))
    plan = make_plan("-", "local", workers=2, stdin=stdin)
    assert plan.choice_for("<stdin>").primary.name == "combined"
    got = open_engine(plan, WINDOW, BLOCK).run()[0]
    want = summarize_log(utf8, WINDOW, BLOCK, 2, COMBINED)
    assert (got.lines, got.requests, got.rejected) == (want.lines, want.requests, want.rejected)
    assert got.user_agents.sort("user_agent").equals(want.user_agents.sort("user_agent"))


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    encoding=st.sampled_from(["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]),
    bom=st.booleans(),
    step=st.integers(1, 100),
)
def test_any_text_transcodes_to_its_utf8_whatever_the_reads(text, encoding, bom, step):
    mark = "\ufeff".encode(encoding) if bom else b""
    stream = open_transcoded(io.BufferedReader(io.BytesIO(mark + text.encode(encoding))), encoding)
    pieces = []
    while piece := stream.read(step):
        pieces.append(piece)
    assert b"".join(pieces) == (text[1:] if not bom and text[:1] == "\ufeff" else text).encode()
    assert stream.tell() == sum(map(len, pieces))


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"h\x00i\x00\n\x00!", "hi\n\ufffd"),  # cut in the middle of a character
        ("h\ud800i".encode("utf-16-le", "surrogatepass"), "h\ufffdi"),  # a lone surrogate
    ],
)
def test_what_does_not_decode_is_u_fffd(data, text):
    stream = open_transcoded(io.BufferedReader(io.BytesIO(data)), "utf-16-le")
    assert stream.read() == text.encode()


def test_a_long_log_is_transcoded_in_bounded_memory(tmp_path):
    line = 'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 1\n'
    path = tmp_path / "big.log"
    path.write_bytes(("\ufeff" + line * (32 * STEP_BYTES // len(line))).encode("utf-16-le"))
    tracemalloc.start()
    try:
        read = 0
        with open_log(path) as stream:
            while piece := stream.read(64 * 1024):
                read += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == path.stat().st_size // 2 - 1  # ASCII: a byte a character, the mark dropped
    assert peak < 8 * STEP_BYTES, peak  # a 16 MiB file, read a step at a time


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xef\xbb\xbfh - - [18/Aug", "text"),  # UTF-8 with its mark: read as before
        (b"h - - [18/Aug", "text"),
        ("h - - [18/Aug\n".encode("utf-16-le"), "utf-16-le"),
        ("h - - [18/Aug\n".encode("utf-16-be"), "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),  # a mark and nothing more: an empty log
        (b"\x00\x01\x02\x03" * 100, "binary"),  # NUL bytes that are no text
        (bytes(50), "binary"),
        (b"h\x00\x01\x00x\x00", "binary"),  # a control character: not text
        # without a mark and without a NUL byte (no ASCII at all) it is not told: read as
        # UTF-8, its lines are rejected, and the run fails saying so
        ("日本語のログ".encode("utf-16-le"), "text"),
    ],
)
def test_sniff_tells_utf16_text_from_binary_data(head, kind):
    assert sniff(head) == kind
    assert (encoding_of(head) or "text") == (kind if kind.startswith("utf") else "text")


def test_binary_data_is_still_refused(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00\x01\x02\x03" * 1000)
    with pytest.raises(LogReadError, match="holds binary data, not a text log"):
        summarize_log(path, WINDOW)
