"""The vote worker: RabbitMQ -> PostgreSQL in batches -> results cache.

    python service/worker.py [--once]

Consumes the votes queue with a prefetch window, stores a batch when it holds ``BATCH_SIZE``
votes or is ``BATCH_MS`` old (one transaction, idempotent by vote id, rollup updated in the same
statement) and acknowledges the batch only after the commit. A message that is not a valid vote
goes to ``<queue>.dead`` with the reason and is acknowledged, so it never blocks the queue.
Every ``RESULTS_INTERVAL`` seconds it writes ``results.json`` and the charts into ``CACHE_DIR``.

If RabbitMQ or PostgreSQL goes away it drops both connections (unacknowledged votes return to
the queue; a vote stored but not acknowledged is ignored when it comes back) and reconnects with
capped backoff. SIGTERM or SIGINT: store and acknowledge what it holds, write results, exit 0.
Several workers may share a queue.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import dataclass, field

import pika
from pika.exceptions import AMQPError
from sqlalchemy.exc import DBAPIError

from lib.broker import DEAD_SUFFIX, connection_parameters, declare_topology, persistent
from lib.config import Config, load_config
from lib.db import connect
from lib.errors import DatabaseError, ProjectError
from lib.vote_cache import chart_data, write_results
from lib.vote_store import apply_vote_schema, record_votes, vote_results
from lib.votes import Candidate, Vote, VoteError, decode, parse_candidates

logger = logging.getLogger("worker")

BACKOFF_MAX = 10.0
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
    def __init__(self, config: Config):
        self.config = config
        self.candidates: dict[str, Candidate] = parse_candidates(config.candidates)
        self.stopping = False
        self.stored = 0
        self._chart_key = None
        self._results_due = 0.0

    def stop(self, *_args) -> None:
        logger.info("stop requested: finishing the current batch")
        self.stopping = True

    def run(self, once: bool = False) -> None:
        """Work until stopped, reconnecting after failures (``once``: until the queue is idle)."""
        delay = 0.5
        while not self.stopping:
            try:
                self._session(once)
                if once:
                    return
                delay = 0.5
            except _TRANSIENT as exc:
                logger.warning("connection lost (%s); reconnecting in %.1fs", _brief(exc), delay)
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    def _session(self, once: bool) -> None:
        config = self.config
        engine = connect(config.database_url)
        connection = None
        try:
            apply_vote_schema(engine)
            connection = pika.BlockingConnection(connection_parameters(config.amqp_url))
            channel = connection.channel()
            declare_topology(channel, config.votes_queue)
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=2 * config.batch_size)
            logger.info(
                "consuming %s (batch %d / %d ms)",
                config.votes_queue,
                config.batch_size,
                config.batch_ms,
            )
            self._consume(engine, channel, once)
            self._refresh(engine, force=True)
        finally:
            if connection is not None and connection.is_open:
                try:
                    connection.close()
                except _TRANSIENT:
                    pass
            engine.dispose()

    def _consume(self, engine, channel, once: bool) -> None:
        batch = Batch()
        wait = self.config.batch_ms / 1000
        idle_polls = 0
        for method, _props, body in channel.consume(
            self.config.votes_queue, inactivity_timeout=min(wait, 0.05)
        ):
            if method is not None:
                idle_polls = 0
                if not len(batch):
                    batch.started = time.monotonic()
                try:
                    batch.votes.append(decode(body, self.candidates))
                except VoteError as exc:
                    batch.rejects.append((body, exc.reason))
                batch.last_tag = method.delivery_tag
            else:
                idle_polls += 1
            full = len(batch) >= self.config.batch_size
            old = len(batch) and time.monotonic() - batch.started >= wait
            if full or old or (self.stopping and len(batch)):
                self._flush(engine, channel, batch)
                batch = Batch()
            self._refresh(engine)
            if self.stopping or (once and idle_polls >= 10 and not len(batch)):
                break
        channel.cancel()

    def _flush(self, engine, channel, batch: Batch) -> None:
        for body, reason in batch.rejects:
            logger.warning("dead-lettering a message: %s", reason)
            channel.basic_publish(
                exchange="",
                routing_key=self.config.votes_queue + DEAD_SUFFIX,
                body=body,
                properties=persistent("rejected", **{"x-reject-reason": reason}),
                mandatory=True,
            )
        with engine.begin() as conn:
            inserted = record_votes(conn, batch.votes)
        channel.basic_ack(delivery_tag=batch.last_tag, multiple=True)
        self.stored += inserted
        logger.debug("batch of %d: %d new, %d rejected", len(batch), inserted, len(batch.rejects))

    def _refresh(self, engine, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._results_due:
            return
        self._results_due = now + self.config.results_interval
        with engine.connect() as conn:
            results = vote_results(conn, self.candidates)
        key = chart_data(results)
        write_results(self.config.cache_dir, results, charts=key != self._chart_key)
        self._chart_key = key

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(0.05)


def _brief(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="exit when the queue is idle")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s worker[%(process)d] %(levelname)s %(message)s",
    )
    for noisy in ("pika", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        worker = Worker(load_config())
    except ProjectError as exc:
        logger.error("%s", exc)
        return 2
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run(once=args.once)
    logger.info("stopped; %d votes stored by this worker", worker.stored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
