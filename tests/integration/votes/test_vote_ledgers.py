"""Every 202 is counted, or no 202 is given, whatever happens to the votes queue or to a kiosk's
clock: ledger rows with the real kiosks, worker, RabbitMQ and PostgreSQL, each comparing every
202 a kiosk gave with the ``votes`` table.

- the votes queue deleted under load, while the worker holds a batch (``BATCH_MS`` 3 s);
- the queue re-declared by someone else with ``x-max-length=5, x-overflow=drop-head``;
- a queue full at ``VOTES_QUEUE_MAX_LENGTH``, and one made by the code before ``x-overflow``;
- kiosks whose clocks are 45 s ahead and behind (within ``VOTE_CLOCK_SKEW``, 300 s by default),
  and 600 s ahead and behind (beyond it), by the kiosk's ``--clock-offset``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pika.exceptions
import pytest

from lib.votes.broker import DEAD_SUFFIX, declare_topology
from lib.votes.queue_type import queue_arguments
from lib.votes.replay import REPLAY_SUFFIX
from tests.integration.votes.vote_system import account, record, unavailability, wait_until
from tests.support.kiosk_client import KioskClient, Outcome

JSON = "application/json"


class Voters:
    """Clients voting at a kiosk in the background, each paced, retrying a 503 (or no answer)
    with the same vote id as the kiosk screen does, until stopped; every outcome kept."""

    def __init__(
        self, clients: list[KioskClient], each: int = 2, pause: float = 0.02, retries: int = 40
    ):
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._vote, args=(client.port, pause, retries), daemon=True)
            for client in clients
            for _ in range(each)
        ]
        for thread in self._threads:
            thread.start()

    def _vote(self, port: int, pause: float, retries: int) -> None:
        client = KioskClient("127.0.0.1", port)
        serial = 0
        while not self._stop.is_set():
            serial += 1
            outcome = client.post_vote("123"[serial % 3], retries=retries, pause=0.25)
            with self._lock:
                self.outcomes.append(outcome)
            time.sleep(pause)
        client.close()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.outcomes


def _log(vote_system, kind: str) -> str:
    return "".join(p.read_text() for p in sorted(vote_system.logs.glob(f"{kind}-*.log")))


def _held_at_cancel(vote_system) -> list[int]:
    found = re.findall(
        r"consuming \S+ ended \(.*storing the (\d+) messages held", _log(vote_system, "worker")
    )
    return [int(n) for n in found]


def _reason(client: KioskClient) -> tuple[int, str]:
    status, _, body = client.request(
        "POST", "/votes", json.dumps({"candidate": "1"}).encode(), {"Content-Type": JSON}
    )
    return status, json.loads(body).get("error", "")


def _settled(vote_system, outcomes=(), quiet: float = 2.0, timeout: float = 60) -> int:
    """The votes counted once every vote of ``outcomes`` answered 202 is (or ``timeout``
    seconds have passed: the ledger then says which are not) and the count has not changed
    for ``quiet`` seconds. A quiet count alone is not enough: a replay reading the stream's
    votes stored already changes nothing for as long as it reads them, longer on a busy
    machine, before it comes to those the queue lost."""
    accepted = {o.vote_id for o in outcomes if 200 <= o.status < 300}
    deadline = time.monotonic() + timeout
    while accepted and time.monotonic() < deadline:
        if accepted <= set(vote_system.stored_ids()):
            break
        time.sleep(0.2)
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = vote_system.count()
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
        time.sleep(0.2)
    raise AssertionError(f"the count kept changing for {timeout}s")


def _delete(vote_system, name: str) -> None:
    connection = vote_system.connect()
    connection.channel().queue_delete(name)
    connection.close()


def _replace(vote_system, queue: str, arguments: dict):
    """Delete the votes queue and declare it again with ``arguments``, as someone else would;
    a channel on which it was done. A kiosk's check declares the queue as the worker does once
    a passive declare found it, so it can make the queue again between this delete and this
    declare (the broker then refuses the declare, 406): delete and declare once more."""
    for _ in range(10):
        channel = vote_system.connect().channel()
        channel.queue_delete(queue)
        try:
            channel.queue_declare(queue, durable=True, arguments=arguments)
        except pika.exceptions.ChannelClosedByBroker as refused:
            if refused.reply_code != 406:
                raise
            channel.connection.close()
            continue
        return channel
    raise AssertionError(f"queue {queue} was made again after each of 10 deletes")


def _replayed(vote_system) -> list[int]:
    """Per replay the worker logged (those that stored votes, or were after a cancel), the
    votes it stored that the queue had lost."""
    found = re.findall(
        r"replayed stream \S+ from .*?, (\d+) of them not yet stored", _log(vote_system, "worker")
    )
    return [int(n) for n in found]


def _deleted_under_load(vote_system, rounds: int, pause: float, **worker_env) -> dict:
    """Delete the votes queue ``rounds`` times, ``pause`` seconds apart, while two kiosks take
    votes from four clients retrying 503s; every 202 compared with the votes table."""
    worker = vote_system.start_worker(**worker_env)
    clients = vote_system.start_kiosks(2)
    voters = Voters(clients)
    wait_until(lambda: vote_system.count() > 0, 30, "the first batch")
    for _ in range(rounds):
        time.sleep(pause)  # the worker holds a batch, unacknowledged, and more wait in the queue
        _delete(vote_system, vote_system.queue)
    time.sleep(2)  # votes go on after the last deletion
    outcomes = voters.stop()
    wait_until(lambda: len(_held_at_cancel(vote_system)) >= 1, 30, "a cancelled consumer")
    _settled(vote_system, outcomes)
    ledger = account(outcomes, vote_system.stored_ids()) | unavailability(outcomes)
    ledger |= {
        "deletions": rounds,
        "cancels_seen": len(_held_at_cancel(vote_system)),
        "held_at_cancel": sum(_held_at_cancel(vote_system)),
        "replayed_lost_votes": sum(_replayed(vote_system)),
    }
    assert worker.poll() is None and vote_system.queue_depth() == 0, ledger
    assert "Traceback" not in _log(vote_system, "worker")
    return ledger


def test_the_votes_queue_deleted_under_load_loses_no_vote(vote_system):
    """The worker holds a batch (``BATCH_MS`` 3 s) when the queue is deleted, three times: it
    stores it. The broker drops with the queue the votes it confirmed but had not delivered;
    the worker replays them from the votes' stream. Every 202 is counted, once."""
    ledger = record(
        "votes queue deleted under load, 3 times (BATCH_MS 3 s)",
        _deleted_under_load(vote_system, 3, 1.2, BATCH_SIZE="1000", BATCH_MS="3000"),
    )
    assert ledger["held_at_cancel"] > 0, ledger  # the case of the issue: a batch in hand
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0), ledger
    assert ledger["refused"] == 0 and ledger["accepted"] > 100, ledger


