"""The vote pipeline while its servers restart: PostgreSQL under load, and RabbitMQ (the kiosk
answers 503 while it is down; clients retry with the same vote id). Every vote that got a 202
must be counted exactly once. These restart the machine's real servers, briefly."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.integration.votes.vote_system import account, record, send_from_kiosks, wait_until

CANDIDATES = ["1", "2", "3"]


def _pg_cluster() -> str:
    return sorted(
        Path("/etc/postgresql").iterdir(), key=lambda p: [int(x) for x in p.name.split(".")]
    )[-1].name


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def test_postgresql_restart_under_load(vote_system):
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    sender, outcomes = send_from_kiosks(clients, 1500)
    wait_until(lambda: vote_system.count() > 0, 30, "the first batch")
    _run("pg_ctlcluster", "--skip-systemctl-redirect", _pg_cluster(), "main", "restart")
    sender.join()
    # the kiosks never touch the database: every vote was accepted during the restart
    results = vote_system.wait_for_total(3000, timeout=90)
    ledger = record("PostgreSQL restarted", account(outcomes, vote_system.stored_ids()))
    assert ledger["accepted"] == 3000
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0)
    assert results["total_votes"] == vote_system.count()
    assert vote_system.sql("SELECT sum(votes) FROM vote_buckets") == [(3000,)]
    assert worker.poll() is None, "the worker reconnects rather than exiting"


def test_rabbitmq_restart_kiosk_answers_503_and_retries_count_once(vote_system):
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    sender, outcomes = send_from_kiosks(clients, 1500, retries=120)
    wait_until(lambda: vote_system.count() > 0, 30, "the first batch")
    try:
        _run("rabbitmqctl", "stop_app")
        time.sleep(2)
        down = clients[0].post_vote("1")  # no retries: what a client sees while it is down
    finally:
        _run("rabbitmqctl", "start_app")
        _run("rabbitmqctl", "await_startup")
    sender.join()
    assert down.status == 503

    results = vote_system.wait_for_total(sum(1 for o in outcomes if o.status == 202), timeout=120)
    ledger = record(
        "RabbitMQ restarted (clients retry)", account([*outcomes, down], vote_system.stored_ids())
    )
    retried = sum(1 for o in outcomes if o.attempts > 1)
    assert ledger["accepted"] == 3000 and ledger["refused"] == 1 and retried > 0
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0)
    assert results["total_votes"] == vote_system.count() == 3000
    assert worker.poll() is None
