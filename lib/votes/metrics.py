"""Q3's metrics, in the Prometheus text format (``prometheus_client``): every name the kiosks and
the worker export is defined here, and nowhere else.

- ``KioskMetrics``: one per kiosk, made before gunicorn forks its server processes. With a
  ``directory`` (``multiprocess_directory``) the processes write their values to files in it
  (``prometheus_client``'s multiprocess mode) and ``exposition`` reads them all, so whichever
  process answers ``GET /metrics`` speaks for the whole kiosk.
- ``WorkerMetrics``: one per worker process, in a registry of its own that the worker's small
  HTTP listener serves (``serve_worker_metrics``); the results' age is read from the cache
  when scraped.
- With metrics off (``METRICS=0``) both are made with ``enabled=False``: every metric is a no-op
  and there is nothing to expose.

Names start with ``vote_counter_`` and carry their unit (``_seconds``, ``_messages``) and, for
counters, ``_total``, as Prometheus names them. Label values come from the fixed tuples below,
never from a request or a message (a reason's text names vote ids: one series each).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import start_http_server
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from lib.votes.cache import RESULTS_FILE, CachedResults, staleness
from lib.votes.refusals import COUNTED

PREFIX = "vote_counter_"
# the text format every Prometheus reads (1.0.0 differs only in escaping names these need not)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client itself

# Why a kiosk refused a vote (POST /votes answered other than 202).
VOTE_REFUSALS = (
    "foreign_origin",  # 403: a Host the kiosk does not serve, or another site's Origin
    "unauthorized",  # 401: KIOSK_TOKEN set and not given
    "rate_limited",  # 429: over RATE_LIMIT for its client
    "invalid",  # 400, 413, 415: not a vote
    "not_open",  # 403: before VOTES_OPEN_AT
    "clock",  # 503: this kiosk's clock is off by more than VOTE_CLOCK_SKEW
    "queue_refused",  # 503: no queue takes votes, or it could lose them, or it is full
    "broker_blocked",  # 503: the broker blocks publishing (a memory or disk alarm)
    "broker_unavailable",  # 503: not connected, or no confirm within the timeout
)
# Why a kiosk's server closed a connection at once, unserved.
CONNECTION_REFUSALS = ("total", "per_client")
# Why the worker dead-lettered a message.
DEAD_LETTER_REASONS = (
    "not_a_vote",  # lib.votes.message.decode refused it
    "properties",  # headers pika cannot decode
    "unreadable",  # anything else that failed while reading it
    "future",  # stamped later than the worker's clock plus VOTE_CLOCK_SKEW
    "before_opening",  # stamped before VOTES_OPEN_AT
    "conflict",  # a kiosk's vote id reused for another candidate
)
QUEUES = ("votes", "dead")  # queue depth labels: VOTES_QUEUE and VOTES_QUEUE.dead

CONFIRM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000)

# No ``_created`` sample beside each counter and histogram: Prometheus needs none (rate() reads
# resets itself), and multiprocess mode has none, so kiosks and workers export alike.
disable_created_metrics()


class _Off:
    """A metric that records nothing: what every metric is with metrics off."""

    def labels(self, *_values: str) -> _Off:
        return self

    def inc(self, _amount: float = 1) -> None:
        pass

    def dec(self, _amount: float = 1) -> None:
        pass

    def set(self, _value: float) -> None:
        pass

    def observe(self, _value: float) -> None:
        pass


_OFF = _Off()


@contextmanager
def multiprocess_directory(
    environ: MutableMapping[str, str], prefix: str, parent: str | None = None
) -> Iterator[Path]:
    """A new, empty directory for one run's multiprocess metrics (in ``parent``, default the
    system's temporary directory: ``TMPDIR``), set as ``PROMETHEUS_MULTIPROC_DIR`` in
    ``environ`` (the process's ``os.environ``, given by its ``main()``: prometheus_client reads
    it there, in this process and the ones it forks), and removed on the way out by the process
    that made it (a forked child leaving through the same frames does not). Metrics made inside
    the block write to it. A value already set is replaced for the run: files left by an
    earlier run would be added to this one's."""
    owner = os.getpid()
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    before = environ.get(MULTIPROCESS_VARIABLE)
    environ[MULTIPROCESS_VARIABLE] = str(directory)
    # prometheus_client picks its value class when imported; pick again, now that it is set
    values.ValueClass = values.get_value_class()
    try:
        yield directory
    finally:
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)
            if before is None:
                environ.pop(MULTIPROCESS_VARIABLE, None)
            else:
                environ[MULTIPROCESS_VARIABLE] = before
            values.ValueClass = values.get_value_class()


