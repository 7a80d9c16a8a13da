"""VotePublisher while the broker blocks its connection (``connection.blocked``, as RabbitMQ says
it on a memory or disk alarm), without a broker: the publisher talks to a socket that accepts and
never answers, and the broker's frames are played to it on its own I/O thread. A vote is refused
at once (not after the 2 s it waits for a connection, nor the confirm timeout), a vote waiting
for its confirm is refused when the block arrives, and ``connection.unblocked`` ends it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from lib.votes.broker import BrokerBlocked, BrokerUnavailable, VotePublisher, _Waiter
from lib.votes.message import Vote

REASON = "low on memory"
LINE = "broker blocked: low on memory"


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """The URL of a socket that accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}/%2F"


@pytest.fixture
def seen() -> list:
    return []


@pytest.fixture
def publisher(silent_broker, seen) -> Iterator[VotePublisher]:
    made = VotePublisher(silent_broker, "votes_unit", timeout=5.0, on_blocked=seen.append)
    yield made
    made.close()


def on_io_thread(publisher: VotePublisher, action: Callable[[], object]) -> None:
    """Run ``action`` on the publisher's I/O thread, as pika runs its callbacks; wait for it."""
    done = threading.Event()

    def run():
        try:
            action()
        finally:
            done.set()

    publisher._ioloop.add_callback_threadsafe(run)
    assert done.wait(5), "the I/O thread did not run the action"


def blocked(publisher: VotePublisher) -> None:
    on_io_thread(publisher, lambda: publisher._on_blocked(publisher._session, REASON))


def a_vote(vote_id: str = "abcdefgh") -> Vote:
    return Vote(vote_id=vote_id, candidate="1", kiosk_id="k1", cast_at=datetime.now(UTC))


def test_a_vote_is_refused_at_once_while_blocked(publisher, seen):
    blocked(publisher)
    assert publisher.blocked() == LINE and publisher.refusal() == LINE
    assert seen == [LINE]
    started = time.monotonic()
    assert publisher.reachable() is True  # the broker spoke: no wait for a connection
    with pytest.raises(BrokerBlocked, match="^broker blocked: low on memory$"):
        publisher.publish(a_vote())
    assert time.monotonic() - started < 0.5


def test_votes_waiting_for_their_confirm_are_refused_when_the_block_arrives(publisher):
    waiting, answered = _Waiter(), _Waiter()
    answered.settle()  # confirmed before the block: stays confirmed
    on_io_thread(publisher, lambda: publisher._pending.update({1: waiting, 2: answered}))
    blocked(publisher)
    assert waiting.done.is_set() and waiting.blocked and waiting.error == LINE
    assert answered.error is None and not answered.blocked
    assert set(publisher._pending) == {1, 2}  # a confirm after the block finds them still


def test_a_vote_queued_for_the_io_thread_as_the_block_arrives_is_refused(publisher):
    blocked(publisher)
    waiter = _Waiter()
    on_io_thread(publisher, lambda: publisher._publish("abcdefgh", b"{}", waiter))
    assert waiter.done.is_set() and waiter.blocked and waiter.error == LINE


def test_unblocked_ends_it_and_a_block_of_an_earlier_connection_is_ignored(publisher, seen):
    blocked(publisher)
    on_io_thread(publisher, lambda: publisher._on_unblocked(publisher._session))
    assert publisher.blocked() is None and seen == [LINE, None]
    on_io_thread(publisher, lambda: publisher._on_blocked(publisher._session - 1, REASON))
    assert publisher.blocked() is None and seen == [LINE, None]
    # not blocked, not connected: the publisher waits for its connection, as before
    with pytest.raises(BrokerUnavailable, match="not connected"):
        publisher.publish(a_vote())
