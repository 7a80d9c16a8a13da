"""Per-kiosk broker users (scripts/rabbitmq-users.sh): a kiosk may only publish votes, as
itself; the worker stores the identity RabbitMQ checked, not what the message body says."""

from __future__ import annotations

import subprocess
import uuid

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from lib.votes.broker import DEAD_SUFFIX
from tests.integration.votes.vote_system import ROOT, wait_until
from tests.support.kiosk_client import drive


def _users(action: str, name: str, queue: str, **env: str) -> str:
    done = subprocess.run(
        ["bash", "scripts/rabbitmq-users.sh", action, name],
        cwd=ROOT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VOTES_QUEUE": queue, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def broker_users(vote_system):
    suffix = uuid.uuid4().hex[:8]
    kiosk, worker = f"kiosk-test-{suffix}", f"worker-test-{suffix}"
    urls = {
        "kiosk": _users("add-kiosk", kiosk, vote_system.queue),
        "worker": _users("add-worker", worker, vote_system.queue),
    }
    try:
        yield kiosk, urls
    finally:
        for name in (kiosk, worker):
            subprocess.run(["rabbitmqctl", "-q", "delete_user", name], capture_output=True)


def test_votes_from_a_kiosk_user_are_stored_under_its_checked_identity(vote_system, broker_users):
    kiosk_user, urls = broker_users
    assert urls["kiosk"].startswith(f"amqp://{kiosk_user}:")
    vote_system.start_worker(AMQP_URL=urls["worker"])
    _, client = vote_system.start_kiosk("claims-to-be-k1", AMQP_URL=urls["kiosk"])
    outcomes = drive("127.0.0.1", client.port, 30, ["1", "2", "3"], threads=2)
    assert all(o.status == 202 for o in outcomes)
    vote_system.wait_for_total(30)
    assert vote_system.sql("SELECT DISTINCT kiosk_id FROM votes") == [(kiosk_user,)]


def test_a_kiosk_user_can_neither_read_configure_nor_impersonate(vote_system, broker_users):
    _, urls = broker_users
    connection = pika.BlockingConnection(pika.URLParameters(urls["kiosk"]))
    try:
        with pytest.raises(ChannelClosedByBroker) as caught:
            connection.channel().basic_get(vote_system.queue)
        assert caught.value.reply_code == 403
        with pytest.raises(ChannelClosedByBroker) as caught:
            connection.channel().queue_declare("somewhere-else", durable=True)
        assert caught.value.reply_code == 403
        channel = connection.channel()
        channel.confirm_delivery()
        with pytest.raises(ChannelClosedByBroker) as caught:  # forged identity
            channel.basic_publish(
                vote_system.queue,
                vote_system.queue,
                b"{}",
                pika.BasicProperties(user_id="guest"),
            )
        assert caught.value.reply_code == 406
    finally:
        connection.close()
    assert vote_system.queue_depth() == 0


def test_a_worker_user_may_use_its_own_names_and_no_other_queue(vote_system, broker_users):
    _, urls = broker_users
    queue, dead = vote_system.queue, vote_system.queue + DEAD_SUFFIX
    elsewhere = f"elsewhere-{uuid.uuid4().hex[:8]}"
    admin = vote_system.connect()
    admin.channel().queue_declare(elsewhere)
    connection = pika.BlockingConnection(pika.URLParameters(urls["worker"]))
    try:
        for exchange, routing_key in [("", elsewhere), ("", queue), ("amq.direct", elsewhere)]:
            channel = connection.channel()
            channel.confirm_delivery()
            with pytest.raises(ChannelClosedByBroker) as caught:
                channel.basic_publish(exchange, routing_key, b"{}", pika.BasicProperties())
            assert caught.value.reply_code == 403, (exchange, routing_key)
        with pytest.raises(ChannelClosedByBroker) as caught:
            connection.channel().queue_declare(elsewhere, passive=False, durable=True)
        assert caught.value.reply_code == 403
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(dead, dead, b"dead letter", pika.BasicProperties())  # its own
    finally:
        if connection.is_open:
            connection.close()
        admin.channel().queue_delete(elsewhere)
        admin.close()
    assert vote_system.queue_depth(DEAD_SUFFIX) == 1


def test_a_worker_user_dead_letters_poison(vote_system, broker_users):
    kiosk_user, urls = broker_users
    vote_system.start_worker(AMQP_URL=urls["worker"])
    connection = pika.BlockingConnection(pika.URLParameters(urls["kiosk"]))
    channel = connection.channel()
    channel.confirm_delivery()
    queue = vote_system.queue
    channel.basic_publish(queue, queue, b"[" * 5000, pika.BasicProperties(user_id=kiosk_user))
    connection.close()
    wait_until(lambda: vote_system.queue_depth(DEAD_SUFFIX) == 1, 30, "the dead letter")
    assert vote_system.queue_depth() == 0
    admin = vote_system.connect()
    _, props, body = admin.channel().basic_get(queue + DEAD_SUFFIX, auto_ack=True)
    admin.close()
    assert body == b"[" * 5000 and props.headers["x-original-user-id"] == kiosk_user
    assert "larger than" in props.headers["x-reject-reason"]


def test_two_kiosks_may_use_the_same_vote_id(vote_system, broker_users):
    kiosk_user, urls = broker_users
    vote_system.start_worker()
    _, own = vote_system.start_kiosk("k-own", AMQP_URL=urls["kiosk"])
    _, guest = vote_system.start_kiosk("k-guest")  # the test's own broker user, guest
    assert own.post_vote("1", "shared-vote-id").status == 202
    assert guest.post_vote("2", "shared-vote-id").status == 202
    assert guest.post_vote("2", "shared-vote-id").status == 202  # a retry: counts once
    assert vote_system.wait_for_total(2)["totals"] == {"1": 1, "2": 1, "3": 0}
    assert sorted(vote_system.sql("SELECT kiosk_id, vote_id FROM votes")) == [
        ("guest", "shared-vote-id"),
        (kiosk_user, "shared-vote-id"),
    ]
    assert vote_system.queue_depth(DEAD_SUFFIX) == 0


def test_a_user_made_for_a_cluster_gets_one_url_per_node(vote_system):
    """Users are cluster-wide: one user, and its AMQP_URL lists every node of AMQP_HOST (here
    two names of this machine's node, so that the kiosk can use the list)."""
    name = f"kiosk-test-{uuid.uuid4().hex[:8]}"
    hosts = "127.0.0.1:5672,localhost:5672"
    try:
        amqp_url = _users("add-kiosk", name, vote_system.queue, AMQP_HOST=hosts)
        urls = amqp_url.split(",")
        assert [u.rsplit("@", 1)[1] for u in urls] == ["127.0.0.1:5672/%2F", "localhost:5672/%2F"]
        assert urls[0].split("@")[0] == urls[1].split("@")[0]  # the same user and secret
        vote_system.start_worker()
        _, client = vote_system.start_kiosk("k1", AMQP_URL=amqp_url)
        assert client.post_vote("1", retries=10).status == 202
        vote_system.wait_for_total(1)
        assert vote_system.sql("SELECT kiosk_id FROM votes") == [(name,)]
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_user", name], capture_output=True)
