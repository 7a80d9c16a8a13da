"""RabbitMQ for votes: the queue topology and a publisher that only reports success once the
broker has confirmed the message.

Topology (declared idempotently by the worker): a durable direct exchange and a durable queue,
both named ``<queue>``, bound by that name; kiosks publish to the exchange with the AMQP
``user_id`` property set to their own user, which RabbitMQ checks, so the worker can trust it as
the kiosk's identity. ``<queue>.dead`` holds messages the worker cannot use, with the reason in
the ``x-reject-reason`` header and the publisher in ``x-original-user-id``; the worker publishes
them to an exchange of that name, never through the default exchange (which reaches every
queue), so its broker user may write to its own names and nothing else. Both queues are of the
type ``VOTES_QUEUE_TYPE`` says (``lib.votes.queue_type``); one that exists with the other type is
a ConfigError for the worker and a refusal of every vote (503) for a kiosk that can see it.

The broker may be several nodes (``lib.votes.nodes``): a connection goes to one of them and, once
lost, the next goes to the next node round the list.

Properties the worker cannot decode (a header pika cannot turn into a Python value, such as a
NaN where it expects a number) would make pika raise inside its connection, and the message
would come back at every restart; ``tolerate_undecodable_properties`` makes such a message
arrive without its headers (its publisher and id kept) and the reason in ``undecodable``, so it
can be dead-lettered.

A pika connection is not thread-safe: ``VotePublisher`` keeps its connection in an I/O thread of
its own and takes votes from other threads through ``add_callback_threadsafe``. Make it after a
fork, never before (the kiosk makes one per server process, on the first vote).
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import deque

import pika
from pika import spec
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.exceptions import AMQPError, ChannelClosedByBroker
from pika.spec import Basic

from lib.errors import ConfigError, ProjectError
from lib.votes.backoff import Backoff
from lib.votes.message import Vote, encode
from lib.votes.nodes import Nodes, address
from lib.votes.queue_type import mismatch, queue_arguments

logger = logging.getLogger(__name__)

DEAD_SUFFIX = ".dead"


class BrokerUnavailable(ProjectError):
    """The broker could not be reached or did not confirm a message; nothing was handed over."""


def declare_topology(channel, queue: str, queue_type: str = "quorum") -> None:
    """The votes exchange and queue (both named ``queue``, bound by that name) and the
    dead-letter exchange and queue (both ``queue.dead``), the queues of type ``queue_type``;
    no-ops if they exist. The worker declares them; kiosks, which may only write to the votes
    exchange, never do. Raises ConfigError (one line saying what to do) if a queue exists with
    the other type; the channel is then closed."""
    dead = queue + DEAD_SUFFIX
    for name in (queue, dead):
        channel.exchange_declare(exchange=name, exchange_type="direct", durable=True)
        try:
            channel.queue_declare(queue=name, durable=True, arguments=queue_arguments(queue_type))
        except ChannelClosedByBroker as exc:
            line = mismatch(name, queue_type, exc.reply_code, exc.reply_text)
            if line is None:
                raise
            raise ConfigError(line) from None
        channel.queue_bind(queue=name, exchange=name, routing_key=name)


class _TolerantProperties(spec.BasicProperties):
    """Message properties that decode whatever arrives. On a value pika cannot decode (only a
    header can hold one), the other properties without the headers, and the reason in
    ``undecodable`` (None when everything decoded); if even that fails, none at all."""

    undecodable: str | None = None

    def decode(self, encoded, offset=0):
        try:
            return super().decode(encoded, offset)
        except Exception as exc:  # anything at all: a publisher chose these bytes
            reason = f"{type(exc).__name__}: {exc}"[:160]
        self.__init__()
        try:
            super().decode(_without_headers(encoded, offset))
        except Exception:  # noqa: BLE001 - not even that: no properties
            self.__init__()
        self.undecodable = reason
        return self


def _without_headers(encoded: bytes, offset: int) -> bytes:
    """Encoded basic properties with the headers table cut out (and its flag cleared): the
    fields before it are two short strings, the table says its own length."""
    (flags,) = struct.unpack_from(">H", encoded, offset)
    if flags & 1 or not flags & spec.BasicProperties.FLAG_HEADERS:
        raise ValueError("no headers to cut out, or flags pika does not know")
    at = offset + 2
    for flag in (
        spec.BasicProperties.FLAG_CONTENT_TYPE,
        spec.BasicProperties.FLAG_CONTENT_ENCODING,
    ):
        if flags & flag:
            at += 1 + encoded[at]
    (length,) = struct.unpack_from(">I", encoded, at)
    rest = encoded[offset + 2 : at] + encoded[at + 4 + length :]
    return struct.pack(">H", flags & ~spec.BasicProperties.FLAG_HEADERS) + rest


def tolerate_undecodable_properties() -> None:
    """Make this process's pika decode every message's properties through
    ``_TolerantProperties`` (pika looks the class up in ``spec.props`` for each content header).
    For a consumer, such as the worker: a message whose headers pika cannot decode would
    otherwise raise inside the connection, taking the consumer down at every delivery."""
    spec.props[spec.BasicProperties.INDEX] = _TolerantProperties


def persistent(message_id: str, user_id: str | None = None, **headers) -> pika.BasicProperties:
    """Properties of a persistent JSON message; ``user_id`` must be the connection's user
    (RabbitMQ refuses the message otherwise, which is what makes it trustworthy)."""
    return pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type="application/json",
        message_id=message_id,
        user_id=user_id,
        headers=headers or None,
    )


class _Waiter:
    """One published vote waiting for the broker's answer."""

    __slots__ = ("done", "error")

    def __init__(self):
        self.done = threading.Event()
        self.error: str | None = None

    def settle(self, error: str | None = None) -> None:
        if not self.done.is_set():
            self.error = self.error or error
            self.done.set()


