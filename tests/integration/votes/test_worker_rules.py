"""The worker's rules on votes that decode, with the real worker, RabbitMQ and PostgreSQL: times
are the server's to bound (not later than its clock plus VOTE_CLOCK_SKEW, not before
VOTES_OPEN_AT, however old otherwise), and a kiosk's vote id names one vote."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from lib.votes.broker import DEAD_SUFFIX, persistent
from lib.votes.message import Vote, encode
from tests.integration.votes.vote_system import wait_until

USER = "guest"


def message(cast_at: datetime, candidate: str = "1", vote_id: str | None = None):
    vote = Vote(vote_id or uuid.uuid4().hex, candidate, "k1", cast_at)
    return encode(vote), persistent(vote.vote_id, user_id=USER)


def dead_letters(vote_system, count: int) -> list[tuple[str, str, bytes]]:
    """Wait for ``count`` dead letters: (message id, reason, body) each."""
    wait_until(lambda: vote_system.queue_depth(DEAD_SUFFIX) >= count, 30, "the dead letters")
    letters = vote_system.take_dead_letters()
    assert len(letters) == count, letters
    for props, _ in letters:
        assert props.headers["x-original-user-id"] == USER  # kept, so it can be replayed
    return [(props.message_id, props.headers["x-reject-reason"], body) for props, body in letters]


def test_votes_that_waited_through_a_long_outage_count_and_future_ones_do_not(vote_system):
    now = datetime.now(UTC)
    # published while no worker runs: as if it had been down for three days
    waited = [message(now - timedelta(days=3, minutes=i)) for i in range(20)]
    future = [message(now + timedelta(hours=1)), message(now + timedelta(seconds=330))]
    vote_system.publish([*waited[:10], *future, *waited[10:]])
    vote_system.start_worker()  # VOTE_CLOCK_SKEW: 300 s by default
    results = vote_system.wait_for_total(20)
    assert results["totals"]["1"] == 20
    letters = dead_letters(vote_system, 2)
    assert sorted(body for _, _, body in letters) == sorted(body for body, _ in future)
    for _, reason, _ in letters:
        assert "later than the worker's clock" in reason and "VOTE_CLOCK_SKEW (300s)" in reason
    assert vote_system.count() == 20 and vote_system.queue_depth() == 0


def test_the_opening_and_the_skew_are_settings(vote_system):
    now = datetime.now(UTC)
    opening = (now - timedelta(days=1)).astimezone(timezone(timedelta(hours=8)))
    before = [message(now - timedelta(days=2)), message(opening - timedelta(microseconds=1))]
    counted = [
        message(opening),
        message(now - timedelta(hours=1)),
        message(now + timedelta(seconds=120)),  # within a skew of 10 minutes
    ]
    too_late = [message(now + timedelta(minutes=20))]
    vote_system.publish([*before, *counted, *too_late])
    vote_system.start_worker(VOTES_OPEN_AT=opening.isoformat(), VOTE_CLOCK_SKEW="600")
    vote_system.wait_for_total(3)
    reasons = {message_id: reason for message_id, reason, _ in dead_letters(vote_system, 3)}
    for _, props in before:
        assert "before the vote opened" in reasons[props.message_id]
    assert "VOTE_CLOCK_SKEW (600s)" in reasons[too_late[0][1].message_id]
    assert sorted(vote_system.stored_ids()) == sorted(props.message_id for _, props in counted)


def test_a_vote_id_reused_for_another_candidate_is_a_conflict_not_a_silent_drop(vote_system):
    vote_system.start_worker()
    now = datetime.now(UTC) - timedelta(seconds=1)
    first, again, other = (
        message(now, "1", "reused-id-1"),
        message(now, "1", "reused-id-1"),  # the same vote delivered twice: counts once, quietly
        message(now, "2", "reused-id-1"),
    )
    conflicting_in_batch = [message(now, "3", "in-batch-1"), message(now, "2", "in-batch-1")]
    vote_system.publish([first, again, *conflicting_in_batch])
    vote_system.wait_for_total(2)
    vote_system.publish([other])  # a later batch: the stored vote decides
    letters = dead_letters(vote_system, 2)
    assert sorted(body for _, _, body in letters) == sorted([conflicting_in_batch[1][0], other[0]])
    for _, reason, _ in letters:
        assert (
            reason.startswith("conflict: vote_id ") and "already counted for candidate" in reason
        )
    assert vote_system.sql("SELECT vote_id, candidate FROM votes ORDER BY 1") == [
        ("in-batch-1", "3"),
        ("reused-id-1", "1"),
    ]
    assert vote_system.wait_for_total(2)["totals"] == {"1": 1, "2": 0, "3": 1}
