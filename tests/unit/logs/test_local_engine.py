"""The local engine (lib.logs.engines.local) started before polars is loaded, as a command
starts it: the summary is the one an engine run without a start gives, field by field; what
polars must read waits for it in bounded memory; a stopped or failed run leaves no thread."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines import open_engine, pipeline
from lib.logs.engines.local import summarize_log
from lib.logs.engines.plan import make_plan
from lib.logs.errors import LogReadError
from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.window import Window
from tests.support.logs_command import run_logs
from tests.support.summaries import assert_same

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
BLOCK = 64 * 1024  # many blocks from a small file
CHOICES = {name: FormatChoice.of(FORMATS[name]) for name in ("common", "combined")}
GOOD = 'in24.inetnebr.com - - [19/Aug/1995:00:00:01 -0400] "GET /a.txt HTTP/1.0" 200 1839'

pytestmark = pytest.mark.skipif(
    accelerators.counter(FORMATS["common"], 0, 1) is None, reason="the C parser is not built"
)


@pytest.fixture(autouse=True)
def no_thread_left():
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith(("q1-read", "q1-count"))]
    assert not left


def ordinary(path, name: str = "common", block_bytes: int = BLOCK):
    """The summary of an engine that is only run."""
    return summarize_log(path, WINDOW, block_bytes, 2, CHOICES[name])


def started(path, name: str = "common", block_bytes: int = BLOCK, wait: float = 0.0):
    """The summary of an engine started ``wait`` seconds before it is run."""
    engine = open_engine(make_plan(path, "local", workers=2, log_format=name), WINDOW, block_bytes)
    engine.start()
    time.sleep(wait)
    return engine.run()[0]


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
@pytest.mark.parametrize("wait", [0.0, 0.5])
def test_a_started_engine_gives_the_ordinary_summary(tmp_path, name, wait):
    # 0.5 s: the whole file is counted before polars' part is asked for
    path = damaged_log(tmp_path, name, 30_000, 3)
    early = started(path, name, wait=wait)
    assert early.rejected >= 30 and early.requests >= 30_000
    assert early.rejected_examples.height == 10
    assert_same(early, ordinary(path, name))


def test_left_over_lines_at_a_blocks_edges_keep_their_line_numbers(tmp_path):
    # rejected lines first and last in the file, a block's worth apart, and no final newline
    bad = "not a log line"
    lines = [bad] + [GOOD] * 2000 + [bad, "", "\t"] + [GOOD] * 2000 + [bad]
    path = tmp_path / "edges.log"
    path.write_text("\n".join(lines))
    early = started(path, wait=0.2)
    assert early.rejected == 5 and early.requests == 4000
    assert early.rejected_examples["line_no"].to_list() == [1, 2002, 2003, 2004, 4005]
    assert_same(early, ordinary(path))


def test_a_file_that_turns_into_another_format_is_read_whole_where_it_must(tmp_path):
    # the first blocks are Common, later ones mostly JSON lines: polars reads those whole
    lines = [GOOD] * 3000 + ['{"host": "a", "status": 200}'] * 3000 + [GOOD] * 100
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines) + "\n")
    early = started(path, wait=0.2)
    assert early.requests == 3100 and early.rejected == 3000
    assert_same(early, ordinary(path))


def test_text_waiting_for_polars_is_capped_and_reading_pauses(tmp_path, monkeypatch):
    # a log mostly in a format the accelerator does not read: every block waits for polars
    vhost = "site:80 " + GOOD + ' "-" "agent"'
    path = tmp_path / "vhost.log"
    path.write_text((vhost + "\n") * 40_000)  # 4.7 MB: 72 blocks of 64 KiB
    monkeypatch.setattr(pipeline, "MAX_WAITING_BYTES", 4 * BLOCK)
    plan = make_plan(path, "local", workers=2, log_format="common")
    engine = open_engine(plan, WINDOW, BLOCK).start()
    try:
        reader = engine._first
        deadline = time.monotonic() + 5
        while reader._waiting <= 4 * BLOCK and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        # paused: over the cap by at most the blocks being counted, the file not read to its end
        assert 4 * BLOCK < reader._waiting <= (4 + plan.slots) * BLOCK
        assert reader._thread.is_alive()
    finally:
        summary = engine.run()[0]
    assert summary.requests == 40_000 and dict(summary.formats.rows()) == {
        "vhost_combined": 40_000
    }
    assert_same(summary, ordinary(path))


def test_a_damaged_file_fails_as_on_the_ordinary_path(tmp_path):
    whole = gzip.compress((GOOD + "\n").encode() * 20_000)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LogReadError) as ordinary_error:
        ordinary(path)
    with pytest.raises(LogReadError) as error:
        started(path, wait=0.1)
    assert str(error.value) == str(ordinary_error.value)


def test_close_stops_an_engine_that_was_never_run(tmp_path):
    path = generate_log(tmp_path / "m.log.gz", lines=60_000, seed=6)
    engine = open_engine(make_plan(path, "local", workers=2), WINDOW, BLOCK).start()
    engine.close()  # the fixture checks its threads are gone


def test_several_files_are_read_in_turn_the_first_from_the_start(tmp_path):
    paths = [generate_log(tmp_path / f"{i}.log.gz", lines=5000, seed=i) for i in (1, 2)]
    plan = make_plan(str(tmp_path / "*.log.gz"), "local", workers=2)
    early = open_engine(plan, WINDOW, BLOCK).start().run()[0]
    late = open_engine(plan, WINDOW, BLOCK).run()[0]
    assert_same(early, late)
    assert early.lines == 10_000 and len(plan.files) == len(paths)


def test_a_command_plans_and_starts_reading_before_polars_is_loaded(tmp_path):
    path = generate_log(tmp_path / "c.log.gz", lines=20_000, seed=9, log_format="combined")
    probe = f"""
import sys, time
from lib.logs.engines import open_engine
from lib.logs.engines.plan import make_plan
from lib.logs.window import DEFAULT_WINDOW, Window
plan = make_plan({str(path)!r})
engine = open_engine(plan, Window.parse(*DEFAULT_WINDOW)).start()
time.sleep(0.3)
loaded = "polars" in sys.modules
print(plan.choice_for(str(plan.files[0])).primary.name, loaded, engine._first._taken.qsize())
engine.close()
"""
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=Path.cwd()
    )
    assert run.returncode == 0, run.stderr
    name, loaded, queued = run.stdout.split()
    assert (name, loaded) == ("combined", "False")
    assert int(queued) > 0  # blocks were read and counted meanwhile


@pytest.mark.parametrize("name", ["common", "combined"])
def test_the_command_answers_the_same_with_and_without_it(tmp_path, name):
    path = damaged_log(tmp_path, name, 40_000, 8)
    outputs = []
    for switch in ("1", "0"):
        env = {"Q1_HEAD_START": switch, "GEO_CACHE": str(tmp_path / "geo")}
        run = run_logs(str(path), "--no-dns", env=env)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    summary = ordinary(path, name)
    counted = f"HTTP requests: {summary.requests:,} ({summary.rejected} of {summary.lines:,} lines"
    assert counted in outputs[0]


def test_a_bad_switch_is_a_clear_error(tmp_path):
    run = run_logs(str(tmp_path / "a.log"), env={"Q1_HEAD_START": "yes"}, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == "error: Q1_HEAD_START must be 0 or 1, got 'yes'"


def test_every_engine_a_run_may_name_is_registered():
    from lib.logs.engines import ENGINE_TYPES
    from lib.logs.engines.engine import ENGINES

    assert set(ENGINE_TYPES) == set(ENGINES) - {"auto"}
