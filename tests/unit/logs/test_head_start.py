"""A command's head start (lib.logs.engines.head_start): the counts it hands over give the summary
the ordinary path gives, field by field; whatever does not match the plan, or goes wrong, leaves
it unused and the file is read the ordinary way."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading

import pytest

from lib.logs.counting.summary import summarize_claimed, summarize_files
from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines import head_start
from lib.logs.errors import LogReadError
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.reading.partitions import Partition
from lib.logs.window import Window
from tests.unit.logs.test_fast_summary import assert_same

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
BLOCK = 64 * 1024  # many blocks from a small file
CHOICES = {name: FormatChoice.of(FORMATS[name]) for name in ("common", "combined")}
GOOD = 'in24.inetnebr.com - - [19/Aug/1995:00:00:01 -0400] "GET /a.txt HTTP/1.0" 200 1839'

pytestmark = pytest.mark.skipif(head_start._clf is None, reason="the C parser is not built")


@pytest.fixture(autouse=True)
def no_head_start_left():
    yield
    head_start.cancel()
    assert not [t for t in threading.enumerate() if t.name.startswith("q1-head")]


def ordinary(path, name: str = "common", block_bytes: int = BLOCK):
    head_start.cancel()
    return summarize_files([path], WINDOW, block_bytes, 2, {str(path): CHOICES[name]})


def claimed(path, name: str = "common", block_bytes: int = BLOCK):
    """The summary through a head start, asserting it was taken and not given up."""
    assert head_start.begin([str(path)], WINDOW, "local", 2, block_bytes)
    head = head_start.claim(path, WINDOW, name, block_bytes)
    assert head is not None
    summary = summarize_claimed(Partition(str(path)), WINDOW, head, CHOICES[name])
    assert summary is not None
    return summary


def damaged_log(tmp_path, name: str, lines: int, seed: int):
    """A synthetic log in format ``name``, gzip, with a line no format reads every 997 lines
    (so in many of its 64 KiB blocks) and a Common line every 1,499 (Combined's second
    chance)."""
    plain = generate_log(tmp_path / f"{name}.log", lines=lines, seed=seed, log_format=name)
    kept = plain.read_text().splitlines()
    for at in range(lines, 0, -997):
        kept.insert(at, f"damaged line {at} [19/Aug/1995]")
    for at in range(lines, 0, -1499):
        kept.insert(at, GOOD)
    path = tmp_path / f"{name}.log.gz"
    path.write_bytes(gzip.compress("\n".join(kept).encode() + b"\n"))
    return path


@pytest.mark.parametrize("name", ["common", "combined"])
def test_the_head_start_gives_the_ordinary_summary(tmp_path, name):
    path = damaged_log(tmp_path, name, 30_000, 3)
    fast = claimed(path, name)
    assert fast.rejected >= 30 and fast.requests >= 30_000
    assert fast.rejected_examples.height == 10
    assert_same(fast, ordinary(path, name))
    # and through summarize_files, as the local engine reads it
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    assert_same(summarize_files([path], WINDOW, BLOCK, 2, {str(path): CHOICES[name]}), fast)


def test_left_over_lines_at_a_blocks_edges_keep_their_line_numbers(tmp_path):
    # rejected lines first and last in the file, a block's worth apart, and no final newline
    bad = "not a log line"
    lines = [bad] + [GOOD] * 2000 + [bad, "", "\t"] + [GOOD] * 2000 + [bad]
    path = tmp_path / "edges.log"
    path.write_text("\n".join(lines))
    fast = claimed(path)
    assert fast.rejected == 5 and fast.requests == 4000
    assert fast.rejected_examples["line_no"].to_list() == [1, 2002, 2003, 2004, 4005]
    assert_same(fast, ordinary(path))


def test_guess_parser_reads_the_first_lines_by_the_c_rules(tmp_path):
    combined = GOOD + ' "http://a/" "Mozilla/1.0"'
    micros = WINDOW.micros()
    assert head_start.guess_parser((GOOD + "\n").encode() * 50, *micros) == "common"
    assert head_start.guess_parser((combined + "\n").encode() * 50, *micros) == "combined"
    assert head_start.guess_parser(b'{"host": "a"}\n' * 50, *micros) is None
    assert head_start.guess_parser(b"#Fields: date time c-ip\n", *micros) is None
    assert head_start.guess_parser(b"", *micros) is None
    mostly_bad = (GOOD + "\n" + "x\n" * 3).encode() * 20
    assert head_start.guess_parser(mostly_bad, *micros) is None


def test_begin_only_for_one_regular_file_on_the_local_engine(tmp_path):
    path = tmp_path / "a.log"
    path.write_text(GOOD + "\n")
    assert not head_start.begin([str(path), str(path)], WINDOW, "local")
    assert not head_start.begin([str(path)], WINDOW, "dask")
    assert not head_start.begin([str(tmp_path / "*.log")], WINDOW, "local")  # a glob
    assert not head_start.begin([str(tmp_path)], WINDOW, "local")  # a directory
    assert not head_start.begin([str(tmp_path / "missing.log")], WINDOW, "local")
    assert head_start.begin([str(path)], WINDOW, "local")


def test_what_does_not_match_the_plan_is_not_taken(tmp_path):
    path = generate_log(tmp_path / "c.log.gz", lines=3000, seed=4, log_format="combined")
    other = generate_log(tmp_path / "o.log.gz", lines=3000, seed=5, log_format="combined")
    later = Window.parse("1995-08-19T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
    for mismatch in (
        (other, WINDOW, "combined", BLOCK),  # another file
        (path, later, "combined", BLOCK),  # another window
        (path, WINDOW, "common", BLOCK),  # another format than it guessed
        (path, WINDOW, "combined", BLOCK * 2),  # another block size
    ):
        assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
        assert head_start.claim(*mismatch) is None
        assert head_start.claim(path, WINDOW, "combined", BLOCK) is None  # dropped, not kept
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    head = head_start.claim(path, WINDOW, "combined", BLOCK)
    assert head is not None
    assert head_start.claim(path, WINDOW, "combined", BLOCK) is None  # taken once
    head.stop()


def test_a_file_that_turns_into_another_format_is_read_the_ordinary_way(tmp_path):
    # the first blocks are Common, a later one mostly JSON lines: the head start gives up
    lines = [GOOD] * 3000 + ['{"host": "a", "status": 200}'] * 3000 + [GOOD] * 100
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines) + "\n")
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    head = head_start.claim(path, WINDOW, "common", BLOCK)
    assert head is not None
    assert summarize_claimed(Partition(str(path)), WINDOW, head, CHOICES["common"]) is None
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    summary = summarize_files([path], WINDOW, BLOCK, 2, {str(path): CHOICES["common"]})
    assert summary.requests == 3100 and summary.rejected == 3000
    assert_same(summary, ordinary(path))


def test_a_file_changed_while_it_was_read_is_read_again(tmp_path):
    path = tmp_path / "a.log"
    path.write_text((GOOD + "\n") * 5000)
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    head = head_start.claim(path, WINDOW, "common", BLOCK)
    assert head is not None
    with path.open("a") as log:  # a server appending while the run reads
        log.write((GOOD + "\n") * 10)
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))  # a coarse clock could leave the time as it was
    assert summarize_claimed(Partition(str(path)), WINDOW, head, CHOICES["common"]) is None
    assert ordinary(path).requests == 5010


def test_a_damaged_file_fails_as_on_the_ordinary_path(tmp_path):
    whole = gzip.compress((GOOD + "\n").encode() * 20_000)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LogReadError) as ordinary_error:
        ordinary(path)
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    with pytest.raises(LogReadError) as error:
        summarize_files([path], WINDOW, BLOCK, 2, {str(path): CHOICES["common"]})
    assert str(error.value) == str(ordinary_error.value)


def test_cancel_stops_an_unclaimed_head_start(tmp_path):
    path = generate_log(tmp_path / "m.log.gz", lines=60_000, seed=6)
    assert head_start.begin([str(path)], WINDOW, "local", 2, BLOCK)
    head_start.cancel()  # the fixture checks its threads are gone
    assert head_start.claim(path, WINDOW, "common", BLOCK) is None


@pytest.mark.parametrize("name", ["common", "combined"])
def test_the_command_answers_the_same_with_and_without_it(tmp_path, name):
    path = damaged_log(tmp_path, name, 40_000, 8)
    outputs = []
    for switch in ("1", "0"):
        env = {**os.environ, "Q1_HEAD_START": switch, "GEO_CACHE": str(tmp_path / "geo")}
        run = subprocess.run(
            [sys.executable, "-m", "lib.logs", str(path), "--no-dns"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    summary = ordinary(path, name)
    counted = f"HTTP requests: {summary.requests:,} ({summary.rejected} of {summary.lines:,} lines"
    assert counted in outputs[0]


def test_a_bad_switch_is_a_clear_error(tmp_path):
    env = {**os.environ, "Q1_HEAD_START": "yes"}
    run = subprocess.run(
        [sys.executable, "-m", "lib.logs", str(tmp_path / "a.log")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stderr.strip() == "error: Q1_HEAD_START must be 0 or 1, got 'yes'"
