"""The vote pipeline on a 3-node RabbitMQ cluster of the tests' own, with a quorum queue, while
nodes fail under load: two kiosks and two workers, each given the nodes' URL list starting at a
different node (kiosk 1 at the queue's leader, kiosk 2 and worker 2 at the next node, worker 1
at the third), 1500 votes per kiosk, clients retrying a 503 with the same vote id. Every vote
that got a 202 must be counted exactly once; how long the kiosks answered 503 is recorded in
the fault ledger printed after the run.

One cluster serves the module (starting one takes ~25 s); each test starts with every node up
and has a database and queues of its own."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.integration.votes.vote_system import (
    account,
    record,
    send_from_kiosks,
    unavailability,
    vote_system_on,
    wait_until,
)
from tests.support.rabbit_cluster import rabbit_cluster

# slow too: alone, each test waits for its module's cluster to start (~20 s)
pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SIZE = 3
VOTES_EACH = 1500


@pytest.fixture(scope="module")
def cluster():
    with rabbit_cluster(SIZE) as running:
        yield running


class Placement:
    """Who is connected where: node numbers (1..SIZE) relative to the queue's leader."""

    def __init__(self, cluster, queue: str):
        self.cluster = cluster
        described = cluster.wait_for(
            "the queue with a leader and every member online",
            lambda: (q := cluster.queues(1).get(queue)) and len(q["online"]) == SIZE and q,
        )
        self.leader = cluster.index(described["leader"])
        self.kiosk1 = self.leader
        self.kiosk2 = self.worker2 = self.after(self.leader)
        self.worker1 = self.after(self.kiosk2)

    def after(self, node: int) -> int:
        return node % SIZE + 1

    def urls(self, first: int) -> str:
        """AMQP_URL listing every node, starting at node ``first``."""
        urls = self.cluster.urls
        return ",".join(urls[first - 1 :] + urls[: first - 1])

    def port(self, node: int) -> int:
        return self.cluster.port + node - 1


@pytest.fixture
def on_cluster(cluster, tmp_path):
    """Every node up; a VoteSystem whose queues (quorum) are on the cluster; who goes where."""
    cluster.start()
    with vote_system_on(tmp_path, ",".join(cluster.urls), "quorum") as system:
        yield system, Placement(cluster, system.queue)


def _start(system, placement: Placement, **worker1_env):
    workers = [
        system.start_worker(AMQP_URL=placement.urls(placement.worker1), **worker1_env),
        system.start_worker(AMQP_URL=placement.urls(placement.worker2)),
    ]
    clients = [
        system.start_kiosk("k1", AMQP_URL=placement.urls(placement.kiosk1))[1],
        system.start_kiosk("k2", AMQP_URL=placement.urls(placement.kiosk2))[1],
    ]
    return workers, clients


def _nodes_in_log(system, role: str, index: int, pattern: str) -> list[int]:
    """Ports of the nodes the ``index``-th process of ``role`` said it connected to, in order."""
    log = sorted(system.logs.glob(f"{role}-*.log"), key=lambda p: int(p.stem.split("-")[1]))
    return [int(port) for port in re.findall(pattern, log[index].read_text())]


def _kiosk_nodes(system, index: int) -> list[int]:
    return _nodes_in_log(
        system, "kiosk", index, r"publisher connected to the broker at 127\.0\.0\.1:(\d+)"
    )


def _worker_nodes(system, index: int) -> list[int]:
    return _nodes_in_log(system, "worker", index, r"\(quorum queue\) on 127\.0\.0\.1:(\d+)")


def _finish(sender, seconds: float = 300) -> None:
    """Wait for the kiosks' clients; a kiosk that refuses votes for good fails the test (its
    clients would otherwise retry for hours) instead of hanging the run."""
    sender.join(seconds)
    assert not sender.is_alive(), f"kiosks still refusing votes after {seconds:g}s"


def _settle(system, outcomes, scenario: str, sent: int = 2 * VOTES_EACH) -> dict:
    """Wait until every accepted vote is counted; record the scenario's ledger and check it:
    every one of the ``sent`` votes accepted in the end, each counted once."""
    accepted = sum(1 for o in outcomes if o.status == 202)
    system.wait_for_total(accepted, timeout=180)
    time.sleep(1.0)  # a vote counted twice would show now, or not at all
    ledger = record(scenario, account(outcomes, system.stored_ids()) | unavailability(outcomes))
    assert ledger["accepted"] == ledger["sent"] == sent, ledger
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0)
    assert system.count() == accepted == len(set(system.stored_ids()))
    assert system.sql("SELECT sum(votes) FROM vote_buckets") == [(accepted,)]
    return ledger


def test_the_queue_leaders_node_killed_under_load(on_cluster, cluster):
    system, placement = on_cluster
    workers, clients = _start(system, placement)
    sender, outcomes = send_from_kiosks(clients, VOTES_EACH, retries=120)
    wait_until(lambda: system.count() > 300, 60, "votes flowing")
    cluster.kill(placement.leader)
    survivor = placement.after(placement.leader)
    new_leader = cluster.wait_for(
        "a new leader",
        lambda: (
            (leader := cluster.queues(survivor)[system.queue]["leader"])
            != cluster.node(placement.leader)
            and leader
        ),
    )
    _finish(sender)
    _settle(system, outcomes, "cluster: queue leader's node SIGKILLed")
    assert cluster.index(new_leader) != placement.leader
    assert all(w.poll() is None for w in workers), "workers reconnect rather than exit"
    # kiosk 1 was on the killed node and went on through another; kiosk 2 never moved
    k1 = _kiosk_nodes(system, 0)
    assert k1[0] == placement.port(placement.leader) and len(set(k1)) > 1, k1
    assert set(_kiosk_nodes(system, 1)) == {placement.port(placement.kiosk2)}


