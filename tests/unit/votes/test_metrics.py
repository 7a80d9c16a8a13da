"""The metrics of ``lib.votes.metrics`` without services: the kiosk's app in-process through the
WSGI validator, its processes counted together in multiprocess mode, the worker's counts from
its own steps, its listener on a socket of this machine, the settings, and the names
docs/operations.md gives. Against the real kiosk, worker, RabbitMQ and PostgreSQL:
tests/integration/votes/test_metrics.py."""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import pytest

from lib.errors import ConfigError
from lib.votes.backoff import Backoff
from lib.votes.broker import BrokerUnavailable, VotesRefused
from lib.votes.cache import write_results
from lib.votes.clock import KioskClock
from lib.votes.message import Vote, encode
from lib.votes.metrics import (
    MULTIPROCESS_VARIABLE,
    KioskMetrics,
    WorkerMetrics,
    exported_names,
    multiprocess_directory,
    serve_worker_metrics,
)
from lib.votes.settings import load_settings
from lib.votes.store import build_results
from service.kiosk import make_app
from service.worker import Batch, Worker
from service.writer_supervisor import WriterSupervisor
from tests.support.metrics_text import sample_values
from tests.unit.votes.test_kiosk_app import CANDIDATES, JSON, StandInPublisher, call
from tests.unit.votes.test_writer_supervisor import die_at_once

ROOT = Path(__file__).resolve().parents[3]
VOTE = b'{"candidate": "1"}'


