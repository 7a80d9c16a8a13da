"""The real vote pipeline for tests: kiosk and worker processes, a database and queue of the test's
own, and checks that count every vote end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pika
import psycopg2
from sqlalchemy.engine import make_url

from lib.db import normalize_url
from lib.votes.broker import DEAD_SUFFIX, declare_topology
from lib.votes.replay import REPLAY_SUFFIX
from lib.votes.settings import load_settings
from tests.conftest import _admin_dsn, admin_statement
from tests.support.kiosk_client import KioskClient, Outcome, drive

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_Y2K = datetime(2000, 1, 1, tzinfo=UTC)


class UndecodableProperties(pika.BasicProperties):
    """Properties with a ``when`` header that is a timestamp no datetime can hold: valid AMQP,
    passed on by RabbitMQ, but pika (which never encodes such a value) raises decoding it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.headers = {**(self.headers or {}), "when": _Y2K}

    def encode(self) -> list[bytes]:
        raw = b"".join(super().encode())
        y2k = b"T" + struct.pack(">Q", int(_Y2K.timestamp()))
        return [raw.replace(y2k, b"T" + b"\xff" * 8)]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class VoteSystem:
    """Processes of one test: ``start_worker``/``start_kiosk`` spawn ``service/*.py`` with this
    test's DATABASE_URL, VOTES_QUEUE and CACHE_DIR; ``close`` stops whatever is still running."""

    def __init__(
        self, database_url: str, dsn: dict, tmp: Path, amqp_url: str, queue_type: str = "quorum"
    ):
        """``amqp_url``: AMQP_URL as the processes get it (one URL, or a cluster's list)."""
        self.dsn = dsn
        self.queue = f"votes_test_{uuid.uuid4().hex[:10]}"
        self.cache_dir = tmp / "cache"
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.amqp_url = amqp_url
        self.queue_type = queue_type
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "VOTES_QUEUE": self.queue,
            "VOTES_QUEUE_TYPE": queue_type,
            "CACHE_DIR": str(self.cache_dir),
            "RESULTS_INTERVAL": "0.5",
            "BATCH_SIZE": "100",
            "BATCH_MS": "50",
            "RATE_LIMIT": "0",  # the fault tests send thousands of votes a second
            "WORKER_METRICS_PORT": "0",  # several workers at once: each on a port of its own
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[subprocess.Popen] = []
        # what the worker does at start; kiosks may not declare anything themselves
        connection = self.connect()
        declare_topology(connection.channel(), self.queue, queue_type)
        connection.close()

    def connect(self) -> pika.BlockingConnection:
        """A connection as the test's (administrating) broker user, to the first node of
        ``amqp_url`` that answers."""
        nodes = [pika.URLParameters(url) for url in self.amqp_url.split(",")]
        for params in nodes:
            params.connection_attempts, params.socket_timeout = 1, 3
        return pika.BlockingConnection(nodes)

    def _spawn(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}-{len(self.processes)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(proc)
        return proc

    def start_worker(self, **env) -> subprocess.Popen:
        return self._spawn("worker", ["service/worker.py"], {**self.env, **env})

    def start_kiosk(
        self, kiosk_id: str = "k1", *args: str, **env: str
    ) -> tuple[subprocess.Popen, KioskClient]:
        """Start a kiosk (``args``: more of its options) on a port the system picks (``--port
        0``: no race with other sockets for a port chosen in advance); wait until it answers."""
        log = self.logs / f"kiosk-{len(self.processes)}.log"
        proc = self._spawn(
            "kiosk",
            ["service/kiosk.py", "--kiosk-id", kiosk_id, "--port", "0", *args],
            {**self.env, **env},
        )

        def listening():
            if proc.poll() is not None:
                raise AssertionError(f"kiosk exited with {proc.returncode}: {self.log_text()}")
            found = re.search(r"Listening at: http://127\.0\.0\.1:([0-9]+)", log.read_text())
            return int(found.group(1)) if found else None

        client = KioskClient("127.0.0.1", wait_until(listening, 20, "the kiosk to listen"))

        def answering():
            try:
                return client.request("GET", "/health")[0]
            except OSError:
                return None

        wait_until(answering, 20, "the kiosk to answer")
        return proc, client

    def start_kiosks(self, count: int, **env) -> list[KioskClient]:
        return [self.start_kiosk(f"k{i}", **env)[1] for i in range(1, count + 1)]

    def log_text(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.logs.iterdir()))

    @staticmethod
    def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if proc.poll() is None:
            proc.send_signal(sig)
        return proc.wait(timeout)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()  # the kiosk's gunicorn master stops its workers
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        try:
            connection = self.connect()
            channel = connection.channel()
            channel.queue_delete(self.queue)
            channel.queue_delete(self.queue + DEAD_SUFFIX)
            channel.queue_delete(self.queue + REPLAY_SUFFIX)
            channel.exchange_delete(self.queue)
            channel.exchange_delete(self.queue + DEAD_SUFFIX)
            channel.exchange_delete(self.queue + REPLAY_SUFFIX)
            connection.close()
        except pika.exceptions.AMQPError:
            pass

    # --- observations -------------------------------------------------------------------------

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
        conn.close()
        return rows

    def count(self) -> int:
        """Votes in the table (0 while the worker has not created it yet)."""
        try:
            return self.sql("SELECT count(*) FROM votes")[0][0]
        except psycopg2.errors.UndefinedTable:
            return 0

    def stored_ids(self) -> list[str]:
        return [row[0] for row in self.sql("SELECT vote_id FROM votes")]

    def queue_depth(self, suffix: str = "") -> int:
        connection = self.connect()
        try:
            declared = connection.channel().queue_declare(self.queue + suffix, passive=True)
            return declared.method.message_count
        finally:
            connection.close()

    def publish(self, messages: Iterable[tuple[bytes, pika.BasicProperties]]) -> int:
        """Publish ``messages`` (body, properties) to the votes exchange as the test's broker
        user, confirmed, as a kiosk would; return how many."""
        connection = self.connect()
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            sent = 0
            for body, properties in messages:
                channel.basic_publish(self.queue, self.queue, body, properties, mandatory=True)
                sent += 1
            return sent
        finally:
            connection.close()

    def take_dead_letters(self) -> list[tuple[pika.BasicProperties, bytes]]:
        """Every message now in the dead-letter queue, taken off it: (properties, body)."""
        connection = self.connect()
        letters = []
        try:
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(
                    self.queue + DEAD_SUFFIX, auto_ack=True
                )
                if method is None:
                    return letters
                letters.append((properties, body))
        finally:
            connection.close()

    def cached_results(self) -> dict | None:
        try:
            return json.loads((self.cache_dir / "results.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait_for_total(self, total: int, timeout: float = 60) -> dict:
        """Wait until the cached results count ``total`` votes; return them."""

        def reached():
            results = self.cached_results()
            return results if results and results["total_votes"] == total else None

        try:
            return wait_until(reached, timeout, f"results.json to count {total} votes")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; now {self.cached_results()}\n{self.log_text()}"
            ) from None


@contextmanager
def vote_system_on(
    tmp: Path, amqp_url: str | None = None, queue_type: str | None = None
) -> Iterator[VoteSystem]:
    """A VoteSystem on a database (``rp_votes_<random>``) and queue of its own, on the broker of
    ``amqp_url`` (default: the settings' AMQP_URL) with queues of ``queue_type`` (default: the
    settings'); its processes, queues and database are removed afterwards."""
    config = load_settings()
    name = f"rp_votes_{uuid.uuid4().hex[:10]}"
    admin_statement(config.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(config.database_url)).set(database=name)
    system = None
    try:
        system = VoteSystem(
            url.render_as_string(hide_password=False),
            _admin_dsn(url.render_as_string(hide_password=False)),
            tmp,
            amqp_url or ",".join(config.amqp_urls),
            queue_type or config.queue_type,
        )
        yield system
    finally:
        if system is not None:
            system.close()
        admin_statement(config.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


LEDGERS: list[tuple[str, dict]] = []  # every fault scenario's ledger, printed after the run


def send_from_kiosks(
    clients: list[KioskClient], votes_each: int, retries: int = 0, pause: float = 0.5
) -> tuple[threading.Thread, list[Outcome]]:
    """Start sending ``votes_each`` votes to each kiosk at once, in the background (several
    simulated kiosks, 2 connections each); join the thread, then read the outcomes."""
    outcomes: list[Outcome] = []

    def one(client: KioskClient) -> None:
        outcomes.extend(
            drive("127.0.0.1", client.port, votes_each, ["1", "2", "3"], 2, retries, pause)
        )

    def all_kiosks() -> None:
        senders = [threading.Thread(target=one, args=(c,)) for c in clients]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()

    thread = threading.Thread(target=all_kiosks)
    thread.start()
    return thread, outcomes


def record(scenario: str, ledger: dict) -> dict:
    LEDGERS.append((scenario, ledger))
    return ledger


def unavailability(outcomes: list[Outcome], gap: float = 1.0) -> dict:
    """How long the kiosks answered 503 (or nothing): ``answers_503``, how many such answers;
    ``seconds_503``, the time covered by those attempts (each from its sending to its answer),
    stretches less than ``gap`` seconds apart joined (clients retry 0.5 s after a 503, so one
    outage is one stretch however many clients saw it); ``first_to_last_503``, from the first
    such attempt's sending to the last one's answer."""
    spans = sorted(span for o in outcomes for span in o.unavailable)
    if not spans:
        return {"answers_503": 0, "seconds_503": 0.0, "first_to_last_503": 0.0}
    covered, (start, end) = 0.0, spans[0]
    for a, b in spans[1:]:
        if a - end >= gap:
            covered, start = covered + end - start, a
        end = max(end, b)
    covered += end - start
    return {
        "answers_503": len(spans),
        "seconds_503": round(covered, 2),
        "first_to_last_503": round(end - spans[0][0], 2),
    }


def account(
    outcomes: list[Outcome],
    stored: list[str],
    poison: int | None = None,
    dead_lettered: int | None = None,
) -> dict:
    """Every vote end to end: sent, accepted (2xx), refused, counted, duplicates, lost, extra;
    and, for a scenario that publishes poison among the votes, how much and how much of it the
    dead-letter queue holds."""
    accepted = {o.vote_id for o in outcomes if 200 <= o.status < 300}
    stored_set = set(stored)
    ledger = {
        "sent": len(outcomes),
        "accepted": len(accepted),
        "refused": len(outcomes) - len(accepted),
        "counted": len(stored),
        "duplicates": len(stored) - len(stored_set),
        "lost": len(accepted - stored_set),
        "unclaimed_counted": len(stored_set - accepted),
    }
    if poison is not None:
        ledger |= {"poison": poison, "dead_lettered": dead_lettered}
    return ledger
