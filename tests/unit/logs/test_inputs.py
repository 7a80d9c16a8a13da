"""log_path as files, globs and lists; files cut into ranges that lose no line: plain files by
their bytes, gzip files by their text, as balance plans it."""

import gzip

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError
from lib.logs.counting.summary import PartitionMerger
from lib.logs.engines.local import summarize_log
from lib.logs.engines.pipeline import read_piece
from lib.logs.errors import LogReadError
from lib.logs.reading.partitions import (
    INFLATE_SHARE,
    Partition,
    balance,
    finish_time,
    is_gzip,
    open_partition,
    plan_partitions,
)
from lib.logs.reading.paths import resolve_paths
from lib.logs.window import Window

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")


def line(host: str, day: int, second: int = 0) -> str:
    return f'{host} - - [{day:02d}/Aug/1995:10:00:{second:02d} -0400] "GET /x HTTP/1.0" 200 {day}'


def test_a_file_a_glob_and_a_list_resolve_to_sorted_distinct_files(tmp_path):
    for name in ("b.log", "a.log.gz", "c.txt", "a.log.gz.synthetic.json"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.log").write_bytes(b"")
    a, b, c, d = (tmp_path / n for n in ("a.log.gz", "b.log", "c.txt", "sub/d.log"))
    assert resolve_paths(tmp_path / "b.log") == [b]
    assert resolve_paths(str(tmp_path / "*.log*")) == [a, b]  # a marker file is not a log
    assert resolve_paths([str(tmp_path / "**" / "*.log"), b, str(a)]) == [a, b, d]
    assert resolve_paths(["c.txt", "b.log"], base=tmp_path) == [b, c]  # relative to base


def test_names_that_find_nothing_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found: nope.log"):
        resolve_paths("nope.log", base=tmp_path)
    with pytest.raises(ConfigError, match="matches no file"):
        resolve_paths(str(tmp_path / "*.gz"))
    with pytest.raises(ConfigError, match="empty list"):
        resolve_paths([])
    with pytest.raises(ConfigError, match=r"is a directory: name its files, e\.g\. '.*/\*\.log'"):
        resolve_paths(tmp_path)  # a directory is not a log


def test_gzip_files_are_whole_partitions_and_plain_files_are_cut(tmp_path):
    plain = tmp_path / "p.log"
    plain.write_bytes(b"x" * 250)
    packed = tmp_path / "p.txt"  # gzip by content, not by name
    packed.write_bytes(gzip.compress(b"y\n" * 500))
    assert is_gzip(packed) and not is_gzip(plain)
    parts = plan_partitions([plain, packed], partition_bytes=100)
    assert parts == [
        Partition(str(plain), 0, 100),
        Partition(str(plain), 100, 200),
        Partition(str(plain), 200, 250),
        Partition(str(packed)),
    ]
    assert parts[-1].packed and parts[-1].weight == 1000  # the text's size, from the trailer
    assert not any(p.packed for p in parts[:-1])
    assert plan_partitions([plain], partition_bytes=250) == [Partition(str(plain))]
    with pytest.raises(ConfigError, match="positive"):
        plan_partitions([plain], partition_bytes=0)
    with pytest.raises(LogReadError, match="cannot open"):
        open_partition(Partition(str(tmp_path / "gone.log"), 0, 10))


def _read(part: Partition, step: int) -> bytes:
    pieces = []
    with open_partition(part) as stream:
        while piece := stream.read(step):
            pieces.append(piece)
    return b"".join(pieces)


def _no_newline_or_magic(data: bytes) -> bytes:
    # \x1f\x8b would be gzip; a NUL byte near the start, binary data (not a log)
    return data.replace(b"\n", b"").replace(b"\x1f", b"?").replace(b"\x00", b"?")


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(_no_newline_or_magic), max_size=30),
    trailing_newline=st.booleans(),
    partition_bytes=st.integers(1, 120),
    step=st.integers(1, 50),
)
def test_byte_ranges_hold_every_line_once(
    tmp_path_factory, lines, trailing_newline, partition_bytes, step
):
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path_factory.mktemp("ranges") / "log"
    path.write_bytes(data)
    pieces = [_read(p, step) for p in plan_partitions([path], partition_bytes)]
    assert b"".join(pieces) == data
    # Each piece is whole lines: it starts at a line start and ends with a newline (but the last).
    offset = 0
    for piece in pieces:
        assert offset == 0 or data[offset - 1 : offset] == b"\n" or not piece
        offset += len(piece)
        if piece and offset < len(data):
            assert piece.endswith(b"\n")


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(_no_newline_or_magic), max_size=30),
    trailing_newline=st.booleans(),
    cuts=st.lists(st.integers(1, 1000), max_size=6, unique=True),
    step=st.integers(1, 50),
    member=st.integers(0, 1000),
)
def test_ranges_of_a_gzip_file_s_text_hold_every_line_once(
    tmp_path_factory, lines, trailing_newline, cuts, step, member
):
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path_factory.mktemp("gzip_ranges") / "log.gz"
    # Two gzip members, as `cat a.gz b.gz` makes: the text runs on across them.
    path.write_bytes(gzip.compress(data[:member]) + gzip.compress(data[member:]))
    bounds = [0, *sorted(cuts)]  # some may lie past the end of the text: those ranges are empty
    parts = [
        Partition(str(path), a, b, packed=True)
        for a, b in zip(bounds, [*bounds[1:], None], strict=True)
    ]
    pieces = [_read(p, step) for p in parts]
    assert b"".join(pieces) == data
    offset = 0
    for piece in pieces:
        assert offset == 0 or data[offset - 1 : offset] == b"\n" or not piece
        offset += len(piece)