def test_the_votes_queue_deleted_again_and_again_under_load_loses_no_vote(vote_system):
    """Eight deletions, 0.7 s apart, batches of 100 or 50 ms (so the broker holds votes the
    worker has not asked for yet: they go with the queue, and come back from the stream)."""
    ledger = record(
        "votes queue deleted under load, 8 times 0.7 s apart (BATCH_MS 50 ms)",
        _deleted_under_load(vote_system, 8, 0.7),
    )
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0), ledger
    assert ledger["refused"] == 0 and ledger["accepted"] > 200, ledger
    # votes the queue took with it were there to be replayed (a dozen a deletion, seen here)
    assert ledger["replayed_lost_votes"] > 0 and ledger["cancels_seen"] >= 1, ledger


def test_the_votes_queue_deleted_while_the_worker_is_stopped_loses_no_vote(vote_system):
    """The worker stops (SIGTERM) while votes flow; they wait in the queue; the queue is
    deleted with them, and votes go on (the stream alone takes them); the worker, started
    again, finds the queue missing, declares it and replays the stream from its replay mark,
    kept in PostgreSQL."""
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    voters = Voters(clients)
    wait_until(lambda: vote_system.count() > 50, 30, "votes counted")
    assert vote_system.stop(worker) == 0
    time.sleep(1.5)  # votes wait in the queue
    waiting = vote_system.queue_depth()
    _delete(vote_system, vote_system.queue)
    time.sleep(1.5)  # votes go on: the stream takes them
    vote_system.start_worker()
    time.sleep(2)
    outcomes = voters.stop()
    _settled(vote_system, outcomes)
    ledger = record(
        "votes queue deleted while the worker is stopped, then started",
        account(outcomes, vote_system.stored_ids())
        | {"replayed_lost_votes": sum(_replayed(vote_system))},
    )
    assert waiting > 0, ledger
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0), ledger
    assert ledger["refused"] == 0 and ledger["replayed_lost_votes"] >= waiting, ledger
    [(mark,)] = vote_system.sql("SELECT safe_from FROM vote_replay_marks")
    assert mark is not None


