"""The vote worker: RabbitMQ -> PostgreSQL in batches -> results cache.

    python service/worker.py [--no-results]        (or: python -m service.worker)

Consumes the votes queue with a prefetch window, stores a batch when it holds ``BATCH_SIZE``
votes or is ``BATCH_MS`` old (one transaction, idempotent by vote id, rollup updated in the same
statement) and acknowledges the batch only after the commit. A message that is not a valid vote
goes to ``<queue>.dead`` with the reason and is acknowledged, so it never blocks the queue.
Every ``RESULTS_INTERVAL`` seconds a child process (``service/results_writer.py``) writes
``results.json`` and the charts into ``CACHE_DIR``; ``--no-results`` leaves that to another.

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
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field

import pika
from pika.exceptions import AMQPError
from sqlalchemy.exc import DBAPIError

from lib.db import connect, first_line
from lib.errors import DatabaseError, ProjectError
from lib.votes.backoff import Backoff
from lib.votes.broker import DEAD_SUFFIX, connection_parameters, declare_topology, persistent
from lib.votes.message import Vote, VoteError, decode
from lib.votes.settings import VoteSettings, load_settings
from lib.votes.store import apply_vote_schema, record_votes
from service.results_writer import write_results_forever

# Run as a script this file is __main__; its logger keeps the module's name all the same.
logger = logging.getLogger("service.worker" if __name__ == "__main__" else __name__)
_TRANSIENT = (AMQPError, OSError, DatabaseError, DBAPIError)


@dataclass
class Batch:
    votes: list[Vote] = field(default_factory=list)
    rejects: list[tuple[bytes, str]] = field(default_factory=list)
    last_tag: int | None = None
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.votes) + len(self.rejects)


class Worker:
    def __init__(self, settings: VoteSettings, backoff: Backoff | None = None):
        self.settings = settings
        self.candidates = settings.candidates
        self.backoff = backoff or Backoff(first=0.5, cap=10.0)
        self.stopping = False
        self.stored = 0

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
        engine = connect(settings.database_url)
        connection = None
        try:
            apply_vote_schema(engine)
            connection = pika.BlockingConnection(connection_parameters(settings.amqp_url))
            channel = connection.channel()
            declare_topology(channel, settings.votes_queue)
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=2 * settings.batch_size)
            logger.info(
                "consuming %s (batch %d / %d ms)",
                settings.votes_queue,
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
                try:
                    batch.votes.append(decode(body, self.candidates, props.user_id))
                except VoteError as exc:
                    batch.rejects.append((body, exc.reason))
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

    def _flush(self, engine, channel, batch: Batch) -> None:
        for body, reason in batch.rejects:
            logger.warning("dead-lettering a message: %s", reason)
            channel.basic_publish(
                exchange="",
                routing_key=self.settings.votes_queue + DEAD_SUFFIX,
                body=body,
                properties=persistent("rejected", **{"x-reject-reason": reason}),
                mandatory=True,
            )
        with engine.begin() as conn:
            inserted = record_votes(conn, batch.votes)
        channel.basic_ack(delivery_tag=batch.last_tag, multiple=True)
        self.backoff.reset()  # a batch stored: a healthy session
        self.stored += inserted
        logger.debug("batch of %d: %d new, %d rejected", len(batch), inserted, len(batch.rejects))

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
        context = multiprocessing.get_context("spawn")
        done = context.Event()
        writer = context.Process(
            target=write_results_forever, args=(worker.settings, done, os.getpid()), daemon=True
        )
        writer.start()
    worker.run()
    if writer is not None:
        done.set()
        writer.join(30)
    logger.info("stopped; %d votes stored by this worker", worker.stored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
