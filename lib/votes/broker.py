"""RabbitMQ for votes: the queue topology and a publisher that only reports success once the
broker has confirmed the message.

Topology (declared idempotently by the worker): a durable direct exchange and a durable queue, both
named ``<queue>``, bound by that name; kiosks publish to the exchange with the AMQP ``user_id``
property set to their own user, which RabbitMQ checks, so the worker can trust it as the kiosk's
identity. The exchange also routes every vote to a stream, ``<queue>.replay``, kept for a while
(``lib.votes.replay``): the broker confirms a vote only once both hold it, and the worker replays
the stream when the votes queue is lost. ``<queue>.dead`` holds messages the worker cannot use,
with the reason in the ``x-reject-reason`` header and the publisher in ``x-original-user-id``; the
worker publishes them to an exchange of that name, never through the default exchange (which
reaches every queue), so its broker user may write to its own names and nothing else. Both queues
are of the type ``VOTES_QUEUE_TYPE`` says (``lib.votes.queue_type``) and refuse publishes when full
rather than drop votes (``lib.votes.queue_arguments``). One that exists with the other type is a
ConfigError for the worker; one that could lose votes is unbound from its exchange (so no vote
reaches it, nor the stream: a kiosk's vote is then unroutable, a 503) and an UnsafeQueue for the
worker. Either is a refusal of every vote (503) for a kiosk that can see it.

The broker may be several nodes (``lib.votes.nodes``): a connection goes to one of them and, once
lost, the next goes to the next node round the list.

Properties the worker cannot decode (a header pika cannot turn into a Python value, such as a
NaN where it expects a number) would make pika raise inside its connection, and the message
would come back at every restart; ``tolerate_undecodable_properties`` makes such a message
arrive without its headers (its publisher and id kept) and the reason in ``undecodable``, so it
can be dead-lettered.

A broker short of memory or disk (an alarm) blocks every connection that publishes and says so
(``connection.blocked``, with its reason; ``connection.unblocked`` when the alarm clears). The
publisher keeps the connection (alarms are cluster-wide: another node would block it too) and
refuses votes at once while it is blocked (BrokerBlocked) rather than leave them waiting for
confirms. RabbitMQ (3.10) tells only a connection that publishes, so the queue's check also
publishes an empty probe that no queue is bound to receive: an idle kiosk learns of an alarm
within a check interval, not at its next vote.

A pika connection is not thread-safe: ``VotePublisher`` keeps its connection in an I/O thread of
its own and takes votes from other threads through ``add_callback_threadsafe``. Make it after a
fork, never before (the kiosk makes one per server process, on the first vote).
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable

import pika
from pika import spec
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.exceptions import AMQPError, ChannelClosedByBroker
from pika.spec import Basic

from lib.errors import ConfigError, ProjectError
from lib.votes.backoff import Backoff
from lib.votes.message import Vote, encode
from lib.votes.nodes import Nodes, address
from lib.votes.queue_arguments import ArgumentProbe, Verdict
from lib.votes.replay import declare_replay_stream

logger = logging.getLogger(__name__)

DEAD_SUFFIX = ".dead"


class BrokerUnavailable(ProjectError):
    """The broker could not be reached or did not confirm a message; nothing was handed over."""


class VotesRefused(BrokerUnavailable):
    """Votes are refused on purpose (the votes queue is missing, or could lose them); the
    message is a reason a client may be shown."""


class BrokerBlocked(VotesRefused):
    """The broker blocks publishing (a memory or disk alarm): votes are refused until it
    unblocks; the message says so, with the broker's reason. ``sent``: the vote had gone to the
    broker before it blocked, so it may still be stored once the block lifts (a retry with the
    same vote id counts once); otherwise it was never sent."""

    def __init__(self, line: str, sent: bool = False):
        super().__init__(line)
        self.sent = sent


class UnsafeQueue(ConfigError):
    """A votes queue exists with arguments that could lose votes; ``queue`` names it. It was
    unbound from its exchange, so no vote reaches it."""

    def __init__(self, line: str, queue: str):
        super().__init__(line)
        self.queue = queue


NO_QUEUE = "no queue takes votes (the votes queue is missing or being replaced)"


def declare_topology(
    channel, queue: str, queue_type: str = "quorum", max_length: int = 0
) -> tuple[str, ...]:
    """The votes exchange and queue (both named ``queue``, bound by that name), the votes'
    stream ``queue.replay`` bound beside the votes queue (``lib.votes.replay``) and the
    dead-letter exchange and queue (both ``queue.dead``), the queues of type ``queue_type``
    refusing publishes when full, the votes queue holding at most ``max_length`` votes (0: no
    limit); no-ops if they exist as declared. The worker declares them; kiosks, which may only
    write to the votes exchange, never do. Returns lines worth a warning (a queue that differs
    from the declaration without losing votes: ``Verdict.notes``). Raises ConfigError (one line
    saying what to do) if a queue exists with the other type, UnsafeQueue if one could lose votes
    (the dead-letter queue's, if both could), once such a queue is unbound from its exchange (a
    votes queue with the stream: no vote is then routed anywhere) and the other queue is in
    place. ``channel`` stays open; the queues are compared on channels of
    their own (the broker closes one on each refusal)."""
    notes: list[str] = []
    unsafe = None
    for name, limit in ((queue, max_length), (queue + DEAD_SUFFIX, 0)):
        channel.exchange_declare(exchange=name, exchange_type="direct", durable=True)
        verdict = probe_queue(channel.connection, name, queue_type, limit)
        if verdict.problem is None:
            notes.extend(verdict.notes)
            channel.queue_bind(queue=name, exchange=name, routing_key=name)
        elif not verdict.could_lose:
            raise ConfigError(verdict.problem)
        else:  # at once: no vote may reach it while the other queue is declared
            channel.queue_unbind(queue=name, exchange=name, routing_key=name)
            unsafe = UnsafeQueue(verdict.problem, name)
        if name == queue:  # the votes' stream takes votes only beside a votes queue that may
            votes_safe = unsafe is None
            notes.extend(declare_replay_stream(channel, queue, route_votes=votes_safe))
    if unsafe is not None:
        raise unsafe
    return tuple(notes)


def probe_queue(connection, queue: str, queue_type: str, max_length: int = 0) -> Verdict:
    """Declare ``queue`` (made if missing) on a blocking ``connection`` until the broker accepts
    a declaration, and judge the queue it exists as (``ArgumentProbe``). Refusals other than
    PRECONDITION_FAILED (406) are raised (ChannelClosedByBroker)."""
    probe = ArgumentProbe(queue, queue_type, max_length)
    while True:
        channel = connection.channel()
        try:
            channel.queue_declare(queue=queue, durable=True, arguments=probe.arguments)
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 406:
                raise
            verdict = probe.refused(exc.reply_code, exc.reply_text)
            if verdict is not None:
                return verdict
            continue
        channel.close()
        return probe.accepted()


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


class _CoalescingConnection(SelectConnection):
    """A SelectConnection that hands each message to its socket as one buffer, not three (pika
    writes a publish's method, header and body frames apart, and its transport sends each with
    a send() of its own: with TCP_NODELAY, three segments a vote for the broker to take in), and,
    while ``held``, every message of a batch as one. The bytes and their order are pika's own."""

    _held: list[bytes] | None = None

    def _output_marshaled_frames(self, marshaled_frames) -> None:
        if self._held is not None:
            self._held.extend(marshaled_frames)
            return
        self._emit(list(marshaled_frames))

    def _emit(self, frames: list[bytes]) -> None:
        if frames:
            self.frames_sent += len(frames) - 1  # pika counts the one buffer as one frame
            super()._output_marshaled_frames([b"".join(frames)])

    @contextlib.contextmanager
    def held(self):
        """Messages published in the block go to the socket together as it ends."""
        self._held = []
        try:
            yield
        finally:
            frames, self._held = self._held, None
            self._emit(frames)


