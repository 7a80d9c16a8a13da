"""VOTES_QUEUE_TYPE on this machine's node: both queues get the type, quorum counts votes as
classic does, and a queue that exists with the other type stops the worker with one line and
makes a kiosk that can see it refuse votes (503), never counting them somewhere unexpected."""

from __future__ import annotations

import json
import subprocess

import pytest

from lib.votes.broker import DEAD_SUFFIX
from lib.votes.queue_arguments import declared_arguments
from tests.integration.votes.vote_system import wait_until


def _types(*queues: str) -> dict[str, str]:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "type", "--formatter", "json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return {q["name"]: q["type"] for q in json.loads(listed.stdout) if q["name"] in queues}


def test_both_queues_are_quorum_by_default_and_count_votes(vote_system):
    queue = vote_system.queue
    assert vote_system.queue_type == "quorum"
    worker = vote_system.start_worker()
    _, client = vote_system.start_kiosk("k1")
    assert [client.post_vote("2").status for _ in range(20)] == [202] * 20
    vote_system.wait_for_total(20)
    assert _types(queue, queue + DEAD_SUFFIX) == {queue: "quorum", queue + DEAD_SUFFIX: "quorum"}
    assert worker.poll() is None


def _make_classic(vote_system) -> None:
    connection = vote_system.connect()
    channel = connection.channel()
    channel.queue_delete(vote_system.queue)
    channel.queue_declare(vote_system.queue, durable=True)  # as before the setting: no type
    channel.queue_bind(vote_system.queue, vote_system.queue, vote_system.queue)
    connection.close()


@pytest.mark.slow
def test_a_classic_queue_stops_a_quorum_worker_and_a_kiosk_refuses_votes(vote_system):
    _make_classic(vote_system)
    worker = vote_system.start_worker()
    assert worker.wait(60) == 2
    line = (
        f"queue {vote_system.queue} exists as a classic queue; VOTES_QUEUE_TYPE=quorum needs it "
        f"drained and deleted, or set VOTES_QUEUE_TYPE=classic"
    )
    log = vote_system.log_text()
    assert f"ERROR {line}\n" in log and "Traceback" not in log, log

    # a kiosk whose user may declare the queue (here the test's own) sees it too: 503, logged
    _, client = vote_system.start_kiosk("k1")
    refused = client.post_vote("1")
    assert refused.status == 503
    status, _, body = client.request("GET", "/health")
    assert status == 503 and json.loads(body)["refusing_votes"] == line
    wait_until(lambda: f"refusing votes: {line}" in vote_system.log_text(), 20, "the kiosk's log")
    assert f"not handed over: {line}" in vote_system.log_text()
    assert vote_system.queue_depth() == 0  # nothing went into the classic queue

    # as the line says: VOTES_QUEUE_TYPE=classic works with that queue (the dead-letter queue,
    # quorum already, is left alone by making it classic here too)
    connection = vote_system.connect()
    channel = connection.channel()
    channel.queue_delete(vote_system.queue + DEAD_SUFFIX)
    connection.close()
    worker = vote_system.start_worker(VOTES_QUEUE_TYPE="classic")
    _, client = vote_system.start_kiosk("k2", VOTES_QUEUE_TYPE="classic")
    assert client.post_vote("3", retries=20).status == 202
    vote_system.wait_for_total(1)
    queues = (vote_system.queue, vote_system.queue + DEAD_SUFFIX)
    assert set(_types(*queues).values()) == {"classic"}
    assert worker.poll() is None


def test_a_quorum_queue_stops_a_classic_worker(vote_system):
    worker = vote_system.start_worker(VOTES_QUEUE_TYPE="classic")
    assert worker.wait(60) == 2
    assert (
        f"queue {vote_system.queue} exists as a quorum queue; VOTES_QUEUE_TYPE=classic needs it "
        "drained and deleted, or set VOTES_QUEUE_TYPE=quorum"
    ) in vote_system.log_text()
    connection = vote_system.connect()
    declared = connection.channel().queue_declare(
        vote_system.queue, durable=True, arguments=declared_arguments("quorum")
    )
    connection.close()
    assert declared.method.message_count == 0