class VotePublisher:
    """Publishes votes as persistent messages with publisher confirms and ``mandatory`` set.

    One connection and channel per process, driven by an I/O thread of its own (pika's
    SelectConnection); request threads hand votes to it and wait for the broker's confirmation.
    Confirmations arrive asynchronously and often several at once, so many threads share one
    connection without a round trip each. ``publish`` returns only once the broker confirmed; it
    raises BrokerUnavailable on a nack, an unroutable message, a lost connection or no answer
    within ``timeout``, and the caller must not claim the vote (a retry with the same vote id is
    safe: the worker stores a vote id once). A lost connection is re-opened to the next node of
    ``amqp_urls`` at once, and once every node has been tried, with capped backoff.

    On each connection, before taking votes, it checks the votes queue's type where its user may
    (declaring an existing queue needs the configure permission a kiosk's own user lacks: then
    the worker's check at its start is the one that holds): a queue of the other type makes every
    vote a BrokerUnavailable with the line saying so, until a later connection finds it right.
    """

    def __init__(
        self,
        amqp_urls: tuple[str, ...] | list[str] | str,
        queue: str,
        queue_type: str = "quorum",
        timeout: float = 5.0,
    ):
        self._nodes = Nodes([amqp_urls] if isinstance(amqp_urls, str) else amqp_urls)
        self._node = ""  # host:port of the node of the current connection
        self._user: str | None = None
        self._queue = queue
        self._queue_type = queue_type
        self._refusal: str | None = None  # why every vote is refused (a queue of the other type)
        self._tries = 0  # connections tried since the last one that became ready
        self._timeout = timeout
        self._ioloop = IOLoop()
        self._connection: SelectConnection | None = None
        self._channel = None
        self._ready = threading.Event()
        self._pending: dict[int, tuple[str, _Waiter]] = {}
        self._by_id: dict[str, _Waiter] = {}
        self._next_tag = 1
        self._backoff = Backoff(first=0.5, cap=10.0)
        self._last_confirm = 0.0  # monotonic time of the last confirm (or of being ready)
        self._renewed = 0.0  # monotonic time of the last renewal (_renew)
        self._closing = False
        self._lock = threading.Lock()
        self._outbox: deque[tuple[str, bytes, _Waiter]] = deque()
        self._draining = False
        self._thread = threading.Thread(target=self._run, name="vote-publisher", daemon=True)
        self._thread.start()

    # --- called from request threads -----------------------------------------------------------

    def publish(self, vote: Vote) -> None:
        waiter = _Waiter()
        body = encode(vote)
        if self._refusal is not None:
            raise BrokerUnavailable(self._refusal)
        if not self._ready.wait(min(self._timeout, 2.0)):
            raise BrokerUnavailable("broker unreachable: not connected")
        with self._lock:
            self._outbox.append((vote.vote_id, body, waiter))
            wake, self._draining = not self._draining, True
        if wake:  # one wake-up of the I/O thread carries every vote queued until it runs
            self._ioloop.add_callback_threadsafe(self._drain)
        if not waiter.done.wait(self._timeout):
            self._ioloop.add_callback_threadsafe(self._renew_if_silent)
            raise BrokerUnavailable(f"broker did not confirm within {self._timeout:g}s")
        if waiter.error:
            raise BrokerUnavailable(waiter.error)

    def reachable(self) -> bool:
        """Whether the connection to the broker is open (waits briefly while connecting)."""
        return self._ready.wait(1.0)

    def close(self) -> None:
        self._closing = True
        self._ioloop.add_callback_threadsafe(self._shutdown)
        self._thread.join(5)

    # --- the I/O thread -----------------------------------------------------------------------

    def _run(self) -> None:
        self._connect()
        self._ioloop.start()

    def _connect(self) -> None:
        params = self._nodes.take()
        self._node, self._user = address(params), params.credentials.username
        self._tries += 1
        self._connection = SelectConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_lost,
            on_close_callback=self._on_lost,
            custom_ioloop=self._ioloop,
        )

    def _on_open(self, connection) -> None:
        connection.channel(on_open_callback=self._check_queue_type)

    def _check_queue_type(self, channel) -> None:
        """On a channel of its own (the broker closes a channel on each refusal): if the queue
        exists (a passive declare: no permission needed), declare it with this type. A queue of
        the other type refuses every vote; no queue yet (the worker makes it) or a user that
        may not declare leaves it unchecked. Then the publishing channel opens."""

        def declare(_frame) -> None:
            channel.queue_declare(
                self._queue,
                durable=True,
                arguments=queue_arguments(self._queue_type),
                callback=lambda _frame: channel.close(),
            )

        def closed(_channel, reason) -> None:
            connection = self._connection
            if connection is None or not connection.is_open:
                return  # the connection went: _on_lost takes it from here
            code, text = getattr(reason, "reply_code", 0), getattr(reason, "reply_text", "")
            line = mismatch(self._queue, self._queue_type, code, str(text))
            if line is None:
                connection.channel(on_open_callback=self._on_channel)
                return
            self._refusal = line
            logger.error("refusing votes: %s", line)
            connection.close()

        channel.add_on_close_callback(closed)
        channel.queue_declare(self._queue, passive=True, callback=declare)

    def _on_channel(self, channel) -> None:
        # it publishes only: a kiosk never makes a queue or exchange (the type check above
        # declares only a queue that exists, to compare); the worker declares the topology
        channel.add_on_close_callback(lambda _ch, reason: self._on_lost(None, reason))
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _f: self._on_ready(channel))

    def _on_ready(self, channel) -> None:
        self._channel, self._next_tag = channel, 1
        self._last_confirm = time.monotonic()
        self._backoff.reset()
        self._tries, self._refusal = 0, None
        self._ready.set()
        logger.info("publisher connected to the broker at %s", self._node)

    def _drain(self) -> None:
        with self._lock:
            batch, self._outbox, self._draining = self._outbox, deque(), False
        for vote_id, body, waiter in batch:
            self._publish(vote_id, body, waiter)

    def _publish(self, vote_id: str, body: bytes, waiter: _Waiter) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            waiter.settle("broker unreachable: connection lost")
            return
        try:
            channel.basic_publish(
                self._queue,
                self._queue,
                body,
                persistent(vote_id, user_id=self._user),
                mandatory=True,
            )
        except (AMQPError, OSError) as exc:
            waiter.settle(f"broker unreachable: {exc!r}"[:200])
            return
        self._pending[self._next_tag] = (vote_id, waiter)
        self._by_id[vote_id] = waiter
        self._next_tag += 1

    def _on_return(self, _channel, _method, properties, _body) -> None:
        waiter = self._by_id.get(properties.message_id or "")
        if waiter is not None:
            waiter.error = "broker could not route the vote to its queue"

    def _on_confirm(self, frame) -> None:
        method = frame.method
        error = None if isinstance(method, Basic.Ack) else "broker refused the vote (nack)"
        tags = (
            [t for t in self._pending if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        for tag in tags:
            entry = self._pending.pop(tag, None)
            if entry is not None:
                vote_id, waiter = entry
                self._by_id.pop(vote_id, None)
                waiter.settle(error)
        self._last_confirm = time.monotonic()
        if error:
            self._renew("the broker refused a vote (nack)")

    def _renew_if_silent(self) -> None:
        """A vote went unconfirmed: if nothing at all was confirmed for a whole timeout while
        votes waited, the channel is stuck (not just slow): renew it."""
        if self._pending and time.monotonic() - self._last_confirm >= self._timeout:
            self._renew(f"no confirm for {self._timeout:g}s")

    def _renew(self, why: str) -> None:
        """Drop the connection (``_on_lost`` opens one to the next node), at most once a second.
        A nack, or a channel that confirms nothing, is a channel the broker will not take votes
        on: seen on a quorum queue whose leader was killed, where a channel opened during the
        election nacked every vote until it was closed, while new channels were served."""
        now = time.monotonic()
        connection = self._connection
        if connection is None or not connection.is_open or now - self._renewed < 1.0:
            return
        self._renewed = now
        logger.warning("renewing the broker connection to %s: %s", self._node, why)
        connection.close()

    def _on_lost(self, _connection, reason) -> None:
        if self._channel is None and self._connection is None:
            return
        self._ready.clear()
        self._channel = None
        for _vote_id, waiter in self._pending.values():
            waiter.settle(f"broker connection lost before confirming: {reason!r}"[:200])
        self._pending.clear()
        self._by_id.clear()
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            connection.close()
        if self._closing:
            self._ioloop.stop()
            return
        # another node at once, until each has been tried; then (or for a refusal) backoff
        fresh = self._tries < len(self._nodes) and self._refusal is None
        delay = 0.05 if fresh else self._backoff.next()
        logger.warning(
            "broker connection to %s lost (%r); retrying in %.2fs", self._node, reason, delay
        )
        self._ioloop.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        if self._connection is None and not self._closing:
            self._connect()

    def _shutdown(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        else:
            self._ioloop.stop()