def test_the_votes_stream_deleted_under_load_is_declared_again(vote_system):
    """The stream deleted under load: the votes queue holds every vote meanwhile; the worker
    declares the stream again within a second or so, and a deletion of the queue after that is
    replayed from it."""
    stream = vote_system.queue + REPLAY_SUFFIX
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    voters = Voters(clients)
    wait_until(lambda: vote_system.count() > 0, 30, "the first batch")
    _delete(vote_system, stream)
    wait_until(
        lambda: f"stream {stream} is missing" in _log(vote_system, "worker"),
        10,
        "the worker to declare the stream again",
    )
    time.sleep(1.5)
    _delete(vote_system, vote_system.queue)
    time.sleep(1.5)
    outcomes = voters.stop()
    _settled(vote_system, outcomes)
    ledger = record(
        "votes stream deleted under load, then the votes queue",
        account(outcomes, vote_system.stored_ids()),
    )
    assert (ledger["lost"], ledger["duplicates"], ledger["unclaimed_counted"]) == (0, 0, 0), ledger
    assert ledger["refused"] == 0 and worker.poll() is None, ledger
    vote_system.queue_depth(REPLAY_SUFFIX)  # declared again: a passive declare finds it


def test_a_queue_redeclared_to_drop_loses_no_vote_and_stops_the_worker(vote_system):
    """Votes flow, and are all counted; then someone deletes the votes queue, declares it again
    with a length limit that drops and, a second later, binds it; votes go on arriving at the
    kiosks all along. Until the worker unbinds that queue and the votes' stream (kiosks then
    answer 503), the stream takes every vote beside whatever queue is bound: the worker stores
    what that queue holds and replays the stream before it stops, so every 202 is counted."""
    worker = vote_system.start_worker()
    clients = vote_system.start_kiosks(2)
    voters = Voters(clients)
    wait_until(lambda: vote_system.count() > 50, 30, "votes counted")
    before = voters.stop()
    vote_system.wait_for_total(sum(1 for o in before if o.status == 202))
    queue = vote_system.queue
    channel = _replace(
        vote_system,
        queue,
        {**queue_arguments("quorum"), "x-max-length": 5, "x-overflow": "drop-head"},
    )
    voters = Voters(clients)
    time.sleep(1)
    channel.queue_bind(queue, queue, queue)
    channel.connection.close()
    assert worker.wait(60) == 2
    time.sleep(2)  # votes go on arriving at the kiosks
    during = voters.stop()
    status, reason = _reason(clients[0])
    assert status == 503 and "could lose votes" in reason and "x-overflow=drop-head" in reason
    health_status, _, body = clients[1].request("GET", "/health")
    health = json.loads(body)
    assert health_status == 503 and "x-overflow=drop-head" in health["refusing_votes"]

    ledger = record(
        "votes queue re-declared with x-max-length=5, x-overflow=drop-head",
        account([*before, *during], vote_system.stored_ids())
        | {"left_in_that_queue": vote_system.queue_depth()},
    )
    assert ledger["lost"] == 0 and ledger["duplicates"] == 0, ledger
    assert ledger["refused"] > 0 and ledger["left_in_that_queue"] == 0, ledger
    log = _log(vote_system, "worker")
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in log, log
    assert re.search(
        rf"ERROR queue {queue} could lose votes: it drops the oldest votes when full "
        rf"\(x-overflow=drop-head\); the worker unbound it and the votes' stream from exchange "
        rf"{queue} \(kiosks answer 503\) and stored the \d+ new votes it held \(replayed from "
        rf"the stream included\): delete it \(rabbitmqctl delete_queue {queue}\) and start the "
        rf"worker, which declares it again to refuse rather than drop \(docs/q3.md, 'Queues "
        rf"that refuse'\)$",
        errors[0],
    ), errors

    # as the line says: delete it and start the worker; the kiosks take votes again
    connection = vote_system.connect()
    connection.channel().queue_delete(queue)
    connection.close()
    vote_system.start_worker()
    after = clients[0].post_vote("2", retries=40, pause=0.25)
    assert after.status == 202
    vote_system.wait_for_total(ledger["accepted"] + 1)