class _Latch:
    """A one-shot ``threading.Event`` for one waiter: ``set`` once (by the I/O thread), ``wait``
    and ``is_set`` as an Event's. A lock held until set: an Event's condition took a lock made
    for each wait, and a notify loop, for every vote."""

    __slots__ = ("_lock", "_set")

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        if self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            self._lock.release()  # set for good: another wait passes too
            return True
        return self._set


class _Waiter:
    """One published vote waiting for the broker's answer; ``refused``: the error is a refusal
    a client may be shown (VotesRefused), not a broker fault; ``blocked``: the refusal is the
    broker blocking publishing (BrokerBlocked); ``sent``: the vote went to the broker."""

    __slots__ = ("blocked", "done", "error", "refused", "sent")

    def __init__(self):
        self.done = _Latch()
        self.error: str | None = None
        self.refused = False
        self.blocked = False
        self.sent = False

    def settle(self, error: str | None = None) -> None:
        if not self.done.is_set():
            self.error = self.error or error
            self.done.set()


_MISSING = "missing"  # a check's outcome: no votes queue (the worker makes it)
_UNCHECKED = "unchecked"  # a check's outcome: the queue exists; this user may not compare it
CHECK_INTERVAL = 5.0  # seconds between checks of the votes queue while votes are taken
RECHECK_INTERVAL = 0.5  # ... while they are refused
NACKED = "the ballot box refused the vote (its queue may be full)"
PROBE_SUFFIX = ".blocked-probe"  # the probe's routing key: the votes queue's name and this


