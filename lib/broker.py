"""RabbitMQ for votes: the queue topology and a publisher that only reports success once the
broker has confirmed the message.

Topology (declared idempotently by kiosk and worker alike): a durable queue ``<queue>`` that
kiosks publish to through the default exchange, and ``<queue>.dead`` where the worker puts
messages it cannot use, with the reason in the ``x-reject-reason`` header.

A pika connection is not thread-safe: each ``VotePublisher`` owns one connection and must be used
from one thread only (the kiosk keeps one per server thread).
"""

from __future__ import annotations

import logging

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

from lib.errors import ProjectError
from lib.votes import Vote, encode

logger = logging.getLogger(__name__)

DEAD_SUFFIX = ".dead"


class BrokerUnavailable(ProjectError):
    """The broker could not be reached or did not confirm a message; nothing was handed over."""


def connection_parameters(amqp_url: str, heartbeat: int = 30) -> pika.URLParameters:
    """Connection settings that fail fast: one attempt, short socket and blocked timeouts."""
    params = pika.URLParameters(amqp_url)
    params.connection_attempts = 1
    params.socket_timeout = 3
    params.stack_timeout = 5
    params.blocked_connection_timeout = 5
    params.heartbeat = heartbeat
    params.client_properties = {"connection_name": "random-practise votes"}
    return params


def declare_topology(channel, queue: str) -> None:
    """The durable votes queue and its dead-letter queue (no-ops if they exist)."""
    channel.queue_declare(queue=queue, durable=True)
    channel.queue_declare(queue=queue + DEAD_SUFFIX, durable=True)


def persistent(message_id: str, **headers) -> pika.BasicProperties:
    """Properties of a persistent JSON message."""
    return pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type="application/json",
        message_id=message_id,
        headers=headers or None,
    )


class VotePublisher:
    """Publishes votes as persistent messages with publisher confirms and ``mandatory`` set.

    Connects lazily and reconnects once per publish if the connection was lost. ``publish``
    returns only after the broker confirmed; otherwise it raises BrokerUnavailable, and the
    caller must not claim the vote (a retry with the same vote id is safe: the worker stores a
    vote id once).
    """

    def __init__(self, amqp_url: str, queue: str):
        self._params = connection_parameters(amqp_url)
        self._queue = queue
        self._connection = None
        self._channel = None

    def publish(self, vote: Vote) -> None:
        body = encode(vote)
        for attempt in (1, 2):
            try:
                channel = self._ensure_channel()
                channel.basic_publish(
                    exchange="",
                    routing_key=self._queue,
                    body=body,
                    properties=persistent(vote.vote_id),
                    mandatory=True,
                )
                return
            except (NackError, UnroutableError) as exc:
                self.close()
                raise BrokerUnavailable(f"broker did not accept the vote: {exc!r}") from None
            except (AMQPError, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise BrokerUnavailable(f"broker unreachable: {exc!r}"[:200]) from None
                logger.info("publish failed (%r), reconnecting once", exc)

    def reachable(self) -> bool:
        """Whether a channel to the broker is open or can be opened now."""
        try:
            self._ensure_channel()
            self._connection.process_data_events(0)
            return True
        except (AMQPError, OSError):
            self.close()
            return False

    def _ensure_channel(self):
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = pika.BlockingConnection(self._params)
            channel = self._connection.channel()
            declare_topology(channel, self._queue)
            channel.confirm_delivery()
            self._channel = channel
        return self._channel

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError):
                pass
