"""The worker keeps its results writer running: SIGKILL the child (as the OOM killer would) and
the worker says so and starts another, which writes the votes that come after. The real worker,
RabbitMQ and PostgreSQL."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

from lib.votes.broker import persistent
from lib.votes.message import Vote, encode
from tests.integration.votes.vote_system import wait_until


def writer_pids(worker_pid: int) -> list[int]:
    """The worker's results-writer children: spawned by multiprocessing (``spawn_main`` on the
    command line), which the resource tracker it may also start is not."""
    found = []
    for children in Path(f"/proc/{worker_pid}/task").glob("*/children"):
        for pid in map(int, children.read_text().split()):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue  # gone meanwhile
            if b"spawn_main" in cmdline:
                found.append(pid)
    return sorted(found)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_results_writer_is_restarted_and_writes_later_votes(vote_system):
    worker = vote_system.start_worker()
    vote_system.wait_for_total(0)  # the writer is up
    [writer] = wait_until(lambda: writer_pids(worker.pid), 10, "the writer child")

    os.kill(writer, signal.SIGKILL)
    wait_until(lambda: not alive(writer), 10, "the writer to die")
    vote = Vote(uuid.uuid4().hex, "2", "k1", datetime.now(UTC))
    vote_system.publish([(encode(vote), persistent(vote.vote_id, user_id="guest"))])

    results = vote_system.wait_for_total(1, timeout=30)
    assert results["totals"]["2"] == 1
    log = vote_system.log_text()
    assert f"results writer (pid {writer}) exited with code -9; restarting it in 1s" in log
    assert "restarted the results writer" in log
    [again] = writer_pids(worker.pid)
    assert again != writer and alive(again)

    assert vote_system.stop(worker) == 0  # SIGTERM: stops cleanly, and stops the new writer
    wait_until(lambda: not alive(again), 10, "the new writer to exit with the worker")
