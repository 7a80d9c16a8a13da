"""Whatever is published to the votes queue, the real worker stays up and each message is either
counted once or dead-lettered with its reason: hypothesis makes messages at every field's edges
(times from year 1 to 9999 with any offset, huge numbers, long and odd strings, deep nesting,
wrong types, repeated keys, no user_id, headers pika cannot decode) and mixes them with good
votes, straight onto the queue of a worker running on the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pika
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.votes.message import MAX_MESSAGE_BYTES
from tests.integration.votes.vote_system import UndecodableProperties, wait_until

USER = "guest"  # the broker user the tests publish as: RabbitMQ checks user_id against it
_VALID_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_ids = itertools.count()


@dataclass(frozen=True)
class Message:
    """One message to publish, and what must become of it: ``counted``, ``dead`` or ``either``
    (a time at the edge of what the worker accepts)."""

    message_id: str
    vote_id: str | None  # the id it is stored under, if it is counted
    body: bytes
    user_id: str | None
    undecodable: bool
    expect: str

    def properties(self) -> pika.BasicProperties:
        kind = UndecodableProperties if self.undecodable else pika.BasicProperties
        return kind(
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=self.message_id,
            user_id=self.user_id,
        )


def unique_vote_id(length: int) -> str:
    """A valid vote id no other message of the run has, ``length`` (8-64) characters long."""
    serial = f"p{next(_ids):07d}"
    return (serial + "-_x" * 22)[: max(length, len(serial))]


ODD_TEXT = st.sampled_from(
    ["", " ", "1\n", "1\x00", "\x00", "\u202e1", "１", "薯片", "\ud7ff", "x" * 5000, "1 ", "01"]
) | st.text(max_size=40)
WRONG_TYPES = st.sampled_from([None, True, False, 0, 1, -1, 1.5, 2**64, 10**300, [], {}, ["1"]])
HUGE_NUMBERS = st.sampled_from([10**4000, -(10**4000), 1e308, 2**63, -(2**63)])
OFFSETS = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(lambda d: timezone(timedelta(minutes=round(d.total_seconds() / 60))))
ANY_TIME = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    OFFSETS | st.sampled_from([timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))]),
)


def _time_expectation(when: datetime, now: datetime) -> str:
    """What must become of an otherwise good vote cast at ``when``."""
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        return "dead"  # before year 1 or after 9999 in UTC
    if utc < datetime(1970, 1, 1, tzinfo=UTC) or utc > now + timedelta(minutes=2):
        return "dead"  # before any kiosk clock, or later than the worker's clock plus skew
    if utc < now - timedelta(minutes=1):
        return "counted"  # however old: it may have waited through an outage
    return "either"  # near the clock: which side of the skew depends on when it is read


@st.composite
def messages(draw) -> Message:
    """A message: a good vote, or one with a field at its edge or wrong, serialised oddly
    (published within seconds of being made, so ``now`` is the worker's too)."""
    now = datetime.now(UTC)
    message_id = f"m{next(_ids):07d}"
    vote_id = unique_vote_id(draw(st.sampled_from([8, 9, 32, 63, 64])))
    fields = {
        "v": 1,
        "vote_id": vote_id,
        "candidate": draw(st.sampled_from(["1", "2", "3"])),
        "kiosk_id": draw(st.sampled_from(["k1", "", "薯片\x00\n"]) | ODD_TEXT),  # not trusted
        "cast_at": None,
    }
    when = draw(
        st.one_of(
            st.builds(lambda s: now - timedelta(seconds=s), st.integers(60, 3 * 86400)),
            ANY_TIME,
        )
    )
    fields["cast_at"] = when.isoformat()
    expect = _time_expectation(when, now)
    spoil = draw(
        st.sampled_from(
            ["none"] * 4
            + ["v", "vote_id", "candidate", "cast_at", "missing", "extra", "user_id"]
            + ["undecodable", "repeat", "deep", "huge", "binary"]
        )
    )
    user_id = USER
    undecodable = False
    if spoil == "v":
        fields["v"] = draw(WRONG_TYPES.filter(lambda v: type(v) is not int or v != 1) | ODD_TEXT)
    elif spoil == "vote_id":
        fields["vote_id"] = draw(
            WRONG_TYPES
            | HUGE_NUMBERS
            | st.sampled_from([vote_id + "\n", vote_id[:7], vote_id + "\x00", vote_id + " "])
            | ODD_TEXT.filter(lambda t: not _VALID_ID.fullmatch(t))
        )
    elif spoil == "candidate":
        fields["candidate"] = draw(
            WRONG_TYPES | HUGE_NUMBERS | ODD_TEXT.filter(lambda t: t not in ("1", "2", "3"))
        )
    elif spoil == "cast_at":
        fields["cast_at"] = draw(
            WRONG_TYPES
            | HUGE_NUMBERS
            | st.sampled_from(["", "now", "2026-11-28T12:00:00", "2026-13-01T00:00:00Z"])
            | st.builds(lambda t: t.replace(tzinfo=None).isoformat(), ANY_TIME)  # no zone
        )
    elif spoil == "missing":
        del fields[draw(st.sampled_from(["v", "vote_id", "candidate", "cast_at"]))]
    elif spoil == "extra":
        fields[draw(st.sampled_from(["x", "V", "vote_id ", "\x00"]))] = draw(WRONG_TYPES)
    elif spoil == "user_id":
        user_id = None  # RabbitMQ lets a message through without one: it cannot be a kiosk's
    elif spoil == "undecodable":
        undecodable = True
    text = json.dumps(fields, ensure_ascii=draw(st.booleans()))
    if spoil == "repeat":
        key = draw(st.sampled_from(["v", "vote_id", "candidate", "cast_at"]))
        text = "{" + json.dumps(key) + ": " + json.dumps(fields[key]) + ", " + text[1:]
    elif spoil == "deep":
        depth = draw(st.sampled_from([8, 9, 100, 3000]))
        text = "[" * depth + text + "]" * depth
    elif spoil == "huge":
        text = text[:-1] + ', "pad": "' + "x" * draw(st.sampled_from([5000, 200_000])) + '"}'
    text += draw(st.sampled_from(["", "\n", " \r\n\t"]))  # JSON allows whitespace after
    body = text.encode()
    if spoil == "binary":
        body = draw(
            st.binary(min_size=1, max_size=300).filter(lambda b: not b.strip().startswith(b"{"))
        )
    if spoil != "none" or len(body) > MAX_MESSAGE_BYTES:  # a long odd kiosk_id can do that
        expect = "dead"
    return Message(message_id, vote_id, body, user_id, undecodable, expect)


def good_vote() -> Message:
    """A vote as a kiosk sends it, cast a few seconds ago."""
    vote_id = unique_vote_id(32)
    cast_at = datetime.now(UTC) - timedelta(seconds=5)
    fields = {"v": 1, "vote_id": vote_id, "candidate": "2", "kiosk_id": "k1"}
    body = json.dumps({**fields, "cast_at": cast_at.isoformat()}).encode()
    return Message(f"m{next(_ids):07d}", vote_id, body, USER, False, "counted")


@pytest.fixture
def running_worker(vote_system):
    worker = vote_system.start_worker(BATCH_SIZE="50", BATCH_MS="20")
    ledger = {"published": [], "dead": {}}
    yield vote_system, worker, ledger
    assert worker.poll() is None, "the worker must keep running:\n" + vote_system.log_text()
    expected = {m.expect for m in ledger["published"]}
    assert {"counted", "dead"} <= expected and vote_system.count() and ledger["dead"]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one worker, queue and database for every example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batch=st.lists(messages(), min_size=1, max_size=25))
