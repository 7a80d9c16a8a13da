"""Logs are read whatever their compression, told by content: the same lines give the same summary
plain, gzip, bzip2, xz or zstd, in one stream or several, under any name; a damaged stream, an
archive, an executable, binary data or a directory is a one-line error that says which."""

import bz2
import gzip
import io
import lzma
import random
import re
import tarfile
import zipfile
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError
from lib.logs.counting.summary import LogSummary, PartitionMerger
from lib.logs.datasets.download import verify_access_log
from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines.local import summarize_log
from lib.logs.engines.pipeline import read_piece
from lib.logs.errors import DownloadError, LogReadError
from lib.logs.parsing.requests import iter_parsed
from lib.logs.reading._compression import HEAD_BYTES, sniff
from lib.logs.reading.blocks import iter_blocks, open_log
from lib.logs.reading.partitions import (
    Partition,
    balance,
    is_gzip,
    log_kind,
    open_partition,
    plan_partitions,
    text_bytes,
)
from lib.logs.reading.paths import resolve_paths
from lib.logs.window import Window

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
GOOD = b'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 1\n'


def _zstd(data: bytes) -> bytes:
    # As the zstd command writes it: the content size in the header and a checksum at the end.
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress, "zstd": _zstd}
KINDS = sorted(COMPRESS)


def _streams(kind: str, data: bytes, cuts: list[int]) -> bytes:
    """``data`` compressed as several streams (members, frames) one after another, as ``cat``
    makes them, cut at ``cuts`` (mid-line, as they fall)."""
    bounds = [0, *sorted(cuts), len(data)]
    return b"".join(COMPRESS[kind](data[a:b]) for a, b in pairwise(bounds))


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> bytes:
    """A synthetic log's text: 6,000 lines spanning the window, one in 500 cut short."""
    path = generate_log(tmp_path_factory.mktemp("plain") / "log", lines=6000, seed=11)
    lines = path.read_bytes().split(b"\n")
    for i in range(250, len(lines) - 1, 500):
        lines[i] = lines[i][: 10 + i % 50]
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def plain(text, tmp_path_factory) -> LogSummary:
    """The plain file's summary, which every compression must give."""
    path = tmp_path_factory.mktemp("plain_summary") / "log"
    path.write_bytes(text)
    summary = summarize_log(path, WINDOW, block_bytes=64 * 1024)
    assert summary.lines == 6000 and 0 < summary.rejected and summary.window_hosts.height > 0
    return summary


def _same(got: LogSummary, want: LogSummary) -> None:
    """Every count equal; rejected examples equal but for the file's name."""
    assert (got.lines, got.requests, got.rejected, got.bytes_sent) == (
        want.lines,
        want.requests,
        want.rejected,
        want.bytes_sent,
    )
    for name in ("hosts", "window_hosts", "hourly", "statuses", "utc_offsets"):
        assert getattr(got, name).equals(getattr(want, name)), name
    drop = [pl.col("line_no"), pl.col("line")]
    assert got.rejected_examples.select(drop).equals(want.rejected_examples.select(drop))


def _one_line_error(error: pytest.ExceptionInfo, path: Path, says: str) -> None:
    message = str(error.value)
    assert "\n" not in message and str(path) in message and says in message, message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cuts", [[], [1, 20_000, 200_001]], ids=["one stream", "four streams"])
def test_each_compression_gives_the_plain_file_s_summary(kind, cuts, text, plain, tmp_path):
    path = tmp_path / "log"
    path.write_bytes(_streams(kind, text, cuts))
    assert log_kind(path) == kind
    _same(summarize_log(path, WINDOW, block_bytes=64 * 1024), plain)
    with open_log(path) as stream:  # every byte of text, in whole lines
        assert b"".join(iter_blocks(stream, block_bytes=10_000)) == text


