"""``python -m lib.logs LOG --state DIR`` as an operator runs it: from cron (each run reads what
is new), killed at any point (the next run neither loses nor counts twice), two at once (the
second refused), and ``--follow`` through a rotation."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.logs_command import ROOT, run_logs
from tests.unit.logs.test_command_contract import valid
from tests.unit.logs.test_state import READ_ONLY_KEYS, Writer

NO_NET = ("--no-dns", "--max-rejected", "1")


def _answers(*args: str, cwd: Path) -> dict:
    cli = run_logs(*args, *NO_NET, "--json", cwd=cwd, env={"GEO_CACHE": str(cwd / "geo")})
    assert cli.returncode == 0, cli.stderr
    return valid(json.loads(cli.stdout))


def _same_answers(ours: dict, theirs: dict) -> None:
    for key in theirs.keys() - READ_ONLY_KEYS:
        assert ours[key] == theirs[key], key


def test_cron_runs_read_what_is_new_and_answer_as_one_full_run(tmp_path):
    writer = Writer(tmp_path, 21)
    state = str(tmp_path / "state")
    for count in (300, 40, 0, 200):
        writer.append(count)
        ours = _answers(str(writer.live), "--state", state, cwd=tmp_path)
        assert ours["engine"]["name"] == "state"
    full = _answers(str(writer.reference(tmp_path / "all.log")), cwd=tmp_path)
    _same_answers(ours, full)


def test_a_run_killed_at_any_point_neither_loses_nor_counts_twice(tmp_path):
    writer = Writer(tmp_path, 23)
    writer.append(40_000)
    state = str(tmp_path / "state")
    rng = random.Random(5)
    env = {"PYTHONPATH": str(ROOT), "GEO_CACHE": str(tmp_path / "geo")}
    command = [sys.executable, "-m", "lib.logs", str(writer.live), "--state", state, *NO_NET]
    for round_ in range(6):
        if round_ % 2:
            writer.append(5_000)
        child = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.3, 3.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
    ours = _answers(str(writer.live), "--state", state, cwd=tmp_path)
    full = _answers(str(writer.reference(tmp_path / "all.log")), cwd=tmp_path)
    _same_answers(ours, full)


def test_a_second_run_on_the_same_state_at_once_is_refused_in_one_line(tmp_path):
    writer = Writer(tmp_path, 25)
    writer.append(20)
    state = tmp_path / "state"
    state.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; held = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(state / "q1-state.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        cli = run_logs(str(writer.live), "--state", str(state), *NO_NET, cwd=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert cli.returncode == 1
    assert cli.stderr.strip().count("\n") == 0
    assert "another run is using it" in cli.stderr


def test_follow_keeps_answering_through_a_rotation(tmp_path):
    writer = Writer(tmp_path, 27)
    writer.append(100)
    out = tmp_path / "out"
    follower = subprocess.Popen(
        [sys.executable, "-m", "lib.logs", str(tmp_path / "access.log*"), "--state",
         str(tmp_path / "state"), "--follow", "0.3", "--output-dir", str(out), *NO_NET],
        cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "GEO_CACHE": str(tmp_path / "geo")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(out / "results.json", 100)
        writer.append(50)
        writer.rotate()
        writer.append(30)
        _wait_for(out / "results.json", 180)
        with gzip.open(tmp_path / "access.log.1.gz", "wb") as packed:
            packed.write((tmp_path / "access.log.1").read_bytes())
        (tmp_path / "access.log.1").unlink()
        writer.append(20)
        _wait_for(out / "results.json", 200)
    finally:
        follower.send_signal(signal.SIGTERM)
        stdout, stderr = follower.communicate(timeout=30)
    assert follower.returncode == 0, stderr
    assert stdout.count("1. HTTP requests:") >= 3
    assert "is now" in stderr  # the rotation said
    final = json.loads((out / "results.json").read_text())
    full = _answers(str(writer.reference(tmp_path / "all.log")), cwd=tmp_path)
    _same_answers(final, full)


def _wait_for(results: Path, lines: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads(results.read_text())["lines"] == lines:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"results.json never said {lines} lines")


def test_a_state_answers_any_window_and_refuses_one_off_the_hour(tmp_path):
    writer = Writer(tmp_path, 29)
    writer.append(500)
    state = str(tmp_path / "state")
    _answers(str(writer.live), "--state", state, cwd=tmp_path)
    window = ("--window-start", "2026-03-29T01:00:00+00:00", "--window-end", "2026-03-29")
    ours = _answers(str(writer.live), "--state", state, *window, cwd=tmp_path)
    full = _answers(str(writer.live), *window, "--window-only", cwd=tmp_path)
    _same_answers(ours, full)
    off = run_logs(str(writer.live), "--state", state, "--window-start",
                   "2026-03-29T01:30:00+00:00", *NO_NET, cwd=tmp_path)  # fmt: skip
    assert off.returncode == 2
    assert "--window-start" in off.stderr and "whole hour" in off.stderr
    assert shutil.which(sys.executable)


def test_a_state_answers_alone_after_its_logs_are_gone(tmp_path):
    writer = Writer(tmp_path, 31)
    writer.append(300)
    state = str(tmp_path / "state")
    read = _answers(str(writer.live), "--state", state, cwd=tmp_path)
    writer.live.unlink()  # rotated away and deleted
    alone = _answers("--state", state, "--window-start", "2026-03-29", cwd=tmp_path)
    assert alone["input"]["files"] == [str(writer.live)]
    assert alone["input"]["formats"] == {str(writer.live): "common"}
    full = _answers(str(writer.reference(tmp_path / "all.log")), "--window-start",
                    "2026-03-29", "--window-only", cwd=tmp_path)  # fmt: skip
    _same_answers(alone, full)
    assert read["total_requests"] > alone["total_requests"] > 0
    nothing = run_logs("--no-dns", cwd=tmp_path)
    assert nothing.returncode == 2 and "--state" in nothing.stderr
    empty = run_logs("--state", str(tmp_path / "new"), "--no-dns", cwd=tmp_path)
    assert empty.returncode == 1 and "has read no log yet" in empty.stderr


def test_a_damaged_state_is_one_line_and_no_answer(tmp_path):
    writer = Writer(tmp_path, 33)
    writer.append(20)
    state = tmp_path / "state"
    state.mkdir()
    (state / "q1-state.duckdb").write_bytes(random.Random(3).randbytes(50_000))
    cli = run_logs(str(writer.live), "--state", str(state), *NO_NET, cwd=tmp_path)
    assert cli.returncode == 1
    assert cli.stdout == ""
    assert cli.stderr.count("\n") == 1 and "state directory" in cli.stderr