def test_a_dropping_queue_found_at_start_is_drained_before_the_worker_stops(vote_system):
    queue = vote_system.queue
    _, client = vote_system.start_kiosk("k1")
    accepted = [client.post_vote("3") for _ in range(4)]  # into the queue as declared
    assert [o.status for o in accepted] == [202] * 4
    # someone puts a TTL on a copy of the queue, moving the votes over (a shovel, say)
    connection = vote_system.connect()
    held = [connection.channel().basic_get(queue, auto_ack=True) for _ in range(4)]
    connection.close()
    channel = _replace(vote_system, queue, {**queue_arguments("quorum"), "x-message-ttl": 3600000})
    channel.queue_bind(queue, queue, queue)
    for _method, properties, body in held:
        channel.basic_publish(queue, queue, body, properties)
    channel.connection.close()
    worker = vote_system.start_worker()
    assert worker.wait(60) == 2
    unbound = f"the worker unbound it and the votes' stream from exchange {queue}"
    assert f"(x-message-ttl=3600000); {unbound}" in _log(vote_system, "worker")
    assert "and stored the 4 new votes it held" in _log(vote_system, "worker")
    assert sorted(vote_system.stored_ids()) == sorted(o.vote_id for o in accepted)
    assert client.post_vote("1", retries=8, pause=0.25).status == 503  # unbound: unroutable


def test_a_full_queue_refuses_votes_and_the_kiosk_answers_503(vote_system):
    queue = vote_system.queue
    connection = vote_system.connect()
    channel = connection.channel()
    channel.queue_delete(queue)  # declared again as the worker with the setting would
    assert declare_topology(channel, queue, "quorum", max_length=5) == ()
    connection.close()
    _, client = vote_system.start_kiosk("k1", VOTES_QUEUE_MAX_LENGTH="5")
    outcomes = [client.post_vote("1") for _ in range(12)]  # no worker: the queue fills
    statuses = [o.status for o in outcomes]
    # a quorum queue refuses once it holds more than its limit (one over it)
    assert statuses[:5] == [202] * 5 and set(statuses[5:]) <= {202, 503}
    assert 5 <= statuses.count(202) <= 6 and statuses[-1] == 503, statuses
    status, reason = _reason(client)
    assert status == 503 and "retry with the same vote_id" in reason, reason
    worker = vote_system.start_worker(VOTES_QUEUE_MAX_LENGTH="5")
    more = client.post_vote("2", retries=40, pause=0.25)  # room again once the worker drains
    assert more.status == 202
    vote_system.wait_for_total(sum(1 for o in [*outcomes, more] if o.status == 202))
    ledger = record(
        "votes queue full (VOTES_QUEUE_MAX_LENGTH=5, reject-publish)",
        account([*outcomes, more], vote_system.stored_ids()),
    )
    assert (ledger["lost"], ledger["unclaimed_counted"]) == (0, 0), ledger
    assert worker.poll() is None


def test_a_queue_made_before_x_overflow_is_used_with_one_warning(vote_system):
    queue = vote_system.queue
    connection = vote_system.connect()
    channel = connection.channel()
    channel.queue_delete(queue)
    channel.queue_declare(queue, durable=True, arguments=queue_arguments("quorum"))  # as before
    connection.close()
    worker = vote_system.start_worker()
    _, client = vote_system.start_kiosk("k1")
    outcomes = [client.post_vote("1", retries=20, pause=0.25) for _ in range(10)]
    assert [o.status for o in outcomes] == [202] * 10
    vote_system.wait_for_total(10)
    assert worker.poll() is None
    warnings = [
        line for line in _log(vote_system, "worker").splitlines() if "has no x-overflow" in line
    ]
    assert len(warnings) == 1 and " WARNING queue " in warnings[0], warnings


