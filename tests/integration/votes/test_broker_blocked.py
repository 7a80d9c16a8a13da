"""A kiosk while RabbitMQ blocks publishing, against this machine's real broker: a memory alarm
raised for a few seconds (``rabbitmqctl set_vm_memory_high_watermark 0.0000001``), as a broker
short of memory or disk raises it. The kiosk's /health says so (503, the broker's reason) within
a check interval though no vote was sent, votes get a 503 with Retry-After at once rather than
waiting for confirms, and /results and /health answer at once meanwhile; once the alarm clears,
/health is 200 again and every vote answered 202 is stored (reads with no alarm, while votes
wait for confirms that do not come: tests/integration/votes/test_kiosk_reads.py).

THE ALARM BLOCKS EVERY PUBLISHER ON THE NODE, other tests' included (marked ``broker_alarm``:
``-m "not broker_alarm"`` leaves them out of a run beside others): each lasts about ten seconds,
and the watermark the broker had is restored on the way out, on a failure, Ctrl-C or SIGTERM
too. Only a SIGKILL leaves it raised: then run ``rabbitmqctl set_vm_memory_high_watermark 0.4``
(``rabbitmqctl status`` lists the alarm under Alarms). ``rabbitmqctl`` needs root (as these
tests run here) or the ``rabbitmq`` user."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lib.votes.broker import CHECK_INTERVAL, blocked_line
from tests.integration.votes.test_metrics import scrape
from tests.integration.votes.vote_system import account, record, wait_until
from tests.support.kiosk_client import KioskClient, Outcome, drive

ALARMING = "0.0000001"  # of the machine's memory: any broker is over it at once


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


def _watermark() -> list[str]:
    """The arguments of ``set_vm_memory_high_watermark`` that put back the broker's watermark
    as it is now (a fraction of memory, or ``absolute`` bytes); RabbitMQ's default if unread."""
    now = _rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")
    if re.fullmatch(r"[0-9.]+(e-?[0-9]+)?", now) and float(now) >= 0.1:
        return [now]
    absolute = re.fullmatch(r"\{absolute,([0-9]+)\}", now)
    return ["absolute", absolute.group(1)] if absolute else ["0.4"]


@contextmanager
def memory_alarm() -> Iterator[None]:
    """The broker's memory alarm raised for the block; its watermark restored on the way out
    whatever ends the block (SIGTERM is turned into KeyboardInterrupt meanwhile, so that the
    ``finally`` runs)."""
    restore = _watermark()

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt("SIGTERM while the broker's memory alarm is raised")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        _rabbitmqctl("set_vm_memory_high_watermark", ALARMING)
        yield
    finally:
        try:
            _rabbitmqctl("set_vm_memory_high_watermark", *restore)
        finally:
            signal.signal(signal.SIGTERM, previous)


def health(port: int) -> tuple[int, dict, float]:
    """``GET /health`` on a new connection (so either server process may answer): status,
    body, seconds taken."""
    client = KioskClient("127.0.0.1", port, timeout=10)
    started = time.perf_counter()
    try:
        status, _, body = client.request("GET", "/health")
    finally:
        client.close()
    return status, json.loads(body), time.perf_counter() - started


def every_process_probed(raised: float) -> None:
    """Wait until each of a kiosk's processes has sent its probe since the alarm was raised
    (``raised``, monotonic), so that each knows: which process answers a request is the
    kernel's choice, and eight answers in a row may all come from one."""
    time.sleep(max(0.0, raised + CHECK_INTERVAL + 1.0 - time.monotonic()))


def every_health(port: int, status: int, times: int = 8) -> bool:
    """Whether ``times`` answers of /health in a row, on new connections, are ``status``."""
    return all(health(port)[0] == status for _ in range(times))


