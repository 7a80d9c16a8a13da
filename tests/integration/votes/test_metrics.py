"""The kiosk's and the worker's ``/metrics`` as Prometheus scrapes them, against the real
RabbitMQ and PostgreSQL: the counts move as votes flow (accepted = votes sent, stored = rows in
the votes table, a refused vote and a dead letter under their reasons), and the queue's depth
shows votes piling up while the worker cannot store them."""

from __future__ import annotations

import math
import re
from collections import Counter

import pika
import psycopg2

from tests.integration.votes.vote_system import VoteSystem, wait_until
from tests.support.kiosk_client import KioskClient, drive
from tests.support.metrics_text import sample_values

VOTES = 240


def start_worker(system: VoteSystem) -> KioskClient:
    """Start a worker (metrics on a port the system picks); a client of its metrics port."""
    system.start_worker()

    def listening():
        found = re.search(r"metrics on http://127\.0\.0\.1:([0-9]+)/metrics", system.log_text())
        return int(found.group(1)) if found else None

    return KioskClient("127.0.0.1", wait_until(listening, 30, "the worker's metrics listener"))


def scrape(client: KioskClient) -> dict[str, float]:
    status, headers, body = client.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    return sample_values(body)


def settled(client: KioskClient, name: str, value: float, timeout: float = 60) -> dict:
    """Scrape until ``name`` reads ``value``; the last scrape."""
    last: dict = {}

    def reached():
        last.update(scrape(client))
        return last.get(name) == value

    try:
        wait_until(reached, timeout, f"{name} to read {value}", interval=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it reads {last.get(name)}") from None
    return last


def test_the_counts_move_as_votes_flow(vote_system):
    worker = start_worker(vote_system)
    _, kiosk = vote_system.start_kiosk("k1")  # two server processes: counted together
    before = scrape(kiosk)
    assert before["vote_counter_kiosk_votes_accepted_total"] == 0

    outcomes = drive("127.0.0.1", kiosk.port, VOTES, ["1", "2", "3"], threads=4)
    assert Counter(o.status for o in outcomes) == {202: VOTES}
    status, _, _ = kiosk.request(
        "POST", "/votes", b'{"candidate": "9"}', {"Content-Type": "application/json"}
    )
    assert status == 400
    poison = pika.BasicProperties(user_id="guest", message_id="poison-1")
    vote_system.publish([(b"not a vote", poison)])

    stored = settled(worker, "vote_counter_worker_votes_stored_total", VOTES)
    assert vote_system.count() == VOTES  # the counter is the table's rows
    assert stored["vote_counter_worker_lag_seconds_count"] == VOTES
    assert 0 < stored["vote_counter_worker_lag_seconds_sum"] / VOTES < 10
    assert stored["vote_counter_worker_batches_total"] >= 1
    assert stored["vote_counter_worker_consuming"] == 1
    dead = settled(worker, 'vote_counter_worker_dead_letters_total{reason="not_a_vote"}', 1)
    assert dead["vote_counter_worker_batch_size_messages_sum"] == VOTES + 1
    assert dead['vote_counter_worker_dead_letters_total{reason="conflict"}'] == 0
    assert vote_system.queue_depth(".dead") == 1
    settled(worker, 'vote_counter_worker_queue_messages{queue="dead"}', 1)
    settled(worker, 'vote_counter_worker_queue_messages{queue="votes"}', 0)

    vote_system.wait_for_total(VOTES)
    age = scrape(worker)["vote_counter_worker_results_age_seconds"]
    assert 0 <= age < 10, age
    assert scrape(worker)["vote_counter_worker_writer_restarts_total"] == 0

    for _ in range(6):  # whichever process answers, it speaks for the whole kiosk
        counted = scrape(kiosk)
        assert counted["vote_counter_kiosk_votes_accepted_total"] == VOTES
        assert counted['vote_counter_kiosk_votes_refused_total{reason="invalid"}'] == 1
        assert counted['vote_counter_kiosk_requests_refused_total{status="400"}'] == 1
        assert counted["vote_counter_kiosk_confirm_seconds_count"] == VOTES
        assert counted['vote_counter_kiosk_votes_refused_total{reason="rate_limited"}'] == 0
        assert counted["vote_counter_kiosk_connections_open"] >= 1  # this scrape's own
        kiosk.close()  # the next scrape on a new connection, maybe to the other process


def test_votes_piling_up_behind_a_stuck_worker_show_in_the_queue_depth(vote_system):
    worker = start_worker(vote_system)
    _, kiosk = vote_system.start_kiosk("k1")
    settled(worker, "vote_counter_worker_consuming", 1)  # the schema is applied by now
    locker = psycopg2.connect(**vote_system.dsn)
    try:
        with locker.cursor() as cur:  # storing waits for this transaction
            cur.execute("LOCK TABLE votes IN EXCLUSIVE MODE")
        outcomes = drive("127.0.0.1", kiosk.port, 600, ["1", "2"], threads=4)
        assert Counter(o.status for o in outcomes) == {202: 600}

        def piled_up():
            depth = scrape(worker)['vote_counter_worker_queue_messages{queue="votes"}']
            return not math.isnan(depth) and depth >= 600 - 2 * 100  # less the prefetch window

        wait_until(piled_up, 30, "the queue depth to show the votes waiting", interval=0.25)
        assert scrape(worker)["vote_counter_worker_votes_stored_total"] == 0
    finally:
        locker.rollback()
        locker.close()
    settled(worker, "vote_counter_worker_votes_stored_total", 600)
    settled(worker, 'vote_counter_worker_queue_messages{queue="votes"}', 0)
    assert vote_system.count() == 600


def test_with_metrics_off_there_is_no_listener_and_kiosks_answer_404(vote_system):
    vote_system.start_worker(METRICS="0")
    _, kiosk = vote_system.start_kiosk("k1", METRICS="0")
    assert kiosk.post_vote("1").status == 202
    status, _, body = kiosk.request("GET", "/metrics")
    assert status == 404 and b"METRICS=0" in body
    vote_system.wait_for_total(1)
    assert "metrics on http" not in vote_system.log_text()
