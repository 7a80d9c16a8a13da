"""The vote worker: RabbitMQ -> PostgreSQL in batches -> results cache.

    python service/worker.py [--no-results]        (or: python -m service.worker)

Consumes the votes queue with a prefetch window, stores a batch when it holds ``BATCH_SIZE``
votes or is ``BATCH_MS`` old (one transaction, idempotent by kiosk and vote id, rollup updated in
the same statement) and acknowledges the batch only after the commit. A message it cannot count
goes to ``<queue>.dead`` with the reason and is acknowledged, so it never blocks the queue or
stops the worker: one that is not a vote (whatever its body or properties), one stamped later
than the worker's clock plus ``VOTE_CLOCK_SKEW`` or before ``VOTES_OPEN_AT``, and one reusing a
kiosk's vote id for another candidate. However long a vote waited in the queue, it counts.
Every ``RESULTS_INTERVAL`` seconds a child process (``service/results_writer.py``) writes
``results.json`` and the charts into ``CACHE_DIR``; ``--no-results`` leaves that to another.
A child that dies (OOM killer, SIGKILL) is logged and started again, with backoff
(``service/writer_supervisor.py``).

``AMQP_URL`` may list several nodes of a cluster: it connects to the first that answers, starting
from the one after the node of its last session. A votes queue of another type than
``VOTES_QUEUE_TYPE`` stops it (exit 2, one line saying what to do). So does a queue that could
lose votes (a TTL, an expiry, a length limit that drops: ``lib.votes.queue_arguments``), once
the worker has unbound it from the votes exchange (kiosks' votes are then unroutable: 503) and
stored the votes it holds. A queue made before ``x-overflow`` was declared is used, with a
warning saying how to re-create it.
If RabbitMQ or PostgreSQL goes away it drops both connections (unacknowledged votes return to
the queue; a vote stored but not acknowledged is ignored when it comes back) and reconnects with
capped backoff, which starts again from its shortest once a session has stored a batch or found
the queue empty. If consuming ends otherwise (the broker cancels the consumer: the queue was
deleted, say, and the votes it had not acknowledged with it), it stores and acknowledges the
batch it holds first, then declares the queues again and goes on. SIGTERM or SIGINT: store and
acknowledge what it holds, write results, exit 0. Several workers may share a queue.

Its metrics (``lib.votes.metrics.WorkerMetrics``: batches, votes stored, dead letters by reason,
the queues' depth polled every ``QUEUE_POLL`` seconds on a connection of its own, the lag from
cast to stored, the results' age, writer restarts) are served at
``http://WORKER_METRICS_HOST:WORKER_METRICS_PORT/metrics`` unless ``METRICS=0``; a port it
cannot listen on stops it at start (exit 2, one line).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # `python service/worker.py`: import from the repository root, as -m does
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import math
import signal
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pika.exceptions import (
    AMQPError,
    AuthenticationError,
    ChannelClosed,
    ChannelClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
)
from sqlalchemy.exc import DBAPIError

from lib.db import connect, first_line
from lib.errors import ConfigError, DatabaseError, ProjectError
from lib.votes.backoff import Backoff
from lib.votes.broker import (
    DEAD_SUFFIX,
    UnsafeQueue,
    declare_topology,
    persistent,
    tolerate_undecodable_properties,
)
from lib.votes.message import Vote, VoteError, check_cast_at, decode
from lib.votes.metrics import WorkerMetrics, serve_worker_metrics
from lib.votes.nodes import Nodes, address
from lib.votes.replay import (
    Marker,
    StreamMissing,
    declare_replay_stream,
    queue_present,
    replay,
    start_offset,
    stream_name,
)
from lib.votes.settings import VoteSettings, load_settings
from lib.votes.store import (
    SESSION_TIMEOUTS,
    apply_vote_schema,
    conflicting_votes,
    record_replay_mark,
    record_votes,
    replay_mark,
)
from lib.votes.throttle import LogThrottle
from service.writer_supervisor import WriterSupervisor

# Run as a script this file is __main__; its logger keeps the module's name all the same.
logger = logging.getLogger("service.worker" if __name__ == "__main__" else __name__)
_TRANSIENT = (AMQPError, OSError, DatabaseError, DBAPIError)
# refusals a retry cannot mend: the user or password, the vhost, TLS spoken to a plain port
_BROKER_REFUSED = (
    AuthenticationError,
    ProbableAuthenticationError,
    ProbableAccessDeniedError,
    ssl.SSLError,
)
DRAIN_IDLE = 1.0  # seconds without a message that say a queue being drained is empty
CONSUMER_RENEW = 5.0  # seconds without a delivery after which the worker consumes anew
QUEUE_POLL = 2.0  # seconds between asking the broker how many messages the queues hold
OBSERVE_INTERVAL = 1.0  # seconds between looks at the votes queue for the replay mark


@dataclass(frozen=True)
class Observation:
    """The votes queue seen with no message ready at ``at`` (the worker's clock, before it
    asked): every vote confirmed before then was delivered, with a delivery tag up to ``tag``
    on the consuming channel. Once those are stored, ``at`` is a replay mark."""

    at: datetime
    tag: int


@dataclass(frozen=True)
class Received:
    """A message as received: what dead-lettering it keeps (its body, publisher and id)."""

    body: bytes
    user_id: str | None
    message_id: str | None


@dataclass
class Batch:
    votes: list[Vote] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)  # one per vote, in the same order
    rejects: list[tuple[Received, str, str]] = field(default_factory=list)  # reason, kind
    last_tag: int | None = None
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.votes) + len(self.rejects)


def _text(value: object, limit: int = 255) -> str | None:
    """A property value worth keeping on a dead letter: a string that fits a short string."""
    return value if isinstance(value, str) and len(value.encode()) <= limit else None


class Worker:
    def __init__(
        self,
        settings: VoteSettings,
        backoff: Backoff | None = None,
        metrics: WorkerMetrics | None = None,
    ):
        self.settings = settings
        self.metrics = metrics or WorkerMetrics(enabled=False)
        self.candidates = settings.candidates
        self.backoff = backoff or Backoff(first=0.5, cap=10.0)
        self.nodes = Nodes(settings.amqp_urls)
        self.stopping = False
        self.stored = 0
        self.dead_lettered = 0
        self._dead_log = LogThrottle(interval=1.0)
        self._noted: set[str] = set()  # warnings about the queues, logged once
        self._replay_due = False  # the votes queue may have been lost: replay its stream
        self._observation: Observation | None = None  # a replay mark waiting for its votes
        self._observed = 0.0  # when the votes queue was last looked at (monotonic)
        self._last_tag = 0  # the last delivery tag taken on the consuming channel
        self._side = None  # a channel for those looks, beside the consuming one
        self._marker: Marker | None = None  # the last replay's marker: every vote before stored

    def stop(self, *_args) -> None:
        logger.info("stop requested: finishing the current batch")
        self.stopping = True

    def run(self) -> None:
        """Work until stopped, reconnecting after failures with capped backoff (reset by a
        session that has done its work: stored a batch, or found the queue empty)."""
        while not self.stopping:
            try:
                self._session()
            except _BROKER_REFUSED as exc:  # a setting of AMQP_URL: no outage to wait out
                raise ConfigError(f"the broker refused AMQP_URL: {_refusal(exc)}") from None
            except _TRANSIENT as exc:
                delay = self.backoff.next()
                logger.warning(
                    "connection lost (%s: %s); reconnecting in %.2fs",
                    type(exc).__name__,
                    first_line(exc),
                    delay,
                )
                self._sleep(delay)

    def _session(self) -> None:
        settings = self.settings
        tolerate_undecodable_properties()  # before any message arrives
        engine = connect(settings.database_url, session=SESSION_TIMEOUTS)
        try:
            apply_vote_schema(engine)
            again = False
            while not self.stopping:
                connection, node = self.nodes.connect()  # the next node first
                self._observation, self._last_tag, self._side = None, 0, None  # per channel
                try:
                    if not queue_present(connection, settings.votes_queue):
                        self._replay_due = True  # deleted while no consumer of ours was on it
                    channel = connection.channel()
                    try:
                        notes = declare_topology(
                            channel,
                            settings.votes_queue,
                            settings.queue_type,
                            settings.queue_max_length,
                        )
                    except UnsafeQueue as exc:
                        raise self._unsafe(engine, channel, exc) from None
                    for note in set(notes) - self._noted:
                        logger.warning("%s", note)
                        self._noted.add(note)
                    channel.confirm_delivery()
                    channel.basic_qos(prefetch_count=2 * settings.batch_size)
                    if self._replay_due:
                        self._replay(engine, channel)
                    logger.log(
                        logging.DEBUG if again else logging.INFO,
                        "consuming %s (%s queue) on %s (batch %d / %d ms)",
                        settings.votes_queue,
                        settings.queue_type,
                        address(node),
                        settings.batch_size,
                        settings.batch_ms,
                    )
                    self.metrics.consuming.set(1)
                    again = self._consume(engine, channel)
                    if not again:
                        return
                finally:
                    self.metrics.consuming.set(0)
                    _close(connection)
        finally:
            engine.dispose()

    def _unsafe(self, engine, channel, exc: UnsafeQueue) -> ConfigError:
        """The line to stop with for a queue that could lose votes (already unbound, so nothing
        more reaches it); the votes queue's votes are stored first, as the worker would have."""
        settings, what, unbound = self.settings, "", "it"
        if exc.queue == settings.votes_queue:
            stored = self.stored
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=2 * settings.batch_size)
            logger.info("%s: storing the votes it holds before stopping", exc)
            self._consume(engine, channel, drain=True)
            self._replay(engine, channel)  # votes the stream alone took while it was so
            what = (
                f" and stored the {self.stored - stored} new votes it held (replayed from the "
                f"stream included)"
            )
            unbound = "it and the votes' stream"
        return ConfigError(
            f"{exc}; the worker unbound {unbound} from exchange {exc.queue} (kiosks answer "
            f"503){what}: "
            f"delete it (rabbitmqctl delete_queue {exc.queue}) and start the worker, which "
            f"declares it again to refuse rather than drop (docs/q3.md, 'Queues that refuse')"
        )

    def _consume(self, engine, channel, drain: bool = False) -> bool:
        """Consume the votes queue in batches until stopped (returns False), or until the broker
        cancels the consumer or ``CONSUMER_RENEW`` seconds pass without a delivery (returns
        True: declare the queues again and consume anew); with ``drain``, until the queue has
        been empty for ``DRAIN_IDLE`` seconds. However consuming ends, except for a failed
        connection, the batch in hand is stored first (the broker cancels a consumer when its
        queue is deleted, and drops the votes not acknowledged with it: the next session replays
        them from the votes' stream); on a closed channel its votes are stored, not
        acknowledged. Every ``OBSERVE_INTERVAL`` it looks at the queue for a replay mark
        (``_observe``).

        Why consume anew when idle: a quorum queue deleted and declared again at once was seen
        (RabbitMQ 3.10) to keep the old consumer, never cancelled, as a consumer of the new
        queue, which then handed it every message, never delivered: votes held out of reach
        for as long as the connection lived, and a new queue's arguments never checked. A
        consumer that receives nothing for a few seconds is renewed, on a new connection, and
        the stream replayed from the replay mark (a few seconds of votes, stored already)."""
        batch = Batch()
        wait = self.settings.batch_ms / 1000
        idle_since = time.monotonic()
        try:
            for method, props, body in channel.consume(
                self.settings.votes_queue, inactivity_timeout=min(wait, 0.05)
            ):
                if method is not None:
                    if not len(batch):
                        batch.started = time.monotonic()
                    self._take(batch, body, props)
                    batch.last_tag = self._last_tag = method.delivery_tag
                    idle_since = time.monotonic()
                elif not len(batch):
                    self.backoff.reset()  # connected, and the queue is drained: a healthy session
                if time.monotonic() - self._observed >= OBSERVE_INTERVAL:
                    self._observe(engine, channel, idle=not len(batch))
                full = len(batch) >= self.settings.batch_size
                old = len(batch) and time.monotonic() - batch.started >= wait
                if full or old or (self.stopping and len(batch)):
                    self._flush(engine, channel, batch)
                    batch = Batch()
                if self.stopping or (drain and time.monotonic() - idle_since >= DRAIN_IDLE):
                    break
                idle = time.monotonic() - idle_since
                if not drain and not len(batch) and idle >= CONSUMER_RENEW:
                    logger.debug("nothing delivered for %.0fs: consuming anew", idle)
                    self._replay_due = True  # the queue may have been swapped under it
                    return True
            else:
                self._consumer_gone(engine, channel, batch)
                self._replay_due = True
                return True
        except ChannelClosed:
            if batch.votes:  # they may come back (counted once) or be gone with the queue
                with engine.begin() as conn:
                    inserted = record_votes(conn, batch.votes)
                self.stored += inserted
                self.metrics.votes_stored.inc(inserted)
            raise
        channel.cancel()
        return False

    def _consumer_gone(self, engine, channel, batch: Batch) -> None:
        """The broker cancelled the consumer: store what the worker holds (the broker dropped
        the votes not acknowledged with the queue); then the queues are declared again and the
        stream replayed."""
        logger.warning(
            "consuming %s ended (the broker cancelled it: the queue deleted?): storing the %d "
            "messages held, then declaring the queues again and replaying their stream",
            self.settings.votes_queue,
            len(batch),
        )
        if len(batch):
            self._flush(engine, channel, batch, acknowledge_if_possible=True)

    def _observe(self, engine, channel, idle: bool) -> None:
        """Look at the votes queue (a passive declare on a channel beside the consuming one):
        with no message ready, every vote confirmed so far was delivered, to this worker or
        another, and is held or stored; once this worker's are stored (the flush of the batch
        holding the last of them, or at once when ``idle``: none held), the time it asked is the
        replay mark, kept in PostgreSQL. Also declares the votes' stream again if it is gone.
        Another worker's votes are stored by it, when its consumer is cancelled too."""
        self._observed = time.monotonic()
        queue = self.settings.votes_queue
        connection = channel.connection
        asked = datetime.now(UTC)
        if self._side is None or not self._side.is_open:
            self._side = connection.channel()
        try:
            ready = self._side.queue_declare(queue, passive=True).method.message_count
        except ChannelClosedByBroker:  # 404: the queue is gone; its consumer is cancelled next
            return
        try:
            self._side.queue_declare(stream_name(queue), passive=True)
        except ChannelClosedByBroker:  # 404: the stream is gone
            self._marker = None  # a stream made again starts its offsets afresh
            logger.warning(
                "stream %s is missing (deleted?): declaring it again; votes confirmed before "
                "are safe in queue %s, but a replay cannot find them",
                stream_name(queue),
                queue,
            )
            for note in declare_replay_stream(channel, queue, route_votes=True):
                logger.warning("%s", note)
        if ready:
            return
        tag = self._last_tag + channel.get_waiting_message_count()  # delivered, not yet taken
        if self._observation is None:
            self._observation = Observation(asked, tag)
        if idle and self._last_tag >= self._observation.tag:
            observation, self._observation = self._observation, None
            with engine.begin() as conn:
                record_replay_mark(conn, queue, observation.at)

    def _replay(self, engine, channel) -> None:
        """Store the votes of the votes' stream from ``REPLAY_MARGIN`` before the replay mark up
        to a marker published now (``lib.votes.replay``), idempotently: those the votes queue
        lost with itself are stored, the others were already. Logged, and counted in
        ``votes_replayed``, when it stored any; a missing stream is a warning."""
        settings = self.settings
        with engine.begin() as conn:
            mark = replay_mark(conn, settings.votes_queue)
        offset = start_offset(mark, self._marker)
        # a vote the stream kept arrived after the offset (or at it): one stamped later than
        # that plus VOTE_CLOCK_SKEW may have been dead-lettered as from the future on its way
        # through the queue, and is not counted now that the worker's clock has caught up
        since = offset.at if isinstance(offset, Marker) else offset
        latest = since + settings.vote_clock_skew if isinstance(since, datetime) else None

        def take(body: bytes, props) -> Vote | None:
            one = Batch()
            self._take(one, body, props)
            if not one.votes:
                return None  # not a vote: dead-lettered on its way through the queue, if it came
            if latest is not None:
                try:
                    stamped = decode(body, self.candidates, props.user_id).cast_at
                except VoteError:
                    return None
                if stamped > latest:
                    return None
            return one.votes[0]

        def store(votes) -> int:
            with engine.begin() as conn:
                inserted = record_votes(conn, votes)
            self.stored += inserted
            self.metrics.votes_stored.inc(inserted)
            self.metrics.votes_replayed.inc(inserted)
            return inserted

        began = time.monotonic()
        try:
            done = replay(channel, settings.votes_queue, offset, take, store, settings.batch_size)
            if done.stale:  # the stream is not the one of that marker: from the mark, then
                self._marker = None
                offset = start_offset(mark)
                latest = offset + settings.vote_clock_skew if mark is not None else None
                done = replay(
                    channel, settings.votes_queue, offset, take, store, settings.batch_size
                )
        except StreamMissing as exc:
            logger.warning("%s: votes the votes queue lost, if any, cannot be replayed", exc)
            self._replay_due = False
            self._marker = None
            return
        self._replay_due = False
        self._marker = done.marker
        if isinstance(offset, Marker):
            offset = f"offset {offset.offset} (the last replay's marker)"
        logger.log(
            logging.INFO if done.stored or done.marker is None else logging.DEBUG,
            "replayed stream %s from %s: %d messages, %d votes, %d of them not yet stored "
            "(now stored)%s in %.2fs",
            stream_name(settings.votes_queue),
            offset if isinstance(offset, str) else offset.isoformat(timespec="seconds"),
            done.messages,
            done.votes,
            done.stored,
            "" if done.marker is not None else "; its marker never came",
            time.monotonic() - began,
        )

    def _take(self, batch: Batch, body: bytes, props) -> None:
        """Add a message to ``batch``: as a vote, or as a reject with its reason. Whatever the
        message, nothing is raised: an error here would stop the worker, and the message would
        come back at the next start."""
        received = Received(body, _text(props.user_id, 64), _text(props.message_id))
        settings = self.settings
        kind = "properties"  # what is being checked: the metrics' reason if it fails
        try:
            undecodable = getattr(props, "undecodable", None)
            if undecodable:
                raise VoteError(400, f"message properties cannot be decoded ({undecodable})")
            kind = "not_a_vote"
            vote = decode(body, self.candidates, props.user_id)
            now = datetime.now(UTC)
            kind = "future" if vote.cast_at > now + settings.vote_clock_skew else "before_opening"
            vote = check_cast_at(vote, now, settings.vote_clock_skew, settings.votes_open_at)
        except VoteError as exc:
            batch.rejects.append((received, exc.reason, kind))
        except Exception as exc:  # a bug in decode must not turn a message into a poison
            reason = f"message cannot be read ({type(exc).__name__})"
            batch.rejects.append((received, reason, "unreadable"))
        else:
            batch.votes.append(vote)
            batch.messages.append(received)

    def _flush(self, engine, channel, batch: Batch, acknowledge_if_possible: bool = False) -> None:
        """Store the batch's votes, dead-letter its rejects (and the votes that reuse a kiosk's
        vote id for another candidate, which only the database can tell), then acknowledge it
        all. A crash before the acknowledgement redelivers the batch: the votes count once
        still, and a reject may be dead-lettered twice. ``acknowledge_if_possible``: the
        consumer was cancelled, and an acknowledgement the channel refuses is let go (the votes
        are stored)."""
        observation = self._observation
        if observation is not None and (batch.last_tag or 0) < observation.tag:
            observation = None  # votes delivered before it are not all in this batch
        with engine.begin() as conn:
            inserted = record_votes(conn, batch.votes)
            conflicts = conflicting_votes(conn, batch.votes)
            if observation is not None:
                record_replay_mark(conn, self.settings.votes_queue, observation.at)
        if observation is not None and self._observation is observation:
            self._observation = None
        committed = datetime.now(UTC)
        rejects = batch.rejects + [
            (
                batch.messages[i],
                f"conflict: vote_id {batch.votes[i].vote_id} of kiosk {batch.votes[i].kiosk_id} "
                f"is already counted for candidate {stored!r}, "
                f"not {batch.votes[i].candidate!r}",
                "conflict",
            )
            for i, stored in sorted(conflicts.items())
        ]
        for received, reason, kind in rejects:
            self._dead_letter(channel, received, reason, kind)
        try:
            channel.basic_ack(delivery_tag=batch.last_tag, multiple=True)
        except AMQPError as exc:
            if not acknowledge_if_possible:
                raise
            logger.info("the batch's acknowledgement was refused (%s); it is stored", exc)
        self.backoff.reset()  # a batch stored: a healthy session
        self.stored += inserted
        self._count(batch, inserted, committed)
        logger.debug("batch of %d: %d new, %d rejected", len(batch), inserted, len(rejects))

    def _count(self, batch: Batch, inserted: int, committed: datetime) -> None:
        """The metrics of a batch stored and acknowledged: its size, the votes new to the table
        and, for every vote in it, how long after its cast it was stored."""
        metrics = self.metrics
        metrics.batches.inc()
        metrics.batch_size_messages.observe(len(batch))
        metrics.votes_stored.inc(inserted)
        for vote in batch.votes:
            metrics.lag_seconds.observe(max(0.0, (committed - vote.cast_at).total_seconds()))

    def _dead_letter(self, channel, received: Received, reason: str, kind: str) -> None:
        """Publish a message to ``<queue>.dead`` (confirmed) with its reason and publisher, so
        it can be looked at and replayed; log it, at most a line a second."""
        dead = self.settings.votes_queue + DEAD_SUFFIX
        headers = {"x-reject-reason": reason[:1000]}
        if received.user_id is not None:
            headers["x-original-user-id"] = received.user_id
        channel.basic_publish(
            exchange=dead,
            routing_key=dead,
            body=received.body,
            properties=persistent(received.message_id or "rejected", **headers),
            mandatory=True,
        )
        self.dead_lettered += 1
        self.metrics.dead_letters.labels(kind).inc()
        left_out = self._dead_log.admit()
        if left_out is not None:
            more = f" (and {left_out} more not logged)" if left_out else ""
            logger.warning(
                "dead-lettered a message from %s: %s%s", received.user_id, reason[:300], more
            )

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(0.05)


