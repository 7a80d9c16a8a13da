"""The kiosk while the broker blocks publishing (a memory or disk alarm), in-process with a
stand-in publisher: a vote is a 503 at once with the broker's reason and a Retry-After, nothing
published and the refusal counted under its own reason; /health is a 503 saying it; reads are
served as ever; once unblocked, votes are taken again. The publisher's side (the broker's
``connection.blocked``): tests/unit/votes/test_broker_blocked.py; the real broker's alarm:
tests/integration/votes/test_broker_blocked.py."""

from __future__ import annotations

from lib.votes.broker import BrokerBlocked, BrokerUnavailable, blocked_line
from lib.votes.metrics import KioskMetrics
from service.kiosk import BLOCKED_RETRY_AFTER, make_app
from tests.support.metrics_text import sample_values
from tests.unit.votes.test_kiosk_app import (
    CANDIDATES,
    StandInPublisher,
    call,
    vote,
    write_cache,
)

LINE = blocked_line("low on memory")
REFUSED = 'vote_counter_kiosk_votes_refused_total{reason="broker_blocked"}'


def test_a_blocked_broker_refuses_votes_at_once_and_health_says_why(tmp_path):
    blocked = StandInPublisher(failure=BrokerBlocked(LINE), blocked=LINE)
    metrics = KioskMetrics()
    app = make_app("k7", CANDIDATES, lambda: blocked, tmp_path, metrics=metrics)
    write_cache(tmp_path, {"1": 2})

    reply = vote(app, {"candidate": "1", "vote_id": "abcdefgh"})
    assert reply.status == 503
    assert reply.reason == (
        "vote not taken: broker blocked: low on memory; "
        "retry with the same vote_id (it will count once)"
    )
    assert reply.headers["retry-after"] == str(BLOCKED_RETRY_AFTER)
    assert blocked.votes == []
    counted = sample_values(metrics.exposition())
    assert counted[REFUSED] == 1
    assert counted["vote_counter_kiosk_confirm_seconds_count"] == 0  # no confirm was awaited

    health = call(app, "GET", "/health")
    assert health.status == 503
    state = health.json()
    assert state["broker_blocked"] == LINE and state["refusing_votes"] == LINE
    assert state["broker_reachable"] is True  # connected: the broker said it blocks

    # reads are answered as ever
    assert call(app, "GET", "/results").status == 200
    assert call(app, "GET", "/openapi.json").status == 200


def test_a_vote_sent_before_the_block_is_not_said_to_be_lost(tmp_path):
    """Waiting for its confirm when the broker blocked: the broker has it and may store it once
    the block lifts, so the 503 does not say "not taken"."""
    in_flight = StandInPublisher(failure=BrokerBlocked(LINE, sent=True), blocked=None)
    app = make_app("k7", CANDIDATES, lambda: in_flight, tmp_path)
    reply = vote(app, {"candidate": "1", "vote_id": "abcdefgh"})
    assert reply.status == 503
    assert reply.reason == (
        "vote not confirmed: broker blocked: low on memory; it may still count; "
        "retry with the same vote_id (it will count once)"
    )
    assert reply.headers["retry-after"] == str(BLOCKED_RETRY_AFTER)


def test_once_unblocked_votes_are_taken_and_health_is_200_again(tmp_path):
    publisher = StandInPublisher(failure=BrokerBlocked(LINE), blocked=LINE)
    app = make_app("k7", CANDIDATES, lambda: publisher, tmp_path)
    assert vote(app, {"candidate": "2"}).status == 503

    publisher.failure = publisher.is_blocked = None  # connection.unblocked
    reply = vote(app, {"candidate": "2", "vote_id": "abcdefgh"})
    assert reply.status == 202 and "retry-after" not in reply.headers
    assert [v.vote_id for v in publisher.votes] == ["abcdefgh"]
    health = call(app, "GET", "/health")
    assert health.status == 200 and health.json()["broker_blocked"] is None


def test_other_broker_faults_carry_no_retry_after(tmp_path):
    lost = StandInPublisher(BrokerUnavailable("broker connection lost"))
    app = make_app("k7", CANDIDATES, lambda: lost, tmp_path)
    reply = vote(app, {"candidate": "2"})
    assert reply.status == 503 and "retry-after" not in reply.headers
