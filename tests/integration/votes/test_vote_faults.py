"""The vote pipeline while its servers restart: PostgreSQL under load, and RabbitMQ (the kiosk
answers 503 while it is down; clients retry with the same vote id). Every vote that got a 202
must be counted exactly once. These restart the machine's real servers, briefly."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import pytest

from lib.votes.broker import DEAD_SUFFIX
from tests.integration.votes.vote_system import (
    UndecodableProperties,
    account,
    record,
    send_from_kiosks,
    unavailability,
    wait_until,
)

CANDIDATES = ["1", "2", "3"]


def _pg_cluster() -> str:
    return sorted(
        Path("/etc/postgresql").iterdir(), key=lambda p: [int(x) for x in p.name.split(".")]
    )[-1].name


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@pytest.mark.slow
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


@pytest.mark.slow
def test_rabbitmq_restart_kiosk_answers_503_and_retries_count_once(vote_system):
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    sender, outcomes = send_from_kiosks(clients, 750, retries=120)
    wait_until(lambda: vote_system.count() > 0, 30, "the first batch")
    try:
        _run("rabbitmqctl", "stop_app")
        time.sleep(2)
        down = clients[0].post_vote("1")  # no retries: what a client sees while it is down
        # as many again sent while it is down (the first may all be in before it stops, on
        # a fast machine): each is answered 503 and retried until the broker is back
        late_sender, late = send_from_kiosks(clients, 750, retries=120)
        time.sleep(1)
    finally:
        _run("rabbitmqctl", "start_app")
        _run("rabbitmqctl", "await_startup")
    sender.join()
    late_sender.join()
    assert down.status == 503
    outcomes += late

    results = vote_system.wait_for_total(sum(1 for o in outcomes if o.status == 202), timeout=120)
    ledger = record(
        "RabbitMQ restarted (clients retry)",
        account([*outcomes, down], vote_system.stored_ids()) | unavailability(outcomes),
    )
    retried = sum(1 for o in outcomes if o.attempts > 1)
    assert ledger["accepted"] == 3000 and ledger["refused"] == 1 and retried > 0
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0)
    assert results["total_votes"] == vote_system.count() == 3000
    assert worker.poll() is None


def _poison(serial: int) -> tuple[bytes, pika.BasicProperties]:
    """The ``serial``-th poison message, as the test's (valid) kiosk user publishes it: one of
    each kind the worker once could not survive, and the other kinds it must refuse."""
    now = datetime.now(UTC)
    good = {"v": 1, "vote_id": f"poison{serial:06d}", "candidate": "1", "kiosk_id": "k1"}
    bodies = [
        {**good, "cast_at": "0001-01-01T00:00:00+14:00"},  # OverflowError once
        {**good, "cast_at": "9999-12-31T23:59:59-14:00"},
        {**good, "cast_at": (now + timedelta(hours=2)).isoformat()},  # the future
        {**good, "cast_at": now.isoformat(), "candidate": "9"},
        {**good, "cast_at": now.isoformat(), "vote_id": "poison\n"},
        "[" * 100_000,  # RecursionError once
        '{"v": 1, "v": 1}',
        {**good, "cast_at": now.isoformat(), "pad": "x" * 10_000},
        {**good, "cast_at": now.isoformat()},  # a good body with headers pika cannot decode
    ]
    body = bodies[serial % len(bodies)]
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    kind = (
        UndecodableProperties if serial % len(bodies) == len(bodies) - 1 else pika.BasicProperties
    )
    return raw, kind(delivery_mode=2, message_id=f"poison-{serial}", user_id="guest")


def test_poison_messages_among_votes(vote_system):
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    sender, outcomes = send_from_kiosks(clients, 1500)
    poison = [_poison(i) for i in range(270)]
    for start in range(0, len(poison), 30):  # while the kiosks send their votes
        vote_system.publish(poison[start : start + 30])
        time.sleep(0.2)
    sender.join()
    results = vote_system.wait_for_total(3000, timeout=120)
    wait_until(
        lambda: vote_system.queue_depth(DEAD_SUFFIX) >= len(poison), 60, "every dead letter"
    )
    letters = vote_system.take_dead_letters()
    ledger = record(
        "poison messages among votes",
        account(outcomes, vote_system.stored_ids(), len(poison), len(letters)),
    )
    assert ledger["accepted"] == 3000
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0)
    assert sorted(p.message_id for p, _ in letters) == sorted(p.message_id for _, p in poison)
    assert all(p.headers["x-reject-reason"] for p, _ in letters)
    assert results["total_votes"] == vote_system.count() == 3000
    assert vote_system.sql("SELECT sum(votes) FROM vote_buckets") == [(3000,)]
    assert worker.poll() is None, "the worker must keep running"
    # 270 dead letters in a few seconds: logged a line a second, each saying how many it left out
    log = "".join(p.read_text() for p in vote_system.logs.glob("worker-*.log"))
    lines = log.count("dead-lettered a message from guest")
    assert 1 <= lines < 30 and "more not logged)" in log, lines