def flood(port: int, stop: threading.Event, threads: int = 8) -> tuple[list, list[Outcome]]:
    """Votes from ``threads`` threads, each sending one after another (no retries) until
    ``stop``: their threads (to join) and outcomes, with each 503's Retry-After and reason."""
    outcomes: list[Outcome] = []
    refusals: list[tuple[str | None, str]] = []

    def run() -> None:
        client = KioskClient("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            started = time.perf_counter()
            status, headers, body = client.request(
                "POST", "/votes", b'{"candidate": "1"}', {"Content-Type": "application/json"}
            )
            answered = json.loads(body)
            vote_id = answered.get("vote_id", "")
            outcomes.append(Outcome(vote_id, "1", status, 1, time.perf_counter() - started))
            if status == 503:
                refusals.append((headers.get("retry-after"), answered["error"]))
        client.close()

    senders = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for sender in senders:
        sender.start()
    return [senders, refusals], outcomes


def settled(vote_system, accepted: int) -> list[str]:
    """The stored vote ids once at least ``accepted`` are stored and the votes queue is empty
    (votes answered 503 in flight may be stored too, once the broker unblocks)."""
    wait_until(lambda: vote_system.count() >= accepted, 60, "every accepted vote stored")
    wait_until(lambda: vote_system.queue_depth() == 0, 30, "the votes queue drained")
    time.sleep(1.0)  # the worker's last batch, taken from the queue, written
    return vote_system.stored_ids()


@pytest.mark.slow
@pytest.mark.broker_alarm
def test_a_blocked_broker_is_visible_and_cheap(vote_system):
    vote_system.start_worker()
    _, kiosk = vote_system.start_kiosk("k1")  # two server processes, a connection each
    port = kiosk.port
    before = drive("127.0.0.1", port, 30, ["1", "2", "3"], threads=3)
    assert {o.status for o in before} == {202}
    vote_system.wait_for_total(30, timeout=60)
    timings: dict[str, float] = {}  # what the test measured, printed with its ledger
    during: list[Outcome] = []
    results_seconds: list[float] = []
    health_seconds: list[float] = []
    stop = threading.Event()
    with memory_alarm():
        raised = time.monotonic()
        # no vote sent: each process learns of it from its check's probe (every 5 s)
        wait_until(lambda: health(port)[0] == 503, 15, "/health to say 503", interval=0.2)
        timings["health_503_after_s"] = round(time.monotonic() - raised, 2)
        every_process_probed(raised)
        assert every_health(port, 503)
        status, state, _ = health(port)
        assert status == 503 and state["broker_reachable"] is True
        assert state["broker_blocked"] == blocked_line("low on memory")
        assert state["refusing_votes"] == state["broker_blocked"]

        one = kiosk.post_vote("2")
        assert one.status == 503 and one.latency < 1.0
        timings["one_vote_503_s"] = round(one.latency, 4)
        during.append(one)

        (senders, refusals), flooded = flood(port, stop)
        try:
            reader = KioskClient("127.0.0.1", port)
            until = time.monotonic() + 3.0
            while time.monotonic() < until:  # reads while votes are refused in a flood
                started = time.perf_counter()
                assert reader.results() is not None
                results_seconds.append(time.perf_counter() - started)
                health_seconds.append(health(port)[2])
            reader.close()
        finally:
            stop.set()
        for sender in senders:
            sender.join(30)
        during.extend(flooded)
        metrics = scrape(kiosk)
    lifted = time.monotonic()
    wait_until(lambda: every_health(port, 200), 30, "/health to say 200 again", interval=0.2)
    timings["health_200_after_unblock_s"] = round(time.monotonic() - lifted, 2)

    assert flooded and {o.status for o in flooded} == {503}
    assert {after for after, _ in refusals} == {"5"}
    assert all("broker blocked: low on memory" in reason for _, reason in refusals)
    votes_seconds = sorted(o.latency for o in flooded)
    timings |= {
        "flood_votes": len(flooded),
        "vote_503_p50_s": round(votes_seconds[len(votes_seconds) // 2], 4),
        "vote_503_max_s": round(votes_seconds[-1], 4),
        "results_max_s": round(max(results_seconds), 4),
        "health_max_s": round(max(health_seconds), 4),
        "reads": len(results_seconds),
    }
    assert votes_seconds[-1] < 1.0, timings
    assert max(results_seconds) < 0.5 and max(health_seconds) < 0.5, timings
    assert metrics["vote_counter_kiosk_broker_blocked"] == 1
    refused = metrics['vote_counter_kiosk_votes_refused_total{reason="broker_blocked"}']
    assert refused == len(during)

    after = drive("127.0.0.1", port, 60, ["1", "2", "3"], threads=3, retries=20, pause=0.5)
    assert {o.status for o in after} == {202}
    outcomes = before + during + after
    stored = settled(vote_system, sum(1 for o in outcomes if o.status == 202))
    ledger = record(
        "broker memory alarm, no vote in flight",
        account(outcomes, stored) | timings,
    )
    assert ledger["accepted"] == 90
    assert (ledger["lost"], ledger["duplicates"]) == (0, 0), ledger
    # /health may have been answered by one process only: the other can send a vote or two
    # before the broker tells it of the block; those are answered "not confirmed" and may count
    assert set(stored) - {o.vote_id for o in outcomes if o.status == 202} <= {
        o.vote_id for o in during
    }
    assert ledger["unclaimed_counted"] <= 8, ledger
    assert scrape(kiosk)["vote_counter_kiosk_broker_blocked"] == 0
    print("broker memory alarm:", timings)


@pytest.mark.slow
@pytest.mark.broker_alarm
def test_votes_in_flight_as_the_broker_blocks_are_answered_at_once(vote_system):
    """Votes flowing when the alarm is raised: those the broker had not confirmed when it said
    ``connection.blocked`` are answered 503 then (it may confirm them once it unblocks: a 503
    claims nothing, and a retry with the same vote id counts once), the rest at once."""
    vote_system.start_worker()
    _, kiosk = vote_system.start_kiosk("k1")
    port = kiosk.port
    stop = threading.Event()
    (senders, _), flooded = flood(port, stop)
    reads: list[float] = []
    try:
        wait_until(lambda: len(flooded) > 200, 30, "votes to flow")
        with memory_alarm():
            reader = KioskClient("127.0.0.1", port)
            raised = time.monotonic()
            while time.monotonic() - raised < 3.0:
                started = time.perf_counter()
                reader.request("GET", "/results")
                reads.append(time.perf_counter() - started)
            reader.close()
            blocked_at = len(flooded)
            # a process no flood connection reached learns of it from its probe (every 5 s)
            every_process_probed(raised)
            assert every_health(port, 503)
    finally:
        stop.set()
    for sender in senders:
        sender.join(30)
    wait_until(lambda: every_health(port, 200), 30, "/health to say 200 again", interval=0.2)
    seconds = sorted(o.latency for o in flooded)
    timings = {
        "votes": len(flooded),
        "refused_503": sum(1 for o in flooded if o.status == 503),
        "vote_max_s": round(seconds[-1], 4),
        "results_max_s": round(max(reads), 4),
    }
    assert {o.status for o in flooded[blocked_at - 50 : blocked_at]} == {503}, timings
    assert seconds[-1] < 1.0 and max(reads) < 0.5, timings
    stored = settled(vote_system, sum(1 for o in flooded if o.status == 202))
    ledger = record("votes in flight as the broker blocks", account(flooded, stored) | timings)
    assert (ledger["lost"], ledger["duplicates"]) == (0, 0), ledger
    print("votes in flight as the broker blocks:", ledger)