def poll_queue_depths(
    settings: VoteSettings, metrics: WorkerMetrics, stop: threading.Event
) -> None:
    """Until ``stop`` is set, every ``QUEUE_POLL`` seconds: how many messages the votes queue
    and the dead-letter queue hold (a passive declare, which makes nothing), into
    ``metrics.queue_messages``; NaN for a queue that cannot be asked (missing, or the broker
    unreachable). On a connection of its own, apart from consuming: the depth is worth most
    when the consuming loop is stuck (a table lock, the database gone)."""
    nodes = Nodes(settings.amqp_urls)
    queues = {"votes": settings.votes_queue, "dead": settings.votes_queue + DEAD_SUFFIX}
    connection = None
    while not stop.is_set():
        try:
            if connection is None or not connection.is_open:
                connection, _node = nodes.connect()
            for label, queue in queues.items():
                channel = connection.channel()
                try:
                    declared = channel.queue_declare(queue, passive=True)
                    metrics.queue_messages.labels(label).set(declared.method.message_count)
                    channel.close()
                except ChannelClosedByBroker:  # 404: not declared (yet, or again)
                    metrics.queue_messages.labels(label).set(math.nan)
        except (AMQPError, OSError) as exc:
            logger.debug("queue depth not polled: %r", exc)
            for label in queues:
                metrics.queue_messages.labels(label).set(math.nan)
            if connection is not None:
                _close(connection)
            connection = None
        stop.wait(QUEUE_POLL)
    if connection is not None:
        _close(connection)