class KioskMetrics:
    """A kiosk's metrics: ``votes_accepted``, ``votes_refused`` (by reason), ``confirm_seconds``
    (publish to the broker's confirm), ``requests_refused`` (every refusal by status, as
    ``/health`` counts them), ``connections_open``, ``connections_refused`` (by reason),
    ``broker_blocked`` (1 while the broker blocks a server process's connection).

    ``directory``: the run's multiprocess directory (see ``multiprocess_directory``), or None
    for one process's metrics in a registry of their own (tests, Bottle's server)."""

    def __init__(self, directory: Path | None = None, enabled: bool = True):
        self.enabled = enabled
        self.directory = directory
        self.registry = None if directory is not None else CollectorRegistry()
        if not enabled:
            self.votes_accepted = self.votes_refused = self.confirm_seconds = _OFF
            self.requests_refused = self.connections_open = self.connections_refused = _OFF
            self.broker_blocked = _OFF
            return
        registry = self.registry
        self.votes_accepted = Counter(
            PREFIX + "kiosk_votes_accepted",
            "Votes answered 202: confirmed by the broker.",
            registry=registry,
        )
        self.votes_refused = Counter(
            PREFIX + "kiosk_votes_refused",
            "Votes answered other than 202, by reason (rate_limited: the client's RATE_LIMIT).",
            ["reason"],
            registry=registry,
        )
        self.confirm_seconds = Histogram(
            PREFIX + "kiosk_confirm_seconds",
            "Seconds from handing a vote to the broker to its confirm (or its failure).",
            buckets=CONFIRM_BUCKETS,
            registry=registry,
        )
        self.requests_refused = Counter(
            PREFIX + "kiosk_requests_refused",
            "Requests refused (4xx, 5xx), the server's own included, by status.",
            ["status"],
            registry=registry,
        )
        self.connections_open = Gauge(
            PREFIX + "kiosk_connections_open",
            "Client connections open, in all of the kiosk's server processes.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.connections_refused = Counter(
            PREFIX + "kiosk_connections_refused",
            "Connections closed unserved as they came, by the cap they were over.",
            ["reason"],
            registry=registry,
        )
        self.broker_blocked = Gauge(
            PREFIX + "kiosk_broker_blocked",
            "1 while the broker blocks publishing (a memory or disk alarm) on the connection of "
            "any of the kiosk's server processes, 0 otherwise.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        for reason in VOTE_REFUSALS:
            self.votes_refused.labels(reason)
        for reason in CONNECTION_REFUSALS:
            self.connections_refused.labels(reason)
        for status in COUNTED:
            self.requests_refused.labels(str(status))

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format: every process's, in multiprocess mode."""
        if not self.enabled:
            return b""
        if self.directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.directory))
        return generate_latest(registry)

    def process_gone(self, pid: int) -> None:
        """Forget a server process's live gauges (its open connections) once it has exited."""
        if self.enabled and self.directory is not None:
            mark_process_dead(pid, str(self.directory))


class _ResultsAge:
    """A collector: the age of the cache's ``results.json`` by its ``generated_at``, when
    scraped; +Inf while there is none a kiosk would read."""

    def __init__(self, cache_dir: Path, max_bytes: int):
        self._results = CachedResults(Path(cache_dir) / RESULTS_FILE, max_bytes)

    def collect(self):
        snapshot = self._results.read()
        age = math.inf if snapshot is None else max(0.0, staleness(snapshot.generated))
        yield GaugeMetricFamily(
            PREFIX + "worker_results_age_seconds",
            "Seconds since the results kiosks serve were generated (+Inf: none yet).",
            value=age,
        )


