"""The broker's nodes as a process sees them: the URLs of ``AMQP_URL`` in the order given, and
which one to connect to next.

A process starts at the first URL and, on losing a node (or failing to reach it), moves on to the
next, round the list; so kiosks and workers given the list starting at different nodes connect to
different nodes, and a process that loses its node goes to another rather than waiting for it.
Only which node to try is decided here; when to try again (backoff) is the caller's recovery.
"""

from __future__ import annotations

import logging

import pika
from pika.exceptions import AMQPConnectionError

logger = logging.getLogger(__name__)


def connection_parameters(
    amqp_url: str, heartbeat: int = 30, blocked_timeout: float | None = 5
) -> pika.URLParameters:
    """Connection settings that fail fast: one attempt, short socket and blocked timeouts.
    ``blocked_timeout``: seconds pika lets the broker keep the connection blocked (a memory or
    disk alarm: ``connection.blocked``) before dropping it; None: as long as the broker does."""
    params = pika.URLParameters(amqp_url)
    params.connection_attempts = 1
    params.socket_timeout = 3
    params.stack_timeout = 5
    params.blocked_connection_timeout = blocked_timeout
    params.heartbeat = heartbeat
    params.client_properties = {"connection_name": "random-practise votes"}
    return params


def address(params: pika.ConnectionParameters) -> str:
    """``host:port`` of a node: what logs name (never the credentials)."""
    return f"{params.host}:{params.port}"


class Nodes:
    """The nodes of ``amqp_urls``, tried in turn: ``take()`` gives the node to try now and makes
    the following one next; ``in_turn()`` gives every node, from the next one round the list."""

    def __init__(
        self,
        amqp_urls: tuple[str, ...] | list[str],
        heartbeat: int = 30,
        blocked_timeout: float | None = 5,
    ):
        if not amqp_urls:
            raise ValueError("no broker URL")
        self.params = [connection_parameters(url, heartbeat, blocked_timeout) for url in amqp_urls]
        self._next = 0

    def __len__(self) -> int:
        return len(self.params)

    def take(self) -> pika.URLParameters:
        params = self.params[self._next]
        self._next = (self._next + 1) % len(self.params)
        return params

    def in_turn(self) -> list[pika.URLParameters]:
        return self.params[self._next :] + self.params[: self._next]

    def connect(self) -> tuple[pika.BlockingConnection, pika.URLParameters]:
        """A blocking connection to the first node that answers, from the next one round the
        list; the node after it is next. Raises the last node's AMQPConnectionError if none
        answers (and the node after the first tried is next)."""
        last: AMQPConnectionError | None = None
        for _ in range(len(self.params)):
            params = self.take()
            try:
                return pika.BlockingConnection(params), params
            except AMQPConnectionError as exc:
                logger.info("broker node %s unreachable: %r", address(params), exc)
                last = exc
        self.take()  # start the next round one node further on
        assert last is not None
        raise last
