"""log_path as files, globs and lists; plain files cut into byte ranges that lose no line."""

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError, LogReadError
from lib.log_inputs import (
    Partition,
    is_gzip,
    open_partition,
    plan_partitions,
    resolve_paths,
)
from lib.log_summary import PartitionMerger, Window, summarize_log, summarize_partition

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
    with pytest.raises(ConfigError, match="not found"):
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
    assert plan_partitions([plain], partition_bytes=250) == [Partition(str(plain))]
    with pytest.raises(ConfigError, match="positive"):
        plan_partitions([plain], partition_bytes=0)
    with pytest.raises(ConfigError, match="middle"):
        open_partition(Partition(str(packed), 0, 10))
    with pytest.raises(LogReadError, match="cannot open"):
        open_partition(Partition(str(tmp_path / "gone.log"), 0, 10))


def _read(part: Partition, step: int) -> bytes:
    pieces = []
    with open_partition(part) as stream:
        while piece := stream.read(step):
            pieces.append(piece)
    return b"".join(pieces)


def _no_newline_or_magic(data: bytes) -> bytes:
    return data.replace(b"\n", b"").replace(b"\x1f", b"?")  # \x1f\x8b would be gzip


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
            merger.add(part, summarize_partition(part, WINDOW))
        cut = merger.result()
        assert (cut.lines, cut.requests, cut.rejected) == (400, whole.requests, 24)
        assert cut.rejected_examples.equals(whole.rejected_examples), partition_bytes
        for name in ("hosts", "window_hosts", "hourly", "statuses", "utc_offsets"):
            assert getattr(cut, name).equals(getattr(whole, name)), (name, partition_bytes)
        assert cut.bytes_sent == whole.bytes_sent


def test_a_partition_added_twice_is_refused(tmp_path):
    path = tmp_path / "a.log"
    path.write_text(line("h", 18) + "\n")
    merger = PartitionMerger()
    part = Partition(str(path))
    merger.add(part, summarize_partition(part, WINDOW))
    with pytest.raises(ValueError, match="twice"):
        merger.add(part, summarize_partition(part, WINDOW))