def scrape(app) -> dict[str, float]:
    reply = call(app, "GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return sample_values(reply.body)


def refused(reason: str) -> str:
    return f'vote_counter_kiosk_votes_refused_total{{reason="{reason}"}}'


def test_votes_accepted_and_refused_are_counted_by_reason(tmp_path):
    publisher = StandInPublisher()
    token = {"Authorization": "Bearer a-token-of-16-chars"}
    app = make_app(
        "k7", CANDIDATES, lambda: publisher, tmp_path, token="a-token-of-16-chars", rate_limit=1
    )
    before = scrape(app)
    assert before["vote_counter_kiosk_votes_accepted_total"] == 0
    assert all(before[refused(r)] == 0 for r in ("invalid", "rate_limited", "clock"))

    clients = iter(f"10.0.1.{i}" for i in range(1, 255))  # one each: no rate limit met

    def post(body: bytes = VOTE, content_type: str = JSON, **headers: str) -> int:
        client = headers.pop("client", None) or next(clients)
        return call(app, "POST", "/votes", body, client, content_type=content_type, **headers)

    assert post(**token).status == 202
    assert post().status == 401
    assert post(**token, origin="http://evil.example").status == 403
    assert post(b"{", **token).status == 400
    assert post(content_type="text/plain", **token).status == 415
    assert [post(client="10.0.0.9", **token).status for _ in range(3)] == [202, 202, 429]
    publisher.failure = BrokerUnavailable("broker did not confirm within 5s")
    assert post(**token).status == 503
    publisher.failure = VotesRefused("no queue takes votes")
    assert post(**token).status == 503

    after = scrape(app)
    assert after["vote_counter_kiosk_votes_accepted_total"] == 3 == len(publisher.votes)
    assert {r: after[refused(r)] for r in ("unauthorized", "foreign_origin", "invalid")} == {
        "unauthorized": 1,
        "foreign_origin": 1,
        "invalid": 2,
    }
    assert after[refused("rate_limited")] == 1
    assert after[refused("broker_unavailable")] == after[refused("queue_refused")] == 1
    # every vote handed to the broker is timed, confirmed or not
    assert after["vote_counter_kiosk_confirm_seconds_count"] == 5
    assert after['vote_counter_kiosk_confirm_seconds_bucket{le="+Inf"}'] == 5
    statuses = {
        s: after[f'vote_counter_kiosk_requests_refused_total{{status="{s}"}}']
        for s in (
            "400",
            "401",
            "403",
            "415",
            "429",
            "503",
        )
    }
    assert statuses == {"400": 1, "401": 1, "403": 1, "415": 1, "429": 1, "503": 2}


def test_a_kiosk_clock_refusal_and_a_vote_before_the_opening_have_reasons(tmp_path):
    true = time.time()
    soon = datetime.now(UTC) + timedelta(minutes=1)
    for offset, status, reason in ((600.0, 503, "clock"), (0.0, 403, "not_open")):
        clock = KioskClock(
            timedelta(minutes=5), soon, lambda offset=offset: true + offset, lambda: true
        )
        for age in (4.0, 2.0, 0.0):  # the results writer's refreshes as the kiosk saw them
            clock.observe(datetime.fromtimestamp(true - age, UTC))
        app = make_app("k7", CANDIDATES, StandInPublisher, tmp_path, clock=clock)
        assert call(app, "POST", "/votes", VOTE, content_type=JSON).status == status
        assert scrape(app)[refused(reason)] == 1


def test_with_metrics_off_votes_are_taken_and_metrics_is_a_404(tmp_path):
    app = make_app(
        "k7", CANDIDATES, StandInPublisher, tmp_path, metrics=KioskMetrics(enabled=False)
    )
    assert call(app, "POST", "/votes", VOTE, content_type=JSON).status == 202
    reply = call(app, "GET", "/metrics")
    assert reply.status == 404 and "METRICS=0" in reply.reason


def _serve_votes(metrics: KioskMetrics, votes: int) -> None:
    """A kiosk's server process, as gunicorn forks it: takes ``votes`` and keeps a connection
    open as it dies."""
    for _ in range(votes):
        metrics.votes_accepted.inc()
    metrics.connections_open.inc()


def test_a_kiosks_processes_are_counted_together_and_a_dead_ones_connections_forgotten():
    forked = multiprocessing.get_context("fork")
    with multiprocess_directory(os.environ, "test-kiosk-metrics-") as directory:
        assert os.environ[MULTIPROCESS_VARIABLE] == str(directory)
        metrics = KioskMetrics(directory)  # made before the fork, as the kiosk makes them
        children = [forked.Process(target=_serve_votes, args=(metrics, n)) for n in (2, 5)]
        for child in children:
            child.start()
            child.join(10)
        metrics.votes_accepted.inc()  # and one in this process
        counted = sample_values(metrics.exposition())
        assert counted["vote_counter_kiosk_votes_accepted_total"] == 8
        assert counted["vote_counter_kiosk_connections_open"] == 2
        metrics.process_gone(children[0].pid)
        counted = sample_values(metrics.exposition())
        assert counted["vote_counter_kiosk_connections_open"] == 1
        assert counted["vote_counter_kiosk_votes_accepted_total"] == 8  # counters stay
    assert not directory.exists() and MULTIPROCESS_VARIABLE not in os.environ


def _leave(context) -> None:
    context.__exit__(None, None, None)


def test_the_metrics_directory_is_removed_by_its_maker_only(tmp_path):
    context = multiprocess_directory(os.environ, "test-kiosk-metrics-", str(tmp_path))
    directory = context.__enter__()
    try:
        # a forked server process leaves through the kiosk's frames too: it must not remove it
        child = multiprocessing.get_context("fork").Process(target=_leave, args=(context,))
        child.start()
        child.join(10)
        assert child.exitcode == 0 and directory.is_dir()
    finally:
        context.__exit__(None, None, None)
    assert not directory.exists()


class RecordingChannel:
    def __init__(self):
        self.published: list[dict] = []

    def basic_publish(self, **kwargs) -> None:
        self.published.append(kwargs)


def properties(user: str | None = "kiosk-1") -> pika.BasicProperties:
    return pika.BasicProperties(user_id=user, message_id="m1")


def test_the_worker_counts_batches_votes_lag_and_dead_letters_by_reason(tmp_path):
    settings = load_settings({}, cache_dir=tmp_path)
    worker = Worker(settings, metrics=WorkerMetrics())
    now = datetime.now(UTC)
    batch = Batch()
    fine = Vote("a" * 32, "1", "k1", now - timedelta(seconds=3))
    worker._take(batch, encode(fine), properties())
    worker._take(batch, b"not json", properties())
    worker._take(batch, encode(Vote("b" * 32, "1", "k1", now + timedelta(hours=1))), properties())
    worker._take(batch, encode(Vote("c" * 32, "2", "k1", now)), properties(user=None))
    assert len(batch.votes) == 1 and len(batch.rejects) == 3
    channel = RecordingChannel()
    for received, reason, kind in batch.rejects:
        worker._dead_letter(channel, received, reason, kind)
    worker._count(batch, inserted=1, committed=now)

    counted = sample_values(worker.metrics.exposition())
    assert len(channel.published) == 3
    dead = {
        r: counted[f'vote_counter_worker_dead_letters_total{{reason="{r}"}}']
        for r in ("not_a_vote", "future", "conflict", "properties")
    }
    assert dead == {"not_a_vote": 2, "future": 1, "conflict": 0, "properties": 0}
    assert counted["vote_counter_worker_batches_total"] == 1
    assert counted["vote_counter_worker_batch_size_messages_sum"] == 4
    assert counted["vote_counter_worker_votes_stored_total"] == 1
    assert counted["vote_counter_worker_lag_seconds_count"] == 1
    assert counted["vote_counter_worker_lag_seconds_sum"] == pytest.approx(3, abs=0.01)
    assert counted['vote_counter_worker_lag_seconds_bucket{le="2.5"}'] == 0
    assert counted['vote_counter_worker_lag_seconds_bucket{le="5.0"}'] == 1
    # not yet polled: the depth is not known
    assert math.isnan(counted['vote_counter_worker_queue_messages{queue="votes"}'])


def test_the_worker_serves_its_metrics_and_the_results_age(tmp_path):
    metrics = WorkerMetrics(tmp_path, 1 << 20)
    port = serve_worker_metrics(metrics, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{port}/metrics"

    def age() -> float:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return sample_values(reply.read())["vote_counter_worker_results_age_seconds"]

    assert age() == math.inf  # no results yet
    generated = datetime.now(UTC) - timedelta(seconds=30)
    write_results(tmp_path, build_results([], [], CANDIDATES, generated), charts=False)
    assert 30 <= age() < 40


def test_writer_restarts_are_counted():
    settings = load_settings({}, cache_dir=Path("/nonexistent"))
    metrics = WorkerMetrics()
    supervisor = WriterSupervisor(
        settings, Backoff(0.05, 0.05), target=die_at_once, on_restart=metrics.writer_restarts.inc
    )
    supervisor.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            restarts = sample_values(metrics.exposition())
            if restarts["vote_counter_worker_writer_restarts_total"] >= 2:
                break
            time.sleep(0.05)
    finally:
        supervisor.stop(10)
    assert sample_values(metrics.exposition())["vote_counter_worker_writer_restarts_total"] >= 2


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("METRICS", "yes", "METRICS must be 1 (on) or 0 (off)"),
        ("WORKER_METRICS_PORT", "65536", "WORKER_METRICS_PORT must be 0 (any free port) to 65535"),
        ("WORKER_METRICS_PORT", "-1", "WORKER_METRICS_PORT must be a non-negative int"),
        ("WORKER_METRICS_HOST", "a host", "WORKER_METRICS_HOST must be an IP address"),
    ],
)
def test_metrics_settings_are_checked(variable, value, said):
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_settings({variable: value})


def test_metrics_settings_defaults():
    settings = load_settings({})
    assert settings.metrics and settings.worker_metrics_port == 9464
    assert settings.worker_metrics_host == "127.0.0.1"
    assert not load_settings({"METRICS": "0"}).metrics


def test_a_worker_that_cannot_listen_for_metrics_stops_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run(
            [sys.executable, str(ROOT / "service" / "worker.py")],
            cwd=tmp_path,
            env={**os.environ, "WORKER_METRICS_PORT": str(taken.getsockname()[1])},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot serve its metrics on 127.0.0.1:" in lines[0], lines


def documented_metrics() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    return set(re.findall(r"\bvote_counter_[a-z_]+[a-z]", text))


def family(sample: str) -> str:
    return re.sub(r"_(total|bucket|count|sum)$", "", sample)


def test_the_operations_guide_names_only_metrics_that_are_exported_and_every_one():
    exported = exported_names()
    documented = documented_metrics()
    families = {family(name) for name in exported}  # a histogram is named by its family
    assert documented - exported - families == set(), "docs/operations.md names others"
    missing = families - {family(name) for name in documented}
    assert missing == set(), "docs/operations.md leaves out metrics"
