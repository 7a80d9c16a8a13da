"""The kiosk app refusing votes it could not see counted, in-process with a stand-in publisher and
a clock the test turns: a queue that could lose votes, a vote no queue takes, a clock off by more
than VOTE_CLOCK_SKEW, a vote before VOTES_OPEN_AT. Each a 503 (403 for the opening) with its
reason, nothing published, and /health saying why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lib.votes.broker import NO_QUEUE, BrokerUnavailable, VotesRefused
from lib.votes.clock import KioskClock
from service.kiosk import make_app
from tests.unit.votes.test_kiosk_app import CANDIDATES, StandInPublisher, call, vote

LINE = "queue votes could lose votes: it drops the oldest votes when full (x-overflow=drop-head)"


def test_a_refusal_is_a_503_with_its_reason_and_health_says_it(tmp_path):
    refusing = StandInPublisher(failure=VotesRefused(LINE), refused=LINE)
    app = make_app("k7", CANDIDATES, lambda: refusing, tmp_path)
    reply = vote(app, {"candidate": "1", "vote_id": "abcdefgh"})
    assert reply.status == 503 and reply.reason == (
        f"vote not taken: {LINE}; retry with the same vote_id (it will count once)"
    )
    health = call(app, "GET", "/health")
    assert health.status == 503 and health.json()["refusing_votes"] == LINE
    assert health.json()["broker_reachable"] is True and refusing.votes == []


def test_a_vote_no_queue_takes_says_so_and_a_broker_fault_keeps_its_details(tmp_path):
    unrouted = make_app(
        "k7", CANDIDATES, lambda: StandInPublisher(VotesRefused(NO_QUEUE)), tmp_path
    )
    assert "no queue takes votes" in vote(unrouted, {"candidate": "2"}).reason
    lost = StandInPublisher(BrokerUnavailable("broker connection lost: node rmq-2 said 320"))
    faulty = make_app("k7", CANDIDATES, lambda: lost, tmp_path)
    reply = vote(faulty, {"candidate": "2"})
    assert reply.status == 503 and "rmq-2" not in reply.reason
    assert reply.reason.startswith("vote not confirmed by the ballot box; retry")


class Turned:
    """Wall and monotonic clocks the test sets; the kiosk's wall clock ``offset`` ahead."""

    def __init__(self, offset: float):
        self.true, self.offset = datetime.now(UTC).timestamp(), offset

    def wall(self) -> float:
        return self.true + self.offset

    def monotonic(self) -> float:
        return self.true


def _kiosk(tmp_path, offset: float, opens_at: datetime | None = None):
    turned = Turned(offset)
    clock = KioskClock(timedelta(minutes=5), opens_at, turned.wall, turned.monotonic)
    publisher = StandInPublisher()
    app = make_app("k7", CANDIDATES, lambda: publisher, tmp_path, clock=clock)
    # the results writer's refreshes as the kiosk saw them, two seconds apart
    for age in (4.0, 2.0, 0.0):
        clock.observe(datetime.fromtimestamp(turned.true - age, UTC))
    return app, publisher, turned


def test_votes_are_stamped_in_the_writers_time_within_the_bound(tmp_path):
    app, publisher, turned = _kiosk(tmp_path, offset=-45.0)
    assert vote(app, {"candidate": "3"}).status == 202
    (published,) = publisher.votes
    assert published.cast_at.timestamp() == turned.true  # not 45 s behind
    clock = call(app, "GET", "/health").json()["clock"]
    assert clock["checked"] and clock["offset_seconds"] == -45.0 and clock["refusal"] is None


def test_beyond_the_bound_votes_are_refused_and_health_says_why(tmp_path):
    app, publisher, _ = _kiosk(tmp_path, offset=600.0)
    reply = vote(app, {"candidate": "3"})
    assert reply.status == 503 and "600s ahead of the results writer's" in reply.reason
    health = call(app, "GET", "/health")
    assert health.status == 503 and "600s ahead" in health.json()["refusing_votes"]
    assert publisher.votes == []
    # a bad body is still told as such, not as the clock
    assert call(app, "POST", "/votes", b"{", **{"Content-Type": "application/json"}).status == 400


def test_a_vote_before_the_opening_is_a_403_not_a_202(tmp_path):
    soon = datetime.now(UTC) + timedelta(minutes=1)
    app, publisher, _ = _kiosk(tmp_path, offset=0.0, opens_at=soon)
    reply = vote(app, {"candidate": "1"})
    assert reply.status == 403 and reply.reason == f"voting opens at {soon.isoformat()}"
    assert publisher.votes == []
