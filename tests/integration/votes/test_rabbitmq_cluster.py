"""A RabbitMQ cluster of the tests' own (scripts/rabbitmq-cluster.sh, beside the system node):
three nodes clustered, and a quorum queue that keeps every confirmed message when the node
leading it is SIGKILLed, served on by the others, and joined again by that node on restart.

The module's timings (cluster start, failover, rejoin, stop) are printed at its end."""

from __future__ import annotations

import time
import uuid

import pika
import pytest

from tests.support.rabbit_cluster import ClusterError, rabbit_cluster

# slow too: alone, each test waits for its module's cluster to start (~20 s)
pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SIZE = 3
N_MESSAGES = 1000
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def cluster(request):
    started = time.monotonic()
    with rabbit_cluster(SIZE) as running:
        TIMINGS["start 3 nodes (after clearing leftovers)"] = time.monotonic() - started
        yield running
        stopping = time.monotonic()
    TIMINGS["stop and remove"] = time.monotonic() - stopping
    line = "rabbitmq cluster: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items())
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + line)


def _connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 10
    return pika.BlockingConnection(params)


def _publish(url: str, queue: str, bodies) -> None:
    """Each body, persistent, confirmed by the broker (pika raises on a nack or a return)."""
    connection = _connect(url)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(
                "", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True
            )
    finally:
        connection.close()


def _peek(url: str, queue: str) -> bytes | None:
    """One message's body, put back on the queue; None if the queue is empty."""
    connection = _connect(url)
    try:
        channel = connection.channel()
        method, _, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            return None
        channel.basic_reject(method.delivery_tag, requeue=True)
        return body
    finally:
        connection.close()


def _drain(url: str, queue: str, expected: int) -> list[bytes]:
    """The messages on the queue, as a consumer gets them, each acknowledged: until ``expected``
    came, or none came for 5 s."""
    connection = _connect(url)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=100)
        bodies = []
        for method, _, body in channel.consume(queue, inactivity_timeout=5):
            if method is None:
                break
            bodies.append(body)
            channel.basic_ack(method.delivery_tag)
            if len(bodies) == expected:
                break
        channel.cancel()
        return bodies
    finally:
        connection.close()


def test_three_nodes_start_clustered_and_answer_amqp(cluster):
    nodes = {cluster.node(i) for i in range(1, SIZE + 1)}
    assert cluster.urls == [
        f"amqp://guest:guest@127.0.0.1:{cluster.port + k}/%2F" for k in range(SIZE)
    ]
    assert cluster.running_nodes(1) == nodes
    for url in cluster.urls:
        connection = _connect(url)
        assert connection.is_open
        connection.close()
    # Starting again leaves the running nodes alone: the same processes answer.
    before = cluster.script("status").splitlines()[:SIZE]
    assert all(line.endswith(" up") for line in before), before
    cluster.start()
    assert cluster.script("status").splitlines()[:SIZE] == before


def test_a_quorum_queue_keeps_every_confirmed_message_when_its_leader_is_killed(cluster):
    cluster.start()  # every node up, whatever an earlier test left
    queue = f"rp-test-quorum-{uuid.uuid4().hex[:8]}"
    nodes = {cluster.node(i) for i in range(1, SIZE + 1)}
    connection = _connect(cluster.urls[0])
    connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    connection.close()
    sent = [f"vote-{k}".encode() for k in range(N_MESSAGES)]
    _publish(cluster.urls[0], queue, sent)

    described = cluster.queues(1)[queue]
    assert described["type"] == "quorum"
    assert set(described["members"]) == nodes
    leader = cluster.index(described["leader"])
    survivor = next(i for i in range(1, SIZE + 1) if i != leader)
    survivor_url = cluster.urls[survivor - 1]

    killed = time.monotonic()
    cluster.kill(leader)
    # The queue answers through another node once the others have elected a new leader.
    assert cluster.wait_for("a message from the queue", lambda: _peek(survivor_url, queue))
    TIMINGS["queue usable after its leader's SIGKILL"] = time.monotonic() - killed
    assert cluster.node(leader) not in cluster.running_nodes(survivor)
    new_leader = cluster.queues(survivor)[queue]["leader"]
    assert new_leader != cluster.node(leader)
    assert new_leader in nodes

    # It takes confirmed publishes through a survivor and hands back every message, once.
    _publish(survivor_url, queue, [b"after-the-kill"])
    received = _drain(survivor_url, queue, N_MESSAGES + 1)
    assert len(received) == N_MESSAGES + 1
    assert sorted(received) == sorted([*sent, b"after-the-kill"])
    assert _peek(survivor_url, queue) is None

    # The killed node comes back into the cluster and into the queue's membership, and serves.
    restarting = time.monotonic()
    cluster.start_node(leader)
    TIMINGS["killed node restarted and rejoined"] = time.monotonic() - restarting
    assert cluster.running_nodes(leader) == nodes
    cluster.wait_for(
        "the restarted node online in the queue",
        lambda: cluster.node(leader) in cluster.queues(survivor)[queue]["online"],
    )
    _publish(cluster.urls[leader - 1], queue, [b"after-the-rejoin"])
    assert _drain(cluster.urls[leader - 1], queue, 1) == [b"after-the-rejoin"]
    assert _peek(cluster.urls[leader - 1], queue) is None


def test_a_cleanly_stopped_node_rejoins(cluster):
    cluster.start()
    nodes = {cluster.node(i) for i in range(1, SIZE + 1)}
    cluster.stop_node(SIZE)
    assert cluster.running_nodes(1) == nodes - {cluster.node(SIZE)}
    with pytest.raises(ClusterError, match=r"status failed \(1\)"):
        cluster.script("status")  # a node down: status says so in its exit code
    cluster.start_node(SIZE)
    assert cluster.running_nodes(SIZE) == nodes