def test_every_message_is_counted_once_or_dead_lettered(running_worker, batch):
    system, worker, ledger = running_worker
    good = [good_vote() for _ in range(3)]
    mixed = [*good[:1], *batch[: len(batch) // 2], *good[1:2], *batch[len(batch) // 2 :], good[2]]
    system.publish((m.body, m.properties()) for m in mixed)
    ledger["published"].extend(mixed)
    total = len(ledger["published"])

    def settled():
        for properties, body in system.take_dead_letters():
            reason = (properties.headers or {}).get("x-reject-reason")
            ledger["dead"].setdefault(properties.message_id, []).append((reason, body))
        return system.count() + sum(map(len, ledger["dead"].values())) >= total

    wait_until(settled, 60, f"{total} messages counted or dead-lettered")
    assert worker.poll() is None, system.log_text()

    stored = dict(system.sql("SELECT vote_id, kiosk_id FROM votes"))
    by_vote = {m.vote_id: m for m in ledger["published"]}
    counted = {by_vote[vote_id].message_id for vote_id in stored}
    assert set(stored.values()) == {USER}  # the broker-checked identity, never the body's
    assert system.count() == len(stored)  # no vote twice
    published = {m.message_id: m for m in ledger["published"]}
    for message_id, letters in ledger["dead"].items():  # once, with a reason, kept whole
        assert len(letters) == 1 and letters[0][0], letters
        assert letters[0][1] == published[message_id].body
    assert not counted & set(ledger["dead"]), "a message both counted and dead-lettered"
    assert counted | set(ledger["dead"]) == set(published)  # each one or the other
    for message_id, message in published.items():
        if message.expect == "counted":
            assert message_id in counted, (message, ledger["dead"].get(message_id))
        elif message.expect == "dead":
            assert message_id in ledger["dead"], message