@pytest.mark.parametrize(
    ("name", "kind"),
    [("x.gz", "bzip2"), ("x.log", "zstd"), ("x.bz2", "xz"), ("x.zst", "gzip"), ("x.xz", None)],
)
def test_the_content_decides_not_the_name(name, kind, text, plain, tmp_path):
    path = tmp_path / name
    path.write_bytes(text if kind is None else COMPRESS[kind](text))
    assert log_kind(path) == (kind or "text") and is_gzip(path) == (kind == "gzip")
    _same(summarize_log(path, WINDOW), plain)


@pytest.mark.parametrize(
    ("kind", "between"),
    [
        ("xz", b"\x00" * 8),  # xz's stream padding
        ("zstd", b"\x50\x2a\x4d\x18\x04\x00\x00\x00skip"),  # a skippable frame (pzstd writes one)
    ],
)
def test_what_may_lie_between_streams_is_skipped(kind, between, tmp_path):
    path = tmp_path / "log"
    path.write_bytes(COMPRESS[kind](GOOD) + between + COMPRESS[kind](GOOD * 2) + between)
    assert [lines for lines, _, _ in iter_parsed(path)] == [3]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("keep", [0.5, -1, 14], ids=["half", "all but a byte", "the header"])
def test_a_truncated_stream_is_a_one_line_error_naming_the_file(kind, keep, text, tmp_path):
    packed = COMPRESS[kind](text)
    path = tmp_path / f"cut.{kind}"
    keep = int(len(packed) * keep) if isinstance(keep, float) else keep
    path.write_bytes(packed[:keep])
    with pytest.raises(LogReadError) as error:
        summarize_log(path, WINDOW)
    _one_line_error(error, path, "is damaged or truncated")


@pytest.mark.parametrize("kind", KINDS)
def test_damage_inside_a_stream_is_a_one_line_error(kind, text, tmp_path):
    packed = bytearray(COMPRESS[kind](text))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(range(64))
    path = tmp_path / f"bad.{kind}"
    path.write_bytes(bytes(packed))
    with pytest.raises(LogReadError) as error:
        summarize_log(path, WINDOW)
    _one_line_error(error, path, "is damaged or truncated")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("after", [b"garbage!", b"BZh0" + b"x" * 40, b"\x00junk"])
def test_anything_but_another_stream_after_a_stream_is_an_error_not_the_end(kind, after, tmp_path):
    # The standard library's bz2 and lzma readers stop there: a damaged second stream would
    # give a silently short answer.
    path = tmp_path / "log"
    path.write_bytes(COMPRESS[kind](GOOD) + after + COMPRESS[kind](GOOD))
    with pytest.raises(LogReadError) as error:
        list(iter_parsed(path))
    _one_line_error(error, path, "is damaged or truncated")


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("access.log", GOOD * 10)


def _tar(path: Path, mode: str = "w") -> None:
    with tarfile.open(path, mode) as archive:
        info = tarfile.TarInfo("access.log")
        info.size = len(GOOD) * 10
        archive.addfile(info, io.BytesIO(GOOD * 10))


ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 40
NOT_LOGS = {
    "a.zip": (_zip, "is a zip archive, not a log: unpack it first"),
    "a.tar": (_tar, "is a tar archive, not a log: unpack it first"),
    "a.tar.gz": (
        lambda p: _tar(p, "w:gz"),
        ", once gzip-decompressed, is a tar archive, not a log: unpack it first",
    ),
    "a.tar.bz2": (
        lambda p: _tar(p, "w:bz2"),
        ", once bzip2-decompressed, is a tar archive, not a log: unpack it first",
    ),
    "a.7z": (lambda p: p.write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24)), "7-Zip archive"),
    "a.rar": (lambda p: p.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(24)), "is a RAR archive"),
    "a.lz4": (
        lambda p: p.write_bytes(b"\x04\x22\x4d\x18\x64\x40\xa7" + GOOD),
        "is lz4-compressed (not supported): decompress it, or recompress it with gzip, bzip2, "
        "xz or zstd",
    ),
    "a.log.Z": (lambda p: p.write_bytes(b"\x1f\x9d\x90" + GOOD), "is compress (.Z) data"),
    "ls": (lambda p: p.write_bytes(ELF + GOOD * 50), "is an ELF executable, not a log"),
    "ls.gz": (
        lambda p: p.write_bytes(gzip.compress(ELF)),
        ", once gzip-decompressed, is an ELF executable, not a log",
    ),
    "x.bin": (
        lambda p: p.write_bytes(random.Random(5).randbytes(5000) + b"\x00"),
        "holds binary data, not a text log (a NUL byte in its first 8 KiB)",
    ),
    "x.gz.gz": (
        lambda p: p.write_bytes(gzip.compress(gzip.compress(GOOD))),
        ", once gzip-decompressed, is gzip-compressed again: decompress it first",
    ),
}