def _start_skewed_kiosk(vote_system, kiosk_id: str, offset: float, **env) -> KioskClient:
    """A kiosk whose clock reads ``offset`` seconds off; returned once its clock is checked
    against the results writer's (the worker runs and has written results)."""
    _, client = vote_system.start_kiosk(kiosk_id, "--clock-offset", str(offset), **env)

    def checked():
        return json.loads(client.request("GET", "/health")[2])["clock"]["checked"]

    wait_until(checked, 30, f"kiosk {kiosk_id} to check its clock")
    return client


def test_kiosk_clocks_45_s_ahead_and_behind_lose_no_vote(vote_system):
    # the vote opened 20 s ago: a kiosk 45 s behind would stamp its votes before the opening
    opened = datetime.now(UTC) - timedelta(seconds=20)
    env = {"VOTES_OPEN_AT": opened.isoformat()}
    vote_system.start_worker(**env)
    wait_until(vote_system.cached_results, 30, "the first results")
    ahead = _start_skewed_kiosk(vote_system, "k-ahead", 45, **env)
    behind = _start_skewed_kiosk(vote_system, "k-behind", -45, **env)
    for client, offset in ((ahead, 45), (behind, -45)):
        clock = json.loads(client.request("GET", "/health")[2])["clock"]
        assert clock["offset_seconds"] == pytest.approx(offset, abs=2), clock
    voters = Voters([ahead, behind])
    time.sleep(4)
    outcomes = voters.stop()
    sent_until = datetime.now(UTC)
    accepted = sum(1 for o in outcomes if o.status == 202)
    vote_system.wait_for_total(accepted)
    ledger = record(
        "kiosk clocks 45 s ahead and behind (VOTE_CLOCK_SKEW 300 s)",
        account(outcomes, vote_system.stored_ids())
        | {"dead_lettered": vote_system.queue_depth(DEAD_SUFFIX)},
    )
    assert ledger["accepted"] > 50 and ledger["refused"] == 0, ledger
    assert (ledger["lost"], ledger["duplicates"], ledger["dead_lettered"]) == (0, 0, 0), ledger
    # stamped in the writer's time, not the kiosks': within the vote, not 45 s off it
    [(first, last)] = vote_system.sql("SELECT min(cast_at), max(cast_at) FROM votes")
    assert opened <= first and last <= sent_until, (first, last, sent_until)


def test_kiosk_clocks_600_s_ahead_and_behind_refuse_before_any_202(vote_system):
    vote_system.start_worker()
    wait_until(vote_system.cached_results, 30, "the first results")
    ahead = _start_skewed_kiosk(vote_system, "k-ahead", 600)
    behind = _start_skewed_kiosk(vote_system, "k-behind", -600)
    voters = Voters([ahead, behind], each=1, pause=0.05, retries=1)
    time.sleep(1)
    outcomes = voters.stop()
    for client, way in ((ahead, "ahead of"), (behind, "behind")):
        status, reason = _reason(client)
        assert status == 503 and f"s {way} the results writer's, more than VOTE_CLOCK_SKEW" in (
            reason
        )
        health_status, _, body = client.request("GET", "/health")
        health = json.loads(body)
        assert health_status == 503 and health["refusing_votes"] == health["clock"]["refusal"]
        assert way in health["refusing_votes"]
    ledger = record(
        "kiosk clocks 600 s ahead and behind (VOTE_CLOCK_SKEW 300 s)",
        account(outcomes, vote_system.stored_ids()),
    )
    assert ledger["accepted"] == 0 and ledger["sent"] > 0 and ledger["counted"] == 0, ledger
    assert vote_system.queue_depth() == 0 and vote_system.queue_depth(DEAD_SUFFIX) == 0


def test_a_kiosk_refuses_beyond_the_bound_before_it_has_seen_results_change(vote_system):
    vote_system.start_worker(RESULTS_INTERVAL="3600")  # results written once, at start
    wait_until(vote_system.cached_results, 30, "the first results")
    _, client = vote_system.start_kiosk("k-ahead", "--clock-offset", "600")
    status, reason = _reason(client)
    assert status == 503 and "this kiosk's clock cannot be checked" in reason
    clock = json.loads(client.request("GET", "/health")[2])["clock"]
    assert clock["checked"] is False and "cannot be checked" in clock["refusal"]
