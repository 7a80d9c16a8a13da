"""The worker's supervision of its results writer, with stand-in writers in real spawned
processes (no service needed): one that dies at once is restarted with a growing delay, not in
a spin; stopping tells the child to make its last write and restarts nothing."""

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