def _refusal(exc: BaseException) -> str:
    """One line saying why the broker refused a connection, without the URL (or its secret)."""
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS failed ({exc.reason or exc}): amqps:// to a port that does not speak TLS "
            f"(5672 is plain amqp://; TLS is 5671 when enabled)?"
        )
    if isinstance(exc, ProbableAccessDeniedError):
        return "access to the virtual host was refused (the user's permissions, or the vhost)"
    return "login refused: a wrong user or password (scripts/rabbitmq-users.sh rotate)"


def _close(connection) -> None:
    if connection.is_open:
        try:
            connection.close()
        except _TRANSIENT:  # a consumer RabbitMQ lost track of fails its cancel (541): gone
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-results", action="store_true", help="do not write the results cache (another does)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s",
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    # pika logs each failed connection at ERROR with its traceback; the worker says it in a line
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    # a channel the broker closes is raised where it matters; pika's own warning about it would
    # repeat every QUEUE_POLL seconds while a queue is missing
    logging.getLogger("pika.channel").setLevel(logging.ERROR)
    try:
        settings = load_settings()
        metrics = WorkerMetrics(settings.cache_dir, settings.cache_max_bytes, settings.metrics)
        if settings.metrics:
            port = _listen(metrics, settings)
        worker = Worker(settings, metrics=metrics)
    except ProjectError as exc:
        logger.error("%s", exc)
        return 2
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    polling = threading.Event()
    if settings.metrics:
        logger.info("metrics on http://%s:%d/metrics", settings.worker_metrics_host, port)
        threading.Thread(
            target=poll_queue_depths,
            args=(settings, metrics, polling),
            name="queue-depth",
            daemon=True,
        ).start()
    writer = None
    if not args.no_results:
        writer = WriterSupervisor(settings, on_restart=metrics.writer_restarts.inc)
        writer.start()
    status = 0
    try:
        worker.run()
    except ConfigError as exc:  # found only on connecting, such as a driver that is missing
        logger.error("%s", exc)
        status = 2
    if writer is not None:
        writer.stop(30)
    polling.set()
    logger.info(
        "stopped; %d votes stored and %d messages dead-lettered by this worker",
        worker.stored,
        worker.dead_lettered,
    )
    return status


def _listen(metrics: WorkerMetrics, settings: VoteSettings) -> int:
    """Serve ``metrics``; the port bound. ConfigError (one line) if it cannot listen."""
    host, port = settings.worker_metrics_host, settings.worker_metrics_port
    try:
        return serve_worker_metrics(metrics, host, port)
    except OSError as exc:
        raise ConfigError(
            f"the worker cannot serve its metrics on {host}:{port} (WORKER_METRICS_HOST, "
            f"WORKER_METRICS_PORT): {exc.strerror or exc}; choose another port, 0 for any, "
            f"or METRICS=0"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
