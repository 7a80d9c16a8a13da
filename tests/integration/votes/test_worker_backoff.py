"""The worker's reconnect backoff starts again from its shortest once a session has done its
work (stored a batch): after many outages a later one is not waited out at the cap. The real
worker, RabbitMQ and PostgreSQL; the outages are played by a proxy in front of RabbitMQ."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pika
import sqlalchemy as sa

from lib.db import connect
from lib.votes.backoff import Backoff
from lib.votes.broker import DEAD_SUFFIX, persistent
from lib.votes.message import Vote, encode
from lib.votes.settings import load_settings
from service.worker import Worker
from tests.integration.votes.vote_system import wait_until
from tests.support.tcp_proxy import TcpProxy


class Delays(logging.Handler):
    """The reconnect delays the worker logs, in order."""

    def __init__(self):
        super().__init__()
        self.delays: list[float] = []
        self.consuming = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("connection lost"):
            self.delays.append(record.args[-1])
        elif record.msg.startswith("consuming"):
            self.consuming += 1


def publish_a_vote(broker: pika.URLParameters, queue: str) -> None:
    """A vote straight onto the queue, past the proxy, as a kiosk of the broker user would."""
    vote = Vote(uuid.uuid4().hex, "1", "k1", datetime.now(UTC))
    connection = pika.BlockingConnection(broker)
    user = broker.credentials.username
    connection.channel().basic_publish(queue, queue, encode(vote), persistent(vote.vote_id, user))
    connection.close()


def stored(database_url: str) -> int:
    engine = connect(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM votes")).scalar()
    finally:
        engine.dispose()


def test_backoff_starts_again_once_a_session_has_consumed(database_url):
    broker = pika.URLParameters(load_settings().amqp_urls[0])
    queue = f"votes_test_{uuid.uuid4().hex[:10]}"
    credentials = f"{quote(broker.credentials.username)}:{quote(broker.credentials.password)}"
    with TcpProxy((broker.host, broker.port), forwarding=False) as proxy:
        url = f"amqp://{credentials}@127.0.0.1:{proxy.port}/%2F"
        settings = load_settings(
            {}, database_url=database_url, amqp_url=url, votes_queue=queue, batch_ms=20
        )
        worker = Worker(settings, Backoff(first=0.05, cap=0.4))
        log = Delays()
        logger = logging.getLogger("service.worker")
        logger.addHandler(log)
        level, _ = logger.level, logger.setLevel(logging.INFO)  # "consuming" is said at INFO
        runner = threading.Thread(target=worker.run, daemon=True)
        runner.start()
        try:
            # the broker is down: six failed attempts, the backoff climbs to its cap
            wait_until(lambda: len(log.delays) >= 6, 30, "six failed connection attempts")
            assert log.delays[:6] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
            proxy.forwarding = True  # the broker is back: the worker consumes, stores a vote
            wait_until(lambda: log.consuming, 30, "the worker to consume")
            publish_a_vote(broker, queue)
            wait_until(lambda: stored(database_url) == 1, 30, "the vote to be stored")
            failures = len(log.delays)
            proxy.cut()  # and lost again
            wait_until(lambda: len(log.delays) > failures, 30, "the worker to notice the cut")
            assert log.delays[failures] == 0.05  # from the shortest again, not the cap
            wait_until(lambda: log.consuming >= 2, 30, "the worker to consume again")
        finally:
            worker.stop()
            runner.join(30)
            logger.removeHandler(log)
            logger.setLevel(level)
    assert not runner.is_alive()
    connection = pika.BlockingConnection(broker)
    channel = connection.channel()
    channel.queue_delete(queue)
    channel.queue_delete(queue + DEAD_SUFFIX)
    channel.exchange_delete(queue)
    channel.exchange_delete(queue + DEAD_SUFFIX)
    connection.close()
