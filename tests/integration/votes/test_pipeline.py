"""The vote pipeline end to end on the real RabbitMQ and PostgreSQL: the kiosk over HTTP on
127.0.0.1, the worker as a process, the results cache, bad input and poison messages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections import Counter

import pika
import pytest

from lib.votes.broker import DEAD_SUFFIX
from lib.votes.queue_arguments import declared_arguments
from tests.integration.votes.vote_system import (
    ROOT,
    account,
    free_port,
    record,
    send_from_kiosks,
    wait_until,
)
from tests.support.kiosk_client import drive

CANDIDATES = ["1", "2", "3"]


def test_votes_flow_to_the_table_the_cache_and_the_kiosk(vote_system):
    vote_system.start_worker()
    _, client = vote_system.start_kiosk("k42")
    outcomes = drive("127.0.0.1", client.port, 300, ["1", "1", "2", "3", "3", "3"], threads=4)
    assert Counter(o.status for o in outcomes) == {202: 300}

    results = vote_system.wait_for_total(300)
    expected = Counter(o.candidate for o in outcomes)
    assert results["totals"] == {"1": expected["1"], "2": expected["2"], "3": expected["3"]}
    rows = dict(vote_system.sql("SELECT candidate, count(*) FROM votes GROUP BY candidate"))
    assert rows == {c: expected[c] for c in CANDIDATES}
    # the identity stored is the kiosk's broker user (RabbitMQ-checked), here the test's guest
    assert vote_system.sql("SELECT DISTINCT kiosk_id FROM votes") == [("guest",)]
    assert sum(results["last_10_minutes"].values()) == 300
    assert sum(sum(b["votes"].values()) for b in results["distribution"]) == 300
    assert vote_system.sql("SELECT sum(votes) FROM vote_buckets") == [(300,)]

    served = client.results()
    assert served["totals"] == results["totals"]
    assert 0 <= served["staleness_seconds"] < 30
    status, headers, body = client.request("GET", "/results")
    assert "max-age" in headers["cache-control"] and headers["etag"]
    status, _, _ = client.request("GET", "/results", headers={"If-None-Match": headers["etag"]})
    assert status in (200, 304)  # 200 if the worker rewrote the results in between
    for chart in ("totals", "timeline"):
        status, headers, body = client.request("GET", f"/results/{chart}.png")
        assert status == 200 and headers["content-type"] == "image/png"
        assert body.startswith(b"\x89PNG\r\n\x1a\n")

    status, _, body = client.request("GET", "/health")
    health = json.loads(body)
    assert status == 200 and health["broker_reachable"] and health["kiosk_id"] == "k42"
    assert health["cache_age_seconds"] is not None

    status, headers, page = client.request("GET", "/")
    assert status == 200 and "text/html" in headers["content-type"]
    assert "薯片 chips".encode() in page and b'data-candidate="3"' in page
    assert headers["x-content-type-options"] == "nosniff"


def test_a_retried_vote_id_counts_once(vote_system):
    vote_system.start_worker()
    _, client = vote_system.start_kiosk()
    vote_id = uuid.uuid4().hex
    statuses = [client.post_vote("2", vote_id).status for _ in range(3)]
    other = client.post_vote("1")
    assert statuses == [202, 202, 202] and other.status == 202
    results = vote_system.wait_for_total(2)
    assert results["totals"] == {"1": 1, "2": 1, "3": 0}
    assert sorted(vote_system.stored_ids()) == sorted([vote_id, other.vote_id])


BAD_REQUESTS = [
    ({"Content-Type": "application/json"}, b'{"candidate": "9"}', 400, "candidate must be"),
    (
        {"Content-Type": "application/json"},
        b'{"candidate": "1\'; DROP TABLE votes;--"}',
        400,
        "candidate must be",
    ),
    ({"Content-Type": "application/json"}, b'{"candidate": 1.5}', 400, "candidate must be"),
    ({"Content-Type": "application/json"}, b'{"candidate": ', 400, "not valid JSON"),
    ({"Content-Type": "application/json"}, b'["1"]', 400, "JSON object"),
    ({"Content-Type": "application/json"}, b'{"candidate": "1", "extra": 1}', 400, "unexpected"),
    ({"Content-Type": "application/json"}, b'{"candidate": "1", "vote_id": "x"}', 400, "vote_id"),
    ({"Content-Type": "application/json"}, b'{"candidate": "\xff\xfe"}', 400, "not UTF-8"),
    ({"Content-Type": "text/plain"}, b'{"candidate": "1"}', 415, "Content-Type"),
    ({}, b'{"candidate": "1"}', 415, "Content-Type"),
    (
        {"Content-Type": "application/json"},
        b'{"candidate": "1", "pad": "' + b"x" * 5000 + b'"}',
        413,
        "too large",
    ),
]


def test_bad_requests_get_a_reason_and_publish_nothing(vote_system):
    _, client = vote_system.start_kiosk()  # no worker: whatever is published stays queued
    for headers, body, status, reason in BAD_REQUESTS:
        got, reply_headers, reply = client.request("POST", "/votes", body, headers)
        assert got == status, (body[:60], got, reply)
        assert reason in json.loads(reply)["error"], reply
        assert reply_headers["content-type"].startswith("application/json")
    for method, path, status in [
        ("GET", "/votes", 405),
        ("PUT", "/votes", 405),
        ("GET", "/nowhere", 404),
        ("GET", "/results/secret.png", 404),
        ("GET", "/results/../../etc/passwd", 404),
    ]:
        got, _, reply = client.request(method, path)
        assert got == status, (method, path, got)
        assert b"Traceback" not in reply
    got, _, reply = client.request("GET", "/results")
    assert got == 503 and "not available yet" in json.loads(reply)["error"]
    assert client.post_vote("1").status == 202  # the one good vote
    assert vote_system.queue_depth() == 1


def test_poison_messages_are_dead_lettered_and_the_worker_goes_on(vote_system):
    connection = vote_system.connect()
    channel = connection.channel()
    channel.queue_declare(
        vote_system.queue, durable=True, arguments=declared_arguments(vote_system.queue_type)
    )

    def put(body: bytes, user_id: str | None = "guest"):
        channel.basic_publish("", vote_system.queue, body, pika.BasicProperties(user_id=user_id))

    good = {"v": 1, "candidate": "1", "kiosk_id": "k1", "cast_at": "2026-11-28T10:00:00+00:00"}
    poison = [
        b"not json",
        b"\xff\xfe\x00garbage",
        json.dumps({**good, "vote_id": "poison0001", "candidate": "1'; DROP TABLE votes;--"}),
        json.dumps({**good, "vote_id": "poison0002", "cast_at": "yesterday"}),
        json.dumps({**good, "vote_id": "poison0003", "cast_at": "2026-11-28T10:00:00"}),
        json.dumps({**good, "vote_id": "poison0004", "v": 2}),
        json.dumps({**good, "vote_id": "no"}),
        json.dumps({**good, "vote_id": "poison0005", "candidate": 1}),
    ]
    put(json.dumps({**good, "vote_id": "nouser0001"}).encode(), user_id=None)
    for i in range(10):
        put(json.dumps({**good, "vote_id": f"goodvote{i:04d}"}).encode())
        if i < len(poison):
            body = poison[i]
            put(body if isinstance(body, bytes) else body.encode())
    connection.close()

    worker = vote_system.start_worker()
    vote_system.wait_for_total(10)
    dead = len(poison) + 1  # and the vote without a user_id
    wait_until(lambda: vote_system.queue_depth(DEAD_SUFFIX) == dead, 20, "dead letters")
    assert worker.poll() is None, "the worker must keep running"
    assert vote_system.count() == 10
    assert vote_system.queue_depth() == 0

    connection = vote_system.connect()
    channel = connection.channel()
    reasons = []
    for _ in range(dead):
        method, props, _body = channel.basic_get(vote_system.queue + DEAD_SUFFIX, auto_ack=True)
        reasons.append(props.headers["x-reject-reason"])
    connection.close()
    assert all(reasons) and any("unknown candidate" in r for r in reasons)
    assert any("not UTF-8 JSON" in r for r in reasons)
    assert any("user_id" in r for r in reasons)


@pytest.mark.slow
def test_worker_sigkilled_mid_batch_loses_and_doubles_nothing(vote_system):
    worker = vote_system.start_worker(BATCH_SIZE="500", BATCH_MS="400")
    clients = vote_system.start_kiosks(2)
    sender, outcomes = send_from_kiosks(clients, 750)
    wait_until(lambda: vote_system.count() > 0, 30, "first batch")
    vote_system.stop(worker, signal.SIGKILL)
    vote_system.start_worker(BATCH_SIZE="500", BATCH_MS="400")
    sender.join()

    results = vote_system.wait_for_total(1500)
    ledger = record("worker SIGKILLed mid-batch", account(outcomes, vote_system.stored_ids()))
    assert ledger["accepted"] == 1500
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0)
    assert results["total_votes"] == vote_system.count()
    assert vote_system.sql("SELECT sum(votes) FROM vote_buckets") == [(1500,)]


@pytest.mark.slow
def test_votes_wait_in_the_queue_while_the_worker_is_stopped(vote_system):
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    sender, first = send_from_kiosks(clients, 50)
    sender.join()
    vote_system.wait_for_total(100)
    assert vote_system.stop(worker) == 0  # SIGTERM: flushes, acknowledges, exits cleanly

    sender, second = send_from_kiosks(clients, 200)
    sender.join()
    assert all(o.status == 202 for o in second)
    assert vote_system.queue_depth() == 400
    assert vote_system.count() == 100

    vote_system.start_worker()
    vote_system.wait_for_total(500)
    ledger = record(
        "worker stopped, queue grows", account(first + second, vote_system.stored_ids())
    )
    assert (ledger["accepted"], ledger["counted"], ledger["lost"]) == (500, 500, 0)
    assert vote_system.queue_depth() == 0


def test_two_workers_share_the_queue_without_double_counting(vote_system):
    vote_system.start_worker()
    vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    sender, outcomes = send_from_kiosks(clients, 600)
    sender.join()
    vote_system.wait_for_total(1200)
    ledger = record("two workers at once", account(outcomes, vote_system.stored_ids()))
    assert (ledger["accepted"], ledger["counted"], ledger["duplicates"]) == (1200, 1200, 0)
    assert vote_system.sql("SELECT sum(votes) FROM vote_buckets") == [(1200,)]


def test_kiosk_without_a_broker_answers_503_and_claims_nothing(vote_system):
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    _, client = vote_system.start_kiosk(AMQP_URL=closed)
    outcome = client.post_vote("1")
    assert outcome.status == 503
    status, _, body = client.request("GET", "/health")
    assert status == 503 and json.loads(body)["broker_reachable"] is False


@pytest.mark.parametrize("spec", ["", "1=", "=x", "1=a,1=b", "a b=c"])
def test_kiosk_refuses_to_start_with_bad_candidates(vote_system, spec):
    env = {**vote_system.env, "CANDIDATES": spec}
    proc = subprocess.run(
        [sys.executable, "service/kiosk.py", "--kiosk-id", "k1", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "CANDIDATES" in proc.stderr and "Traceback" not in proc.stderr


def test_vote_sql_files_run_with_psql_and_lib_alike(vote_system):
    from datetime import UTC, datetime

    from lib.db import connect
    from lib.votes.message import Vote, parse_candidates
    from lib.votes.store import apply_vote_schema, conflicting_votes, record_votes, vote_results

    dsn = vote_system.dsn
    env = {
        **vote_system.env,
        "PGHOST": dsn["host"],
        "PGPORT": str(dsn["port"]),
        "PGUSER": dsn["user"],
        "PGDATABASE": dsn["dbname"],
    }
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"]
    for _ in range(2):  # the schema applies twice
        subprocess.run([*psql, "-f", "sql/votes/schema.sql"], cwd=ROOT, env=env, check=True)
    done = subprocess.run(
        [
            *psql,
            "-v",
            "vote_ids={psqlvote1,psqlvote2,psqlvote1}",
            "-v",
            "candidates={1,2,1}",
            "-v",
            "kiosk_ids={k1,k1,k1}",
            "-v",
            "cast_ats={2026-11-28T12:00:00Z,2026-11-28T12:19:59Z,2026-11-28T12:00:00Z}",
            "-f",
            "sql/votes/record_votes.sql",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "2|2"  # two new votes (one id twice), two buckets

    conflict = subprocess.run(
        [
            *psql,
            *("-v", "vote_ids={psqlvote2,psqlvote2,psqlvote1}"),
            *("-v", "candidates={2,3,2}"),
            *("-v", "kiosk_ids={k1,k1,k9}"),
            *("-f", "sql/votes/conflicting_votes.sql"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert conflict.stdout.split() == ["2|2"]  # k1's psqlvote2 is a vote for 2, not 3

    engine = connect(vote_system.env["DATABASE_URL"])
    apply_vote_schema(engine)
    when = datetime(2026, 11, 28, 12, 10, tzinfo=UTC)
    batch = [
        Vote("libvote01", "2", "k2", when),
        Vote("psqlvote2", "2", "k1", when),  # delivered again: stored already, no conflict
        Vote("psqlvote2", "3", "k1", when),  # the same id of the same kiosk for another
        Vote("psqlvote1", "1", "k2", when),  # another kiosk's vote with the same id
    ]
    with engine.begin() as conn:
        assert record_votes(conn, batch) == 2
        assert conflicting_votes(conn, batch) == {2: "2"}
    with engine.connect() as conn:
        results = vote_results(conn, parse_candidates("1=a,2=b,3=c"))
    engine.dispose()
    assert results["totals"] == {"1": 2, "2": 2, "3": 0}
    assert [(b["bucket"][11:16], b["votes"]) for b in results["distribution"]] == [
        ("12:00", {"1": 1, "2": 0, "3": 0}),
        ("12:10", {"1": 1, "2": 2, "3": 0}),
    ]
    rows = subprocess.run(
        [*psql, "-f", "sql/votes/vote_distribution.sql"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert [r.split("|")[1:] for r in rows] == [["1", "1"], ["1", "1"], ["2", "2"]]


def test_a_kiosk_with_a_token_refuses_votes_without_it(vote_system):
    _, client = vote_system.start_kiosk(KIOSK_TOKEN="s3cret-token-0123456789")
    body = b'{"candidate": "1"}'
    for auth in (
        None,
        "Bearer wrong",
        "Bearer s3cret-token-0123456789X",
        "s3cret-token-0123456789",
        "Bearer ",
    ):
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth
        status, _, reply = client.request("POST", "/votes", body, headers)
        assert status == 401 and "Bearer" in json.loads(reply)["error"], auth
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer s3cret-token-0123456789",
    }
    assert client.request("POST", "/votes", body, headers)[0] == 202
    assert client.request("GET", "/results")[0] in (200, 503)  # reading needs no token
    assert vote_system.queue_depth() == 1


def test_a_kiosk_flooded_with_votes_answers_429_and_publishes_only_what_it_accepts(vote_system):
    _, client = vote_system.start_kiosk(RATE_LIMIT="5")
    outcomes = [client.post_vote("1") for _ in range(60)]
    statuses = Counter(o.status for o in outcomes)
    assert statuses[429] > 0 and statuses[202] >= 10  # two server processes, a burst of 10 each
    assert set(statuses) <= {202, 429}
    assert vote_system.queue_depth() == statuses[202]


def test_a_kiosk_reachable_from_other_machines_needs_a_token(vote_system):
    proc = subprocess.run(
        [
            sys.executable,
            "service/kiosk.py",
            "--kiosk-id",
            "k1",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=vote_system.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "KIOSK_TOKEN" in proc.stderr


def test_a_deleted_chart_is_drawn_again_on_the_next_cycle(vote_system):
    # charts may be redrawn only once an hour: only a missing one is drawn sooner
    vote_system.start_worker(CHART_INTERVAL="3600", VOTES_TIME_ZONE="Asia/Hong_Kong")
    _, client = vote_system.start_kiosk()
    assert client.post_vote("2").status == 202
    results = vote_system.wait_for_total(1)
    assert results["time_zone"] == "Asia/Hong_Kong"
    assert [b["local_time"][-6:] for b in results["distribution"]] == ["+08:00"]
    charts = [vote_system.cache_dir / f"{name}.png" for name in ("totals", "timeline")]
    wait_until(lambda: all(c.exists() for c in charts), 30, "the charts")
    for chart in charts:
        chart.unlink()
        wait_until(chart.exists, 15, f"{chart.name} drawn again")  # RESULTS_INTERVAL is 0.5 s
        status, headers, body = client.request("GET", f"/results/{chart.name}")
        assert status == 200 and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert vote_system.wait_for_total(1)["totals"] == {"1": 0, "2": 1, "3": 0}