def blocked_line(reason: str) -> str:
    """What a refusal says while the broker blocks publishing for ``reason`` (its own words)."""
    return f"broker blocked: {reason or 'no reason given'}"[:200]


class VotePublisher:
    """Publishes votes as persistent messages with publisher confirms and ``mandatory`` set.

    One connection and channel per process, driven by an I/O thread of its own (pika's
    SelectConnection); request threads hand votes to it and wait for the broker's confirmation.
    Confirmations arrive asynchronously and often several at once, so many threads share one
    connection without a round trip each. ``publish`` returns only once the broker confirmed; it
    raises BrokerUnavailable on a nack (a full queue refuses so), an unroutable message, a lost
    connection or no answer within ``timeout``, and the caller must not claim the vote (a retry
    with the same vote id is safe: the worker stores a vote id once). A lost connection is
    re-opened to the next node of ``amqp_urls`` at once, and once every node has been tried,
    with capped backoff.

    While the broker blocks the connection (``blocked()``: a memory or disk alarm), ``publish``
    raises BrokerBlocked at once, and the votes waiting for a confirm when it said so are
    refused the same way (they may still be confirmed once it unblocks: a retry with the same
    vote id counts once). ``on_blocked`` is called from the I/O thread with the line saying why
    when the connection is blocked, and with None when it is unblocked or lost.

    A confirm alone does not say a queue holds the vote: the broker confirms an unroutable
    message too (after returning it, which ``mandatory`` asks for). Each message carries its
    delivery tag as ``correlation_id``, so a return marks exactly that vote: it is refused
    (VotesRefused), and so is every vote after it until a check finds the queue again.

    The check runs on a channel of its own: at each connection before votes are taken, then
    every ``CHECK_INTERVAL`` seconds (``RECHECK_INTERVAL`` while votes are refused) and at once
    after a returned vote. If the queue exists (a passive declare: no permission needed) it is
    declared as the worker declares it and judged (``lib.votes.queue_arguments``): a queue of the
    other type, or one that could lose votes, makes every vote a VotesRefused with the line
    saying why, until a check finds it right. Declaring an existing queue needs the configure
    permission a kiosk's own user lacks: such a publisher checks only that the queue exists, and
    the worker's check (which unbinds a queue that could lose votes) is the one that holds.
    """

    def __init__(
        self,
        amqp_urls: tuple[str, ...] | list[str] | str,
        queue: str,
        queue_type: str = "quorum",
        timeout: float = 5.0,
        max_length: int = 0,
        check_interval: float = CHECK_INTERVAL,
        on_blocked: Callable[[str | None], None] | None = None,
    ):
        # blocked for as long as the broker says: it unblocks the connection itself
        urls = [amqp_urls] if isinstance(amqp_urls, str) else amqp_urls
        self._nodes = Nodes(urls, blocked_timeout=None)
        self._node = ""  # host:port of the node of the current connection
        self._user: str | None = None
        self._queue = queue
        self._queue_type = queue_type
        self._max_length = max_length
        self._check_interval = check_interval
        self._refusal: str | None = None  # why the last check refuses every vote
        self._unrouted = 0  # votes the broker returned as unroutable, so far
        self._cleared = 0  # _unrouted when the last check that found the queue began
        self._checking = False
        self._checked = False  # this connection's first check is done
        self._may_declare = True  # this connection's user may declare the queue to compare it
        self._check_timer = None
        self._noted: set[str] = set()  # notes on the queue logged already
        self._session = 0  # connections made: callbacks of an earlier one are ignored
        self._blocked: str | None = None  # why the broker blocks this connection, while it does
        self._on_blocked_change = on_blocked
        self._tries = 0  # connections tried since the last one that became ready
        self._timeout = timeout
        self._ioloop = IOLoop()
        self._connection: _CoalescingConnection | None = None
        self._channel = None
        self._confirming = None  # the publishing channel, once in confirm mode
        self._ready = threading.Event()
        self._pending: dict[int, _Waiter] = {}  # by delivery tag
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
        blocked = self._blocked
        if blocked is not None:  # before waiting for anything: refused at once
            raise BrokerBlocked(blocked)
        if not self._ready.wait(min(self._timeout, 2.0)):  # ready: the queue checked once
            raise BrokerUnavailable("broker unreachable: not connected")
        refusal = self.refusal()
        if refusal is not None:
            raise VotesRefused(refusal)
        with self._lock:
            self._outbox.append((vote.vote_id, body, waiter))
            wake, self._draining = not self._draining, True
        if wake:  # one wake-up of the I/O thread carries every vote queued until it runs
            self._ioloop.add_callback_threadsafe(self._drain)
        if not waiter.done.wait(self._timeout):
            self._ioloop.add_callback_threadsafe(self._renew_if_silent)
            raise BrokerUnavailable(f"broker did not confirm within {self._timeout:g}s")
        if waiter.error:
            if waiter.blocked:
                raise BrokerBlocked(waiter.error, sent=waiter.sent)
            raise (VotesRefused if waiter.refused else BrokerUnavailable)(waiter.error)

    def reachable(self) -> bool:
        """Whether the connection to the broker is open (waits briefly while connecting; a
        connection the broker blocks is open, at once)."""
        return self._blocked is not None or self._ready.wait(1.0)

    def blocked(self) -> str | None:
        """Why the broker blocks publishing (one line, its reason in it), or None."""
        return self._blocked

    def refusal(self) -> str | None:
        """Why every vote is refused now (one line), or None: the broker blocks publishing, the
        votes queue could lose votes or is of the other type (as last checked), or a vote came
        back unroutable since the last check that found the queue."""
        blocked = self._blocked
        if blocked is not None:
            return blocked
        if self._refusal is not None:
            return self._refusal
        return NO_QUEUE if self._unrouted != self._cleared else None

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
        self._session += 1
        self._checking = self._checked = False
        self._may_declare = True
        self._confirming = None
        self._connection = _CoalescingConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_lost,
            on_close_callback=self._on_lost,
            custom_ioloop=self._ioloop,
        )
        session = self._session
        self._connection.add_on_connection_blocked_callback(
            lambda _c, frame: self._on_blocked(session, getattr(frame.method, "reason", ""))
        )
        self._connection.add_on_connection_unblocked_callback(
            lambda _c, _frame: self._on_unblocked(session)
        )

    def _on_open(self, connection) -> None:
        self._start_check()
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        # it publishes only: a kiosk never makes a queue or exchange (the check declares only a
        # queue that exists, to compare); the worker declares the topology
        session = self._session
        channel.add_on_close_callback(lambda _ch, reason: self._on_lost(None, reason))
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(
            self._on_confirm, callback=lambda _f: self._on_confirming(channel, session)
        )

    def _on_confirming(self, channel, session: int) -> None:
        if session == self._session:
            self._confirming = channel
            self._ready_if_checked()

    def _ready_if_checked(self) -> None:
        """Take votes once the publishing channel confirms and the first check is done."""
        if self._confirming is None or not self._checked or self._ready.is_set():
            return
        self._channel, self._next_tag = self._confirming, 1
        self._last_confirm = time.monotonic()
        self._backoff.reset()
        self._tries = 0
        self._ready.set()
        logger.info("publisher connected to the broker at %s", self._node)

    # --- checking the votes queue ---------------------------------------------------------------

    def _start_check(self) -> None:
        connection = self._connection
        if self._checking or connection is None or not connection.is_open:
            return
        self._checking = True
        probe = ArgumentProbe(self._queue, self._queue_type, self._max_length)
        began, session = self._unrouted, self._session
        connection.channel(
            on_open_callback=lambda ch: self._check_round(ch, probe, began, session)
        )

    def _check_round(self, channel, probe: ArgumentProbe, began: int, session: int) -> None:
        """One round of a check on ``channel`` (the broker closes it on a refusal): a passive
        declare, so that a kiosk never makes the queue, then one as the worker declares it;
        ``began``: ``_unrouted`` when the check began."""
        settled = False

        def outcome(found) -> None:
            nonlocal settled
            settled = True
            self._on_checked(found, began, session)

        def declared(_frame) -> None:
            outcome(probe.accepted())
            self._probe_blocked(channel)
            channel.close()

        def exists(_frame) -> None:
            if not self._may_declare:
                outcome(_UNCHECKED)
                self._probe_blocked(channel)
                channel.close()
                return
            channel.queue_declare(
                self._queue, durable=True, arguments=probe.arguments, callback=declared
            )

        def closed(_channel, reason) -> None:
            nonlocal settled
            if settled or session != self._session:
                return
            connection = self._connection
            if connection is None or not connection.is_open:
                self._checking = False  # the connection went: the next one checks again
                return
            code, text = getattr(reason, "reply_code", 0), str(getattr(reason, "reply_text", ""))
            if code == 404:
                outcome(_MISSING)
            elif code == 403:
                self._may_declare = False
                outcome(_UNCHECKED)
            elif code == 406 and (verdict := probe.refused(code, text)) is None:
                settled = True  # another round, with the queue's value of what differed
                connection.channel(
                    on_open_callback=lambda ch: self._check_round(ch, probe, began, session)
                )
            elif code == 406:
                outcome(verdict)
            else:
                logger.warning("checking queue %s: the broker said %s %s", self._queue, code, text)
                outcome(None)

        channel.add_on_close_callback(closed)
        channel.queue_declare(self._queue, passive=True, callback=exists)

    def _on_checked(self, found, began: int, session: int) -> None:
        """A check's outcome: a Verdict, ``_UNCHECKED``, ``_MISSING`` or None (no news)."""
        if session != self._session:
            return
        self._checking = False
        passed = found is _UNCHECKED or (isinstance(found, Verdict) and found.problem is None)
        if found is not None:
            refusal = found.problem if isinstance(found, Verdict) else None
            if refusal != self._refusal:
                if refusal is not None:
                    logger.error("refusing votes: %s", refusal)
                else:
                    logger.info("queue %s checked: taking votes", self._queue)
            self._refusal = refusal
        if isinstance(found, Verdict):
            for note in set(found.notes) - self._noted:
                logger.warning("%s", note)
                self._noted.add(note)
        if passed:
            self._cleared = began
        if not self._checked:
            self._checked = True
            self._ready_if_checked()
        if self._check_timer is not None:
            self._ioloop.remove_timeout(self._check_timer)
        delay = RECHECK_INTERVAL if self.refusal() is not None else self._check_interval
        self._check_timer = self._ioloop.call_later(delay, lambda: self._timed_check(session))

    def _probe_blocked(self, channel) -> None:
        """Publish an empty message to the votes exchange under a key no queue is bound by (the
        broker drops it): RabbitMQ says ``connection.blocked`` only to a connection that
        publishes, and this one may have no votes to publish."""
        if self._blocked is not None or not channel.is_open:
            return
        try:
            channel.basic_publish(self._queue, self._queue + PROBE_SUFFIX, b"")
        except (AMQPError, OSError) as exc:
            logger.debug("blocked probe not published: %r", exc)

    def _timed_check(self, session: int) -> None:
        self._check_timer = None
        if session == self._session:
            self._start_check()

    # --- publishing -----------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            batch, self._outbox, self._draining = self._outbox, deque(), False
        connection = self._connection
        with connection.held() if connection is not None else contextlib.nullcontext():
            for vote_id, body, waiter in batch:
                self._publish(vote_id, body, waiter)

    def _publish(self, vote_id: str, body: bytes, waiter: _Waiter) -> None:
        if self._blocked is not None:
            waiter.refused = waiter.blocked = True
            waiter.settle(self._blocked)
            return
        channel = self._channel
        if channel is None or not channel.is_open:
            waiter.settle("broker unreachable: connection lost")
            return
        properties = persistent(vote_id, user_id=self._user)
        properties.correlation_id = str(self._next_tag)  # what a return names it by
        try:
            channel.basic_publish(self._queue, self._queue, body, properties, mandatory=True)
        except (AMQPError, OSError) as exc:
            waiter.settle(f"broker unreachable: {exc!r}"[:200])
            return
        waiter.sent = True
        self._pending[self._next_tag] = waiter
        self._next_tag += 1

    def _on_return(self, _channel, _method, properties, _body) -> None:
        tag = properties.correlation_id or ""
        waiter = self._pending.get(int(tag)) if tag.isdigit() else None
        if waiter is not None:  # settled by its confirm, which the broker sends next
            waiter.error, waiter.refused = NO_QUEUE, True
        if self._unrouted == self._cleared:
            logger.warning("a vote was unroutable (queue %s deleted or unbound?)", self._queue)
        self._unrouted += 1
        self._start_check()

    def _on_confirm(self, frame) -> None:
        method = frame.method
        nacked = not isinstance(method, Basic.Ack)
        tags = (
            [t for t in self._pending if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        for tag in tags:
            waiter = self._pending.pop(tag, None)
            if waiter is not None:
                if nacked:
                    waiter.refused = waiter.refused or waiter.error is None
                waiter.settle(NACKED if nacked else None)
        self._last_confirm = time.monotonic()
        if nacked:
            self._renew("the broker refused a vote (nack)")

    # --- the broker blocking publishing ---------------------------------------------------------

    def _on_blocked(self, session: int, reason: str) -> None:
        """``connection.blocked``: refuse votes, those waiting for a confirm included (one sent
        before the block may still be confirmed once it lifts: its retry counts once)."""
        if session != self._session:
            return
        line = blocked_line(str(reason))
        if self._blocked is None:
            logger.warning(
                "refusing votes: the broker at %s blocks publishing: %s", self._node, line
            )
        self._set_blocked(line)
        for waiter in self._pending.values():
            if not waiter.done.is_set():
                waiter.refused = waiter.blocked = True
                waiter.settle(line)

    def _on_unblocked(self, session: int) -> None:
        if session == self._session and self._blocked is not None:
            logger.info("the broker at %s unblocked publishing: taking votes", self._node)
            self._set_blocked(None)

    def _set_blocked(self, line: str | None) -> None:
        self._blocked = line
        if self._on_blocked_change is not None:
            try:
                self._on_blocked_change(line)
            except Exception:  # a watcher's fault must not stop the I/O thread
                logger.exception("on_blocked callback failed")

    def _renew_if_silent(self) -> None:
        """A vote went unconfirmed: if nothing at all was confirmed for a whole timeout while
        votes waited, the channel is stuck (not just slow): renew it. Not while the broker
        blocks the connection: that is the broker's doing, and it says when it ends."""
        if (
            self._blocked is None
            and self._pending
            and time.monotonic() - self._last_confirm >= self._timeout
        ):
            self._renew(f"no confirm for {self._timeout:g}s")

    def _renew(self, why: str) -> None:
        """Drop the connection (``_on_lost`` opens one to the next node), at most once a second.
        A nack, or a channel that confirms nothing, is a channel the broker will not take votes
        on: seen on a quorum queue whose leader was killed, where a channel opened during the
        election nacked every vote until it was closed, while new channels were served. (A full
        queue nacks too; renewing then costs a reconnection a second, and votes are refused
        either way.)"""
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
        if self._blocked is not None:  # the next connection is told again if it still is
            self._set_blocked(None)
        self._channel = self._confirming = None
        self._checking = False
        if self._check_timer is not None:
            self._ioloop.remove_timeout(self._check_timer)
            self._check_timer = None
        for waiter in self._pending.values():
            waiter.settle(f"broker connection lost before confirming: {reason!r}"[:200])
        self._pending.clear()
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            connection.close()
        if self._closing:
            self._ioloop.stop()
            return
        # another node at once, until each has been tried; then backoff
        fresh = self._tries < len(self._nodes)
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