def test_a_node_stopped_and_restarted_under_load(on_cluster, cluster):
    system, placement = on_cluster
    workers, clients = _start(system, placement)
    sender, outcomes = send_from_kiosks(clients, VOTES_EACH, retries=120)
    wait_until(lambda: system.count() > 300, 60, "votes flowing")
    stopped = placement.kiosk2  # kiosk 2's and worker 2's node, not the leader's
    cluster.stop_node(stopped)
    time.sleep(2)
    cluster.start_node(stopped)
    _finish(sender)
    _settle(system, outcomes, "cluster: a node stopped, restarted")
    assert cluster.running_nodes(1) == {cluster.node(i) for i in range(1, SIZE + 1)}
    cluster.wait_for(
        "the restarted node online in the queue",
        lambda: cluster.node(stopped) in cluster.queues(stopped)[system.queue]["online"],
    )
    assert all(w.poll() is None for w in workers)
    k2 = _kiosk_nodes(system, 1)
    assert k2[0] == placement.port(stopped) and len(set(k2)) > 1, k2  # it went elsewhere
    assert _worker_nodes(system, 1)[0] == placement.port(stopped)
    assert len(_worker_nodes(system, 1)) >= 2, "worker 2 connected again after its node went"


def test_a_workers_node_killed_mid_batch(on_cluster, cluster):
    system, placement = on_cluster
    # worker 1 holds its votes up to 2 s (or 1000) before storing and acknowledging them
    workers, clients = _start(system, placement, BATCH_SIZE="1000", BATCH_MS="2000")
    sender, outcomes = send_from_kiosks(clients, VOTES_EACH, retries=120)
    wait_until(lambda: system.count() > 300, 60, "votes flowing")
    victim = placement.worker1

    def held_unacknowledged() -> bool:
        """Whether a channel on the victim node (worker 1's: no other process consumes
        there) holds delivered votes it has not acknowledged yet."""
        channels = json.loads(
            cluster.rabbitmqctl(
                victim, "list_channels", "name", "messages_unacknowledged", "--formatter", "json"
            )
        )
        to_victim = f"-> 127.0.0.1:{placement.port(victim)} "  # "client -> node (number)"
        return any(to_victim in c["name"] and c["messages_unacknowledged"] > 0 for c in channels)

    wait_until(held_unacknowledged, 30, "worker 1 to hold a batch on its node", interval=0.05)
    cluster.kill(victim)
    _finish(sender)
    _settle(system, outcomes, "cluster: a worker's node SIGKILLed mid-batch")
    assert all(w.poll() is None for w in workers)
    seen = _worker_nodes(system, 0)
    assert seen[0] == placement.port(victim) and placement.port(victim) not in seen[1:], seen


OUTAGE_VOTES = 100  # per kiosk, sent from the moment the majority is down
AFTER_VOTES = 100  # per kiosk, sent once every node is back
HOLD = 8.0  # seconds the majority stays down: more than a kiosk waits for a confirm (5 s)


def test_a_majority_of_nodes_stopped_then_restarted(on_cluster, cluster):
    """Two of the three nodes stopped cleanly under load: the quorum queue has no quorum, so no
    vote can be confirmed and every kiosk must answer 503 until a node is back; then every vote,
    those refused meanwhile included (their clients retry them), is counted once."""
    system, placement = on_cluster
    workers, clients = _start(system, placement)
    sender, outcomes = send_from_kiosks(clients, VOTES_EACH, retries=120)
    wait_until(lambda: system.count() > 300, 60, "votes flowing")
    # kiosk 1's and worker 1's nodes go (the leader's first); kiosk 2 and worker 2 keep theirs
    survivor, stopped = placement.kiosk2, [placement.leader, placement.worker1]
    for node in stopped:
        cluster.stop_node(node)
    down = time.monotonic()
    during, during_outcomes = send_from_kiosks(clients, OUTAGE_VOTES, retries=120)
    time.sleep(HOLD)  # the outage: the clients keep sending (and retrying) all along
    up = time.monotonic()
    for node in stopped:
        cluster.start_node(node)
    cluster.wait_for(
        "every member online in the queue, with a leader",
        lambda: (
            (q := cluster.queues(survivor)[system.queue])["leader"] and len(q["online"]) == SIZE
        ),
    )
    after, after_outcomes = send_from_kiosks(clients, AFTER_VOTES, retries=120)
    for clients_of in (sender, during, after):
        _finish(clients_of)
    every = outcomes + during_outcomes + after_outcomes
    # a confirm already on its way when the second node went may be answered just after
    outage = (down + 1.0, up)
    accepted_in_outage = [
        o for o in every if o.status == 202 and outage[0] < o.answered < outage[1]
    ]
    # 503s answered in the outage (an attempt waits up to 5 s for its confirm: one sent in it
    # may be answered after it, one answered in it may have been sent before)
    refused_in_outage = [b for o in every for _, b in o.unavailable if outage[0] < b < outage[1]]
    _settle(
        system,
        every,
        "cluster: a majority of nodes stopped, then restarted",
        2 * (VOTES_EACH + OUTAGE_VOTES + AFTER_VOTES),
    )
    assert not accepted_in_outage, f"202 without a quorum: {accepted_in_outage[:5]}"
    spans = sorted(span for o in every for span in o.unavailable)
    assert refused_in_outage, f"no 503 in the outage {outage}: {spans[:60]}"
    assert all(w.poll() is None for w in workers), "workers reconnect rather than exit"
    assert cluster.running_nodes(survivor) == {cluster.node(i) for i in range(1, SIZE + 1)}
