"""Reads never wait behind votes: the kiosk's server runs GET and HEAD on threads of their own
(``service.kiosk_server``), so votes waiting for the broker, however many, hold none of them.
Played with the real broker behind a proxy that stalls (``tests.support.tcp_proxy``): a hung
broker says nothing, and votes wait their whole confirm timeout. (The broker blocking
publishing, which it says: tests/integration/votes/test_broker_blocked.py.)"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import pika

from tests.integration.votes.vote_system import wait_until
from tests.support.kiosk_client import KioskClient, Outcome
from tests.support.tcp_proxy import TcpProxy


def test_reads_do_not_wait_behind_votes_waiting_for_confirms(vote_system):
    """A broker connection that passes nothing on: votes wait the whole confirm timeout (5 s)
    and take every one of the kiosk's vote threads; reads answer at once all the same (with
    one pool for both, as before, a /health waited 4.5 s)."""
    vote_system.start_worker()
    broker = pika.URLParameters(vote_system.amqp_url.split(",")[0])
    credentials = f"{quote(broker.credentials.username)}:{quote(broker.credentials.password)}"
    vhost = quote(broker.virtual_host, safe="")
    with TcpProxy((broker.host, broker.port)) as proxy:
        _, kiosk = vote_system.start_kiosk(
            "k1",
            "--workers",
            "1",
            "--threads",
            "2",
            AMQP_URL=f"amqp://{credentials}@127.0.0.1:{proxy.port}/{vhost}",
        )
        assert kiosk.post_vote("1").status == 202  # connected, through the proxy
        proxy.stalled = True
        outcomes: list[Outcome] = []
        voters = [
            threading.Thread(
                target=lambda: outcomes.append(KioskClient("127.0.0.1", kiosk.port).post_vote("2"))
            )
            for _ in range(6)  # three times the vote threads
        ]
        for voter in voters:
            voter.start()
        time.sleep(0.5)  # the votes are taken by the threads, and wait
        reads = []
        try:
            until = time.monotonic() + 5.5  # past the votes' confirm timeout
            while time.monotonic() < until:
                started = time.perf_counter()
                status, _, _ = kiosk.request("GET", "/health")
                reads.append(time.perf_counter() - started)
                assert status in (200, 503)
                time.sleep(0.05)
        finally:
            proxy.stalled = False
        for voter in voters:
            voter.join(30)
    assert max(reads) < 0.5, reads
    assert {o.status for o in outcomes} == {503}  # no confirm within 5 s: nothing claimed
    assert min(o.latency for o in outcomes) > 4.0  # they did wait, holding the vote threads


def test_every_server_process_connects_to_the_broker_as_it_starts(vote_system):
    """Each of a kiosk's processes connects as it starts, not on its first vote: its /health
    says from the first request what the broker says (a block, a missing queue), and its first
    vote waits for no connection. One /health was asked (to see the kiosk answer): two
    connections."""
    vote_system.start_kiosk("k1", "--workers", "2")  # answers one /health, no vote

    def connected() -> bool:
        return vote_system.log_text().count("publisher connected to the broker") == 2

    wait_until(connected, 15, "both server processes to connect")
    assert vote_system.count() == 0