class WorkerMetrics:
    """A worker's metrics: ``batches``, ``batch_size_messages``, ``votes_stored`` (new rows),
    ``votes_replayed`` (new rows a replay of the votes' stream stored),
    ``dead_letters`` (by reason), ``queue_messages`` (by queue, polled), ``lag_seconds`` (a
    vote's cast to its batch's commit), ``consuming`` (1 while connected and consuming),
    ``writer_restarts``; with a ``cache_dir``, ``results_age_seconds`` read when scraped."""

    def __init__(
        self, cache_dir: Path | None = None, cache_max_bytes: int = 0, enabled: bool = True
    ):
        self.enabled = enabled
        self.registry = CollectorRegistry()
        if not enabled:
            self.batches = self.batch_size_messages = self.votes_stored = _OFF
            self.votes_replayed = _OFF
            self.dead_letters = self.queue_messages = self.lag_seconds = _OFF
            self.consuming = self.writer_restarts = _OFF
            return
        registry = self.registry
        self.batches = Counter(
            PREFIX + "worker_batches", "Batches stored and acknowledged.", registry=registry
        )
        self.batch_size_messages = Histogram(
            PREFIX + "worker_batch_size_messages",
            "Messages per batch, votes and dead letters.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.votes_stored = Counter(
            PREFIX + "worker_votes_stored",
            "Votes stored: new rows in the votes table (a redelivered vote is not new).",
            registry=registry,
        )
        self.dead_letters = Counter(
            PREFIX + "worker_dead_letters",
            "Messages published to the dead-letter queue, by reason.",
            ["reason"],
            registry=registry,
        )
        self.queue_messages = Gauge(
            PREFIX + "worker_queue_messages",
            "Messages ready in the queue (votes, dead), as the broker said when last asked; "
            "NaN when it could not be asked.",
            ["queue"],
            registry=registry,
        )
        self.lag_seconds = Histogram(
            PREFIX + "worker_lag_seconds",
            "Seconds from a vote's cast_at to the commit of the batch storing it.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.votes_replayed = Counter(
            PREFIX + "worker_votes_replayed",
            "Votes stored by a replay of the votes' stream: confirmed, then lost with the votes "
            "queue (deleted), and found again.",
            registry=registry,
        )
        self.consuming = Gauge(
            PREFIX + "worker_consuming",
            "1 while the worker is connected to the broker and the database and consuming.",
            registry=registry,
        )
        self.writer_restarts = Counter(
            PREFIX + "worker_writer_restarts",
            "Times the results writer was started again after it died.",
            registry=registry,
        )
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)
        for queue in QUEUES:
            self.queue_messages.labels(queue).set(math.nan)
        if cache_dir is not None:
            registry.register(_ResultsAge(cache_dir, cache_max_bytes))

    def exposition(self) -> bytes:
        return generate_latest(self.registry) if self.enabled else b""


def serve_worker_metrics(metrics: WorkerMetrics, host: str, port: int) -> int:
    """Serve ``metrics`` at ``http://host:port/metrics`` from a daemon thread; the port bound
    (``port`` 0: one the system picks). Raises OSError if it cannot listen."""
    server, _thread = start_http_server(port, host, registry=metrics.registry)
    return server.server_port


def exported_names() -> set[str]:
    """Every sample name the kiosks and the worker export (``..._total``, ``..._bucket``...)."""
    with tempfile.TemporaryDirectory() as empty:
        texts = [KioskMetrics().exposition(), WorkerMetrics(Path(empty), 1).exposition()]
    return {
        line.split("{")[0].split(" ")[0]
        for text in texts
        for line in text.decode().splitlines()
        if line and not line.startswith("#")
    }
