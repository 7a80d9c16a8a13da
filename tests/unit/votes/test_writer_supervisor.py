"""The worker's supervision of its results writer, with stand-in writers in real spawned
processes (no service needed): one that dies at once is restarted with a growing delay, not in
a spin, and so is one that cannot be forked; stopping tells the child to make its last write
and restarts nothing."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from lib.votes.backoff import Backoff
from lib.votes.settings import load_settings
from service.writer_supervisor import WriterSupervisor


def die_at_once(settings, stop, parent_pid) -> None:
    os._exit(3)


def write_when_stopped(settings, stop, parent_pid) -> None:
    while not stop.wait(5):
        pass
    (settings.cache_dir / "last-write").write_text(str(parent_pid))


def restart_delays(caplog) -> list[str]:
    return [
        r.getMessage().rsplit(" ", 1)[1]
        for r in caplog.records
        if r.name == "service.writer_supervisor" and "exited with code 3" in r.getMessage()
    ]


def restarted(caplog, healthy_after: float, count: int) -> list[str]:
    """The first ``count`` restart delays of a supervisor whose writer dies at once."""
    settings = load_settings({}, cache_dir=Path("/nonexistent"))
    supervisor = WriterSupervisor(
        settings, Backoff(first=0.05, cap=0.1), healthy_after, target=die_at_once
    )
    with caplog.at_level(logging.INFO, logger="service.writer_supervisor"):
        supervisor.start()
        try:
            deadline = time.monotonic() + 30
            while len(restart_delays(caplog)) < count and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            supervisor.stop(10)
    return restart_delays(caplog)[:count]


def test_a_writer_that_dies_at_once_is_restarted_with_a_growing_delay(caplog):
    assert restarted(caplog, healthy_after=60, count=3) == ["0.05s", "0.1s", "0.1s"]


def test_a_writer_that_had_lived_a_while_is_restarted_after_the_shortest_delay(caplog):
    assert restarted(caplog, healthy_after=0, count=2) == ["0.05s", "0.05s"]


class ForkFails:
    """A multiprocessing context whose first ``failures`` process starts fail as a fork does
    when memory or processes run out; the rest are real."""

    def __init__(self, context, failures: int):
        self._context, self.failures = context, failures

    def Pipe(self, duplex: bool):  # noqa: N802 - multiprocessing's name
        return self._context.Pipe(duplex=duplex)

    def Process(self, **kwargs):  # noqa: N802
        process = self._context.Process(**kwargs)
        if self.failures > 0:
            self.failures -= 1
            process.start = lambda: (_ for _ in ()).throw(OSError(12, "Cannot allocate memory"))
        return process


def test_a_writer_that_cannot_be_forked_is_tried_again_with_a_growing_delay(caplog):
    settings = load_settings({}, cache_dir=Path("/nonexistent"))
    supervisor = WriterSupervisor(settings, Backoff(first=0.05, cap=0.4), 60, target=die_at_once)
    with caplog.at_level(logging.INFO, logger="service.writer_supervisor"):
        supervisor.start()  # the first child starts, dies at once; the next three forks fail
        supervisor._context = ForkFails(supervisor._context, failures=3)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                "restarted the results writer" in r.getMessage() for r in caplog.records
            ):
                time.sleep(0.05)
        finally:
            supervisor.stop(10)
    lines = [r.getMessage() for r in caplog.records if r.name == "service.writer_supervisor"]
    failed = [line for line in lines if line.startswith("results writer not restarted")]
    assert [line.rsplit(" ", 1)[1] for line in failed] == ["0.1s", "0.2s", "0.4s"]
    assert all("Cannot allocate memory" in line for line in failed)
    # the dead child's exit is told once, not again with each failed fork
    assert sum("exited with code 3" in line for line in lines[: lines.index(failed[-1])]) == 1
    assert any("restarted the results writer" in line for line in lines)


def test_stop_asks_for_a_last_write_and_restarts_nothing(tmp_path, caplog):
    settings = load_settings({}, cache_dir=tmp_path)
    supervisor = WriterSupervisor(settings, target=write_when_stopped)
    with caplog.at_level(logging.INFO, logger="service.writer_supervisor"):
        supervisor.start()
        time.sleep(0.2)
        started = time.monotonic()
        supervisor.stop(10)
    assert time.monotonic() - started < 5  # woken by the closed pipe, not by its timeout
    assert (tmp_path / "last-write").read_text() == str(os.getpid())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
