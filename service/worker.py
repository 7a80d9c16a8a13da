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
``VOTES_QUEUE_TYPE`` stops it at start (exit 2, one line saying what to do).
If RabbitMQ or PostgreSQL goes away it drops both connections (unacknowledged votes return to
the queue; a vote stored but not acknowledged is ignored when it comes back) and reconnects with
capped backoff, which starts again from its shortest once a session has stored a batch or found
the queue empty. SIGTERM or SIGINT: store and acknowledge what it holds, write results, exit 0.
Several workers may share a queue.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # `python service/worker.py`: import from the repository root, as -m does
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pika.exceptions import AMQPError
from sqlalchemy.exc import DBAPIError

from lib.db import connect, first_line
from lib.errors import ConfigError, DatabaseError, ProjectError
from lib.votes.backoff import Backoff
from lib.votes.broker import (
    DEAD_SUFFIX,
    declare_topology,
    persistent,
    tolerate_undecodable_properties,
)
from lib.votes.message import Vote, VoteError, check_cast_at, decode
from lib.votes.nodes import Nodes, address
from lib.votes.settings import VoteSettings, load_settings
from lib.votes.store import apply_vote_schema, conflicting_votes, record_votes
from lib.votes.throttle import LogThrottle
from service.writer_supervisor import WriterSupervisor

# Run as a script this file is __main__; its logger keeps the module's name all the same.
logger = logging.getLogger("service.worker" if __name__ == "__main__" else __name__)
_TRANSIENT = (AMQPError, OSError, DatabaseError, DBAPIError)


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
    rejects: list[tuple[Received, str]] = field(default_factory=list)
    last_tag: int | None = None
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.votes) + len(self.rejects)


def _text(value: object, limit: int = 255) -> str | None:
    """A property value worth keeping on a dead letter: a string that fits a short string."""
    return value if isinstance(value, str) and len(value.encode()) <= limit else None


class Worker:
    def __init__(self, settings: VoteSettings, backoff: Backoff | None = None):
        self.settings = settings
        self.candidates = settings.candidates
        self.backoff = backoff or Backoff(first=0.5, cap=10.0)
        self.nodes = Nodes(settings.amqp_urls)
        self.stopping = False
        self.stored = 0
        self.dead_lettered = 0
        self._dead_log = LogThrottle(interval=1.0)

    def stop(self, *_args) -> None:
        logger.info("stop requested: finishing the current batch")
        self.stopping = True

    def run(self) -> None:
        """Work until stopped, reconnecting after failures with capped backoff (reset by a
        session that has done its work: stored a batch, or found the queue empty)."""
        while not self.stopping:
            try:
                self._session()
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
        engine = connect(settings.database_url)
        connection = None
        try:
            apply_vote_schema(engine)
            connection, node = self.nodes.connect()  # the next session: the next node first
            channel = connection.channel()
            declare_topology(channel, settings.votes_queue, settings.queue_type)
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=2 * settings.batch_size)
            logger.info(
                "consuming %s (%s queue) on %s (batch %d / %d ms)",
                settings.votes_queue,
                settings.queue_type,
                address(node),
                settings.batch_size,
                settings.batch_ms,
            )
            self._consume(engine, channel)
        finally:
            if connection is not None and connection.is_open:
                try:
                    connection.close()
                except _TRANSIENT:
                    pass
            engine.dispose()

    def _consume(self, engine, channel) -> None:
        batch = Batch()
        wait = self.settings.batch_ms / 1000
        for method, props, body in channel.consume(
            self.settings.votes_queue, inactivity_timeout=min(wait, 0.05)
        ):
            if method is not None:
                if not len(batch):
                    batch.started = time.monotonic()
                self._take(batch, body, props)
                batch.last_tag = method.delivery_tag
            elif not len(batch):
                self.backoff.reset()  # connected, and the queue is drained: a healthy session
            full = len(batch) >= self.settings.batch_size
            old = len(batch) and time.monotonic() - batch.started >= wait
            if full or old or (self.stopping and len(batch)):
                self._flush(engine, channel, batch)
                batch = Batch()
            if self.stopping:
                break
        channel.cancel()

    def _take(self, batch: Batch, body: bytes, props) -> None:
        """Add a message to ``batch``: as a vote, or as a reject with its reason. Whatever the
        message, nothing is raised: an error here would stop the worker, and the message would
        come back at the next start."""
        received = Received(body, _text(props.user_id, 64), _text(props.message_id))
        settings = self.settings
        try:
            undecodable = getattr(props, "undecodable", None)
            if undecodable:
                raise VoteError(400, f"message properties cannot be decoded ({undecodable})")
            vote = decode(body, self.candidates, props.user_id)
            check_cast_at(
                vote, datetime.now(UTC), settings.vote_clock_skew, settings.votes_open_at
            )
        except VoteError as exc:
            batch.rejects.append((received, exc.reason))
        except Exception as exc:  # a bug in decode must not turn a message into a poison
            batch.rejects.append((received, f"message cannot be read ({type(exc).__name__})"))
        else:
            batch.votes.append(vote)
            batch.messages.append(received)

    def _flush(self, engine, channel, batch: Batch) -> None:
        """Store the batch's votes, dead-letter its rejects (and the votes that reuse a kiosk's
        vote id for another candidate, which only the database can tell), then acknowledge it
        all. A crash before the acknowledgement redelivers the batch: the votes count once
        still, and a reject may be dead-lettered twice."""
        with engine.begin() as conn:
            inserted = record_votes(conn, batch.votes)
            conflicts = conflicting_votes(conn, batch.votes)
        rejects = batch.rejects + [
            (
                batch.messages[i],
                f"conflict: vote_id {batch.votes[i].vote_id} of kiosk {batch.votes[i].kiosk_id} "
                f"is already counted for candidate {stored!r}, "
                f"not {batch.votes[i].candidate!r}",
            )
            for i, stored in sorted(conflicts.items())
        ]
        for received, reason in rejects:
            self._dead_letter(channel, received, reason)
        channel.basic_ack(delivery_tag=batch.last_tag, multiple=True)
        self.backoff.reset()  # a batch stored: a healthy session
        self.stored += inserted
        logger.debug("batch of %d: %d new, %d rejected", len(batch), inserted, len(rejects))

    def _dead_letter(self, channel, received: Received, reason: str) -> None:
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
    for noisy in ("pika", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        worker = Worker(load_settings())
    except ProjectError as exc:
        logger.error("%s", exc)
        return 2
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    writer = None
    if not args.no_results:
        writer = WriterSupervisor(worker.settings)
        writer.start()
    status = 0
    try:
        worker.run()
    except ConfigError as exc:  # found only on connecting, such as a driver that is missing
        logger.error("%s", exc)
        status = 2
    if writer is not None:
        writer.stop(30)
    logger.info(
        "stopped; %d votes stored and %d messages dead-lettered by this worker",
        worker.stored,
        worker.dead_lettered,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