def test_damage_in_a_gzip_range_or_before_it_is_an_error_naming_the_range(tmp_path):
    path = tmp_path / "cut.log.gz"
    path.write_bytes(gzip.compress(b"".join(b"line %d\n" % i for i in range(50_000)))[:-2000])
    for start in (10, 10_000_000):  # the damage is read, or inflated on the way to the start
        part = Partition(str(path), start, None, packed=True)
        with pytest.raises(LogReadError, match=rf"cut\.log\.gz\[{start}:\] is damaged"):
            read_piece(part, WINDOW)


def _gz(name: str, weight: int) -> Partition:
    return Partition(name, weight=weight, packed=True)


def _covers(pieces: list[Partition], whole: Partition) -> bool:
    """The pieces are contiguous ranges of ``whole``, from 0 to its end."""
    bounds = [(p.start, p.end) for p in pieces]
    return (
        all(p.path == whole.path and p.packed for p in pieces)
        and bounds[0][0] == 0
        and bounds[-1][1] is None
        and all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    )


def test_balance_leaves_the_work_alone_when_no_gzip_file_is_more_than_a_share():
    parts = [_gz("a.gz", 100), _gz("b.gz", 90), Partition("c.log", 0, 200, weight=200)]
    assert balance(parts, 1) == parts
    assert balance(parts, 2, min_bytes=10) == parts  # c is the biggest, and a plain range
    assert balance([_gz("a.gz", 100), _gz("b.gz", 100)], 2, min_bytes=10) == [
        _gz("a.gz", 100),
        _gz("b.gz", 100),
    ]


def test_one_gzip_file_on_two_workers_is_cut_in_two_about_equal_pieces():
    whole = _gz("month.gz", 1_000_000)
    pieces = balance([whole], 2, min_bytes=10_000)
    assert len(pieces) == 2 and _covers(pieces, whole)
    cut = pieces[1].start
    # The second piece inflates what the first parses: weights say so.
    assert pieces[0].weight == cut
    assert pieces[1].weight == round(INFLATE_SHARE * cut) + 1_000_000 - cut
    assert abs(pieces[0].weight - pieces[1].weight) < 0.02 * whole.weight
    assert finish_time(pieces, 2) < 0.6 * finish_time([whole], 2)


