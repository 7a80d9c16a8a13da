"""Logs read from streams (lib.logs.reading.streams): standard input (``-``), named pipes,
process substitutions. Detection samples the same bytes the engine then reads, once, in bounded
memory, any compression told by content; the answers are the file's; what cannot work (``-``
twice, one pipe under two names, a stream for the dask engine) is one line saying so."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import os
import threading
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.errors import ConfigError
from lib.logs.counting.summary import LogSummary
from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines import open_engine
from lib.logs.engines.local import summarize_log
from lib.logs.engines.plan import make_plan
from lib.logs.errors import LogReadError
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.reading.blocks import iter_blocks
from lib.logs.reading.partitions import Partition, open_partition
from lib.logs.reading.paths import resolve_paths
from lib.logs.reading.streams import STDIN, StreamInput, check_distinct, is_stream
from lib.logs.window import Window
from tests.support.log_corpus import compress
from tests.support.logs_command import run_logs
from tests.support.summaries import assert_same, unnamed

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
BLOCK = 64 * 1024  # many blocks from a small log


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    """A Combined synthetic log of 6,000 lines, with a few damaged ones."""
    path = generate_log(tmp_path_factory.mktemp("streams") / "c.log", lines=6000, seed=5,
                        log_format="combined")  # fmt: skip
    lines = path.read_bytes().split(b"\n")
    for at in range(100, len(lines) - 1, 1000):
        lines[at] = lines[at][:30]
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.fixture(scope="module")
def want(log) -> LogSummary:
    return summarize_log(log, WINDOW, BLOCK, 2, FormatChoice.of(FORMATS["combined"]))


def assert_same_counts(got: LogSummary, want: LogSummary) -> None:
    assert_same(unnamed(got), unnamed(want))


def run(plan) -> LogSummary:
    return open_engine(plan, WINDOW, BLOCK).start().run()[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    geo = tmp_path_factory.mktemp("geo")
    return {"GEO_CACHE": str(geo)}


def answers_of(out: Path) -> dict:
    """results.json without what names the input or times the run."""
    data = json.loads((out / "results.json").read_text())
    del data["input"], data["engine"]
    for example in data["rejected_examples"]:
        del example["file"]
    return data


# --- the command line: standard input -----------------------------------------------------


@pytest.mark.parametrize("kind", ["plain", "gzip", "zstd"])
def test_standard_input_gives_the_file_s_answers(kind, log, env, tmp_path):
    # the window given: a synthetic file's label would choose the NASA question's, a stream
    # carries none
    window = ("--window-start", "1995-08-18T00:00:00-04:00", "--window-end", "1995-08-21")
    by_file = run_logs(
        str(log), "--no-dns", "--output-dir", "file", *window, stdin=b"", env=env, cwd=tmp_path
    )
    assert by_file.returncode == 0, by_file.stderr
    data = compress(log.read_bytes(), kind)
    piped = run_logs("-", "--no-dns", "--output-dir", "pipe", *window, stdin=data, env=env,
                     cwd=tmp_path)  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert answers_of(tmp_path / "pipe") == answers_of(tmp_path / "file")
    given = json.loads((tmp_path / "pipe" / "results.json").read_text())["input"]
    assert given["path"] == "-" and given["files"] == [STDIN] == list(given["formats"])
    assert not given["synthetic"]  # a stream carries no label
    assert piped.stdout.decode().startswith("Q1 on -\n1. HTTP requests: 5,994 (6 of 6,000")


def test_a_file_and_standard_input_are_read_together(log, env, tmp_path):
    lines = log.read_bytes().splitlines(keepends=True)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(b"".join(lines[:2500])))
    rest = bz2.compress(b"".join(lines[2500:]))
    both = run_logs("a.log.gz", "-", "--no-dns", "--output-dir", "out", stdin=rest, env=env,
                    cwd=tmp_path)  # fmt: skip
    assert both.returncode == 0, both.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["input"]["files"] == [str(tmp_path / "a.log.gz"), STDIN]
    assert (data["lines"], data["rejected_lines"]) == (6000, 6)
    assert {row["file"] for row in data["rejected_examples"]} == {
        str(tmp_path / "a.log.gz"),
        STDIN,
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-", "-"], "error: '-' (standard input) is named twice: it is read once"),
        (["-", "--engine", "dask"], "use the local engine (--engine local) or a file"),
    ],
)
def test_what_cannot_be_read_once_is_one_line(args, says, env, tmp_path):
    done = run_logs(*args, "--no-dns", stdin=b"", env=env, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == b""
    error = done.stderr.decode()
    assert error.count("\n") == 1 and error.startswith("error: ") and says in error, error


def test_the_library_needs_standard_input_handed_to_it(log):
    with pytest.raises(ConfigError, match="'-' names standard input, which only the command"):
        make_plan("-")
    with pytest.raises(ConfigError, match=r"<stdin> is a stream .*\(--engine local\)"):
        make_plan("-", engine="dask", stdin=io.BytesIO(log.read_bytes()))  # no cluster asked
    with pytest.raises(ConfigError, match="named twice"):
        resolve_paths(["-", str(log), "-"])


# --- pipes and process substitutions ---------------------------------------------------------


def write_later(path: str | Path | int, data: bytes) -> threading.Thread:
    """A thread that writes ``data`` into a pipe (a FIFO's path, or a write end), then closes
    it, as a producer process would."""

    def write() -> None:
        with open(path, "wb") as pipe:
            for at in range(0, len(data), 10_000):  # in pieces, as a producer writes
                pipe.write(data[at : at + 10_000])

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kind", ["plain", "gzip", "bzip2"])
def test_a_named_pipe_is_read_as_a_stream(kind, log, want, tmp_path):
    fifo = tmp_path / "access.fifo"
    os.mkfifo(fifo)
    assert is_stream(fifo) and resolve_paths(fifo) == [fifo]
    writer = write_later(fifo, compress(log.read_bytes(), kind))
    plan = make_plan(fifo, "local", workers=2)  # opens it: the writer's open returns
    assert [stream.name for stream in plan.streams] == [str(fifo)]
    assert plan.choice_for(str(fifo)).primary.name == "combined"  # detected from its head
    assert_same_counts(run(plan), want)
    writer.join(5)
    assert not writer.is_alive()


def test_a_process_substitution_is_read_by_its_name(log, want):
    read_end, write_end = os.pipe()
    path = f"/dev/fd/{read_end}"  # what bash's <(zstd -c log) names
    try:
        writer = write_later(write_end, compress(log.read_bytes(), "zstd"))
        plan = make_plan([path], "auto", workers=2)
        assert [str(f) for f in plan.files] == [path]  # as given, not resolved to pipe:[...]
        assert_same_counts(run(plan), want)
        writer.join(5)
    finally:
        os.close(read_end)


def test_one_pipe_under_two_names_is_refused(log):
    read_end, write_end = os.pipe()
    try:
        with open(read_end, "rb", closefd=False) as a, open(read_end, "rb", closefd=False) as b:
            with pytest.raises(ConfigError, match="are the same stream, which can be read once"):
                check_distinct([StreamInput("<stdin>", a), StreamInput("/dev/stdin", b)])
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_mixed_run_reads_files_and_streams_in_name_order(log, want, tmp_path):
    lines = log.read_bytes().splitlines(keepends=True)
    text = [line.decode().rstrip("\n") for line in lines]
    first = tmp_path / "a.log"
    first.write_bytes(b"".join(lines[:3000]))
    stdin = io.BytesIO(gzip.compress(b"".join(lines[3000:])))
    plan = make_plan([str(first), "-"], "local", workers=2, stdin=stdin)
    assert [str(f) for f in plan.files] == [str(first), STDIN]
    assert plan.stream_for(STDIN) is not None and plan.stream_for(str(first)) is None
    got = run(plan)
    examples = got.rejected_examples.rows()
    assert examples == [
        (str(first), 101, text[100]),
        (str(first), 1101, text[1100]),
        (str(first), 2101, text[2100]),
        (STDIN, 101, text[3100]),  # numbered in its own file
        (STDIN, 1101, text[4100]),
        (STDIN, 2101, text[5100]),
    ]
    assert_same_counts(replace(got, rejected_examples=want.rejected_examples), want)


def test_a_stream_that_is_not_a_log_is_refused_when_planning():
    with pytest.raises(LogReadError, match=r"^<stdin> is a zip archive, not a log"):
        make_plan("-", stdin=io.BytesIO(b"PK\x03\x04" + bytes(100)))
    with pytest.raises(LogReadError, match=r"^<stdin>, once gzip-decompressed, holds binary"):
        make_plan("-", log_format="common", stdin=io.BytesIO(gzip.compress(bytes(100))))


# --- the hand-off: the head kept, then read once -----------------------------------------------


class Trickle(io.RawIOBase):
    """A pipe's reads: at most ``step`` bytes at a time, however much is asked."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        piece = self._data[self._at : self._at + min(self._step, len(buffer))]
        buffer[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(max_size=3000),
    step=st.integers(1, 700),
    samples=st.lists(st.integers(0, 4000), max_size=4),
    read=st.integers(1, 900),
)
def test_samples_then_the_whole_stream_read_the_same_bytes(data, step, samples, read):
    stream = StreamInput("s", Trickle(data, step))
    for size in samples:  # each sample reads from the start, however much the others read
        with stream.sample() as head:
            assert head.read(size) == data[:size]
    pieces = []
    with stream.take() as whole:
        while piece := whole.read(read):
            pieces.append(piece)
    assert b"".join(pieces) == data
    with pytest.raises(LogReadError, match="s was read already: a stream can be read once"):
        stream.take()
    with pytest.raises(LogReadError, match="can be read once"):
        stream.sample()


def test_a_short_first_read_does_not_hide_what_a_stream_is():
    # a pipe may give a few bytes at first: what a log is is still told from its first 8 KiB
    data = gzip.compress(b"PK\x03\x04" + bytes(9000))
    with pytest.raises(LogReadError, match="once gzip-decompressed, is a zip archive"):
        make_plan("-", stdin=Trickle(data, 3))  # type: ignore[arg-type]


class Endless(io.RawIOBase):
    """``total`` bytes of log lines, copied from one MiB of them as they are read (never held
    whole)."""

    LINE = b'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 1\n'
    LINES = LINE * (1024 * 1024 // len(LINE) + 2)

    def __init__(self, total: int) -> None:
        self._left, self._at = total, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self._left, len(self.LINES) - self._at)
        buffer[:count] = memoryview(self.LINES)[self._at : self._at + count]
        self._left -= count
        self._at = (self._at + count) % len(self.LINE)
        return count


def test_a_stream_is_read_in_bounded_memory():
    total = 48 * 1024 * 1024
    stream = StreamInput("<stdin>", Endless(total))
    with stream.sample() as head:
        head.read(100_000)  # planning read its head: kept until the engine reads it again
    tracemalloc.start()
    try:
        read = 0
        with open_partition(Partition(STDIN), stream) as text:
            for block in iter_blocks(text, 1024 * 1024):
                read += len(block)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == total
    assert peak < 8 * 1024 * 1024, peak  # blocks of 1 MiB, nothing spooled


def test_the_engine_closes_the_pipes_it_did_not_read(tmp_path):
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    writer = write_later(fifo, b'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 1\n')
    plan = make_plan(fifo, "local", workers=2)
    engine = open_engine(plan, WINDOW)
    engine.close()  # a run that failed before it read the pipe
    writer.join(5)
    with pytest.raises(LogReadError, match="p was closed before it was read"):
        plan.streams[0].take()
