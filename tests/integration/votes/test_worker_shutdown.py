"""SIGTERM is obeyed within a bound whatever holds the tables: the worker's session has a
``lock_timeout`` and a ``statement_timeout`` (``lib.votes.store.SESSION_TIMEOUTS``), so an INSERT
waiting on a table lock taken by hand fails after ``LOCK_TIMEOUT`` and the worker exits, its
batch unacknowledged: the broker delivers it again, and the next worker stores it."""

from __future__ import annotations

import time

import psycopg2

from lib.votes.store import LOCK_TIMEOUT
from tests.integration.votes.vote_system import wait_until

LOCK_SECONDS = float(LOCK_TIMEOUT.removesuffix("s"))


def test_sigterm_while_a_table_lock_holds_the_insert_ends_within_the_lock_timeout(vote_system):
    worker = vote_system.start_worker()
    _, kiosk = vote_system.start_kiosk("k1")
    assert kiosk.post_vote("1").status == 202
    wait_until(lambda: vote_system.count() == 1, 30, "the first vote to be stored")
    locker = psycopg2.connect(**vote_system.dsn)
    try:
        with locker.cursor() as cur:  # held until the end: longer than any bound below
            cur.execute("LOCK TABLE votes IN ACCESS EXCLUSIVE MODE")
        assert kiosk.post_vote("2").status == 202

        def insert_waiting():
            return vote_system.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE %s",
                ("%insert%",),
            )[0][0]

        wait_until(insert_waiting, 10, "the worker's INSERT to wait on the lock", interval=0.05)
        began = time.monotonic()
        status = vote_system.stop(worker, timeout=60)
        took = time.monotonic() - began
    finally:
        locker.rollback()
        locker.close()
    # the INSERT's lock wait, then the results writer's last write (its read may wait as long)
    assert status == 0 and took < 2 * LOCK_SECONDS + 3, (took, vote_system.log_text())
    assert vote_system.count() == 1
    wait_until(lambda: vote_system.queue_depth() == 1, 10, "the vote back in the queue")
    vote_system.start_worker()
    wait_until(lambda: vote_system.count() == 2, 30, "the redelivered vote to be stored")
    assert sorted(r[0] for r in vote_system.sql("SELECT candidate FROM votes")) == ["1", "2"]