def test_the_bigger_of_two_months_gives_the_smaller_one_s_worker_a_head_piece():
    july, august = _gz("jul.gz", 208_000_000), _gz("aug.gz", 174_000_000)
    plan = balance([july, august], 2, min_bytes=16_000_000)
    head, tail = (p for p in plan if p.path == "jul.gz")
    assert _covers([head, tail], july) and august in plan and len(plan) == 3
    assert finish_time(plan, 2) < finish_time([july, august], 2)


def test_many_workers_cut_a_file_into_pieces_no_shorter_than_the_least_but_the_first():
    whole = _gz("big.gz", 1_000_000)
    for workers in (3, 8, 64):
        pieces = balance([whole], workers, min_bytes=50_000)
        assert _covers(pieces, whole)
        lengths = [(p.end or 1_000_000) - p.start for p in pieces]
        assert all(n >= 50_000 for n in lengths[1:]) and len(pieces) <= 1_000_000 // 50_000 + 1
        assert finish_time(pieces, workers) < finish_time([whole], workers)
        # The later, the shorter: each piece inflates more of the file before it.
        assert lengths[1:] == sorted(lengths[1:], reverse=True)


def test_byte_ranges_give_the_whole_file_summary_with_damage_on_the_edges(tmp_path):
    lines = [line(f"h{i % 11}", 17 + i % 5, i % 60) for i in range(400)]
    for i in range(3, 400, 17):  # damaged lines all over, so range edges fall inside some
        lines[i] = lines[i][: 10 + i % 40] if i % 2 else f'\xff junk {i} "quoted'
    path = tmp_path / "edges.log"
    path.write_bytes("\n".join(lines).encode("latin-1"))  # no final newline either
    whole = summarize_log(path, WINDOW)
    assert whole.rejected == 24
    for partition_bytes in (211, 997, 5000):
        merger = PartitionMerger()
        parts = plan_partitions([path], partition_bytes)
        for part in reversed(parts):  # arrival order must not matter
            merger.add(part, read_piece(part, WINDOW))
        cut = merger.result()
        assert (cut.lines, cut.requests, cut.rejected) == (400, whole.requests, 24)
        assert cut.rejected_examples.equals(whole.rejected_examples), partition_bytes
        for name in ("hosts", "window_hosts", "hourly", "statuses", "utc_offsets"):
            assert getattr(cut, name).equals(getattr(whole, name)), (name, partition_bytes)
        assert cut.bytes_sent == whole.bytes_sent
    # The same lines gzip-compressed, cut into ranges of their text.
    packed = tmp_path / "edges.log.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    for workers, shortest in ((2, 1), (3, 900), (7, 1500)):
        merger = PartitionMerger()
        parts = balance(plan_partitions([packed]), workers, min_bytes=shortest)
        assert len(parts) >= 2
        for part in reversed(parts):
            merger.add(part, read_piece(part, WINDOW))
        cut = merger.result()
        assert (cut.lines, cut.requests, cut.rejected) == (400, whole.requests, 24)
        examples = cut.rejected_examples.with_columns(file=pl.lit(str(path)))
        assert examples.equals(whole.rejected_examples), workers
        for name in ("hosts", "window_hosts", "hourly", "statuses", "utc_offsets"):
            assert getattr(cut, name).equals(getattr(whole, name)), (name, workers)


def test_a_partition_added_twice_is_refused(tmp_path):
    path = tmp_path / "a.log"
    path.write_text(line("h", 18) + "\n")
    merger = PartitionMerger()
    part = Partition(str(path))
    merger.add(part, read_piece(part, WINDOW))
    with pytest.raises(ValueError, match="twice"):
        merger.add(part, read_piece(part, WINDOW))