@pytest.mark.parametrize("name", sorted(NOT_LOGS))
def test_what_is_not_a_log_is_one_line_saying_what_it_is(name, tmp_path):
    make, says = NOT_LOGS[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(LogReadError) as error:
        summarize_log(path, WINDOW)
    assert str(error.value).startswith(f"{path}{'' if says.startswith(',') else ' '}")
    _one_line_error(error, path, says)
    if not says.startswith(", once"):  # told by the first bytes: refused when planning
        with pytest.raises(LogReadError, match=re.escape(says)):
            plan_partitions([path])


def test_a_directory_is_told_to_name_its_files(tmp_path):
    (tmp_path / "logs").mkdir()
    with pytest.raises(ConfigError) as error:
        resolve_paths("logs/", base=tmp_path)
    assert str(error.value) == "logs/ is a directory: name its files, e.g. 'logs/*.log'"
    for attempt in (open_log, log_kind, lambda p: plan_partitions([p])):
        with pytest.raises(LogReadError, match=r"logs is a directory: name its files"):
            attempt(tmp_path / "logs")


@pytest.mark.parametrize("kind", [None, *KINDS])
def test_an_empty_file_is_an_empty_log(kind, tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"" if kind is None else COMPRESS[kind](b""))
    summary = summarize_log(path, WINDOW)
    assert (summary.lines, summary.requests, summary.rejected) == (0, 0, 0)
    (part,) = plan_partitions([path])
    assert part.whole and part.packed == (kind is not None)


def test_a_nul_byte_past_the_head_is_a_damaged_line_not_binary_data(tmp_path):
    lines = GOOD * (HEAD_BYTES // len(GOOD) + 1)
    path = tmp_path / "log"
    path.write_bytes(lines + b"h - - \x00 junk\n" + GOOD)
    summary = summarize_log(path, WINDOW)
    assert (summary.lines, summary.rejected) == (len(lines) // len(GOOD) + 2, 1)
    path.write_bytes(GOOD + b"\x00\n" + lines)
    with pytest.raises(LogReadError, match="holds binary data"):
        summarize_log(path, WINDOW)


def test_sniff_needs_the_whole_signature():
    assert sniff(b"BZh9 is a host name? " + GOOD) == "text"  # no bzip2 block after BZh9
    assert sniff(b"PK and more") == "text" and sniff(b"") == "text"
    assert sniff(b"\x1f\x8b") == "gzip" and sniff(b"BZh91AY&SY") == "bzip2"


@pytest.mark.parametrize("kind", ["bzip2", "xz"])
def test_bzip2_and_xz_files_are_whole_partitions_balance_leaves_alone(kind, text, plain, tmp_path):
    path = tmp_path / "log"
    path.write_bytes(COMPRESS[kind](text))
    (part,) = plan_partitions([path], partition_bytes=1000)
    assert part == Partition(str(path)) and part.packed and not part.cuttable
    assert part.weight > len(text)  # they cost more per byte of text than gzip
    assert balance([part], 8, min_bytes=1000) == [part]
    merger = PartitionMerger()
    merger.add(part, read_piece(part, WINDOW))
    _same(merger.result(), plain)


def test_a_zstd_file_is_cut_like_a_gzip_file_with_the_same_answers(text, plain, tmp_path):
    path = tmp_path / "log.zst"
    path.write_bytes(_streams("zstd", text, [300_000]))  # two frames: the cuts cross them
    (planned,) = plan_partitions([path])
    assert planned.packed and planned.cuttable and planned.weight == 300_000  # the first frame's
    assert len(balance([planned], 2, min_bytes=50_000)) == 2
    whole = Partition(str(path), weight=len(text), packed=True)
    parts = balance([whole], 3, min_bytes=50_000)
    assert len(parts) >= 3 and parts[-1].end is None
    merger = PartitionMerger()
    for part in reversed(parts):
        merger.add(part, read_piece(part, WINDOW))
    _same(merger.result(), plain)


def test_text_sizes_come_from_the_file_or_a_ratio(text, tmp_path):
    path = tmp_path / "log"
    for kind, exact in (("xz", True), ("zstd", True), ("bzip2", False)):
        path.write_bytes(COMPRESS[kind](text))
        assert (text_bytes(path, kind) == len(text)) == exact, kind
    path.write_bytes(COMPRESS["xz"](text[:1000]) + COMPRESS["xz"](text[1000:]))
    assert text_bytes(path, "xz") == len(text) - 1000  # the last stream's index, as gzip's
    streamed = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(streamed, closefd=False) as writer:
        writer.write(text)  # streamed: the header does not state the size
    path.write_bytes(streamed.getvalue())
    assert text_bytes(path, "zstd") == 5 * path.stat().st_size
    path.write_bytes(text)
    assert text_bytes(path, "text") == len(text)


@pytest.mark.parametrize("kind", ["bzip2", "zstd"])
def test_a_download_may_come_compressed_any_way(kind, tmp_path):
    path = tmp_path / "download.part"
    path.write_bytes(COMPRESS[kind](GOOD * 100))
    verify_access_log(path)
    path.write_bytes(COMPRESS[kind](GOOD * 100)[:-5])
    with pytest.raises(DownloadError, match="truncated or damaged"):
        verify_access_log(path)


def _lines(data: bytes) -> bytes:
    return data.replace(b"\n", b"").replace(b"\x1f", b"?").replace(b"\x00", b"?")


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["bzip2", "xz", "zstd"]),
    lines=st.lists(st.binary(max_size=40).map(_lines), max_size=40),
    trailing_newline=st.booleans(),
    cuts=st.lists(st.integers(0, 1500), max_size=3),
    block_bytes=st.integers(1, 300),
)
def test_any_lines_round_trip_through_several_streams(
    tmp_path_factory, kind, lines, trailing_newline, cuts, block_bytes
):
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path_factory.mktemp("round_trip") / "log"
    path.write_bytes(_streams(kind, data, [min(c, len(data)) for c in cuts]))
    with open_log(path) as stream:
        blocks = list(iter_blocks(stream, block_bytes))
    assert b"".join(blocks) == data
    assert all(block.endswith(b"\n") for block in blocks[:-1])


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(_lines), max_size=30),
    cuts=st.lists(st.integers(1, 1000), max_size=6, unique=True),
    step=st.integers(1, 50),
    frame=st.integers(0, 1000),
)
def test_ranges_of_a_zstd_file_s_text_hold_every_line_once(
    tmp_path_factory, lines, cuts, step, frame
):
    data = b"\n".join(lines)
    path = tmp_path_factory.mktemp("zstd_ranges") / "log.zst"
    path.write_bytes(_streams("zstd", data, [min(frame, len(data))]))
    bounds = [0, *sorted(cuts)]
    parts = [
        Partition(str(path), a, b, packed=True)
        for a, b in zip(bounds, [*bounds[1:], None], strict=True)
    ]
    pieces = []
    for part in parts:
        read = []
        with open_partition(part) as stream:
            while piece := stream.read(step):
                read.append(piece)
        pieces.append(b"".join(read))
    assert b"".join(pieces) == data
    offset = 0
    for piece in pieces:
        assert offset == 0 or data[offset - 1 : offset] == b"\n" or not piece
        offset += len(piece)
