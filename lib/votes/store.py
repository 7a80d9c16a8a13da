"""Votes in PostgreSQL: the schema, batched idempotent inserts, and the results built from the
10-minute rollup. The SQL lives in ``sql/votes/``: ``schema.sql``, ``record_votes.sql``,
``conflicting_votes.sql``, ``vote_distribution.sql``, ``recent_votes.sql``, and the replay mark's
``record_replay_mark.sql`` and ``replay_mark.sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from lib.db import execute_file, query, query_rows
from lib.votes.message import BUCKET, Candidate, Vote

RECENT_MINUTES = 10
# The worker's and the results writer's sessions (``lib.db.connect(url, session=...)``): a
# statement waits at most LOCK_TIMEOUT for a lock (a table lock taken by hand, a migration) and
# runs at most STATEMENT_TIMEOUT, then fails; the worker then drops its connections, its batch
# unacknowledged (the broker delivers it again), and tries again, or exits if asked to stop. So
# SIGTERM is obeyed within LOCK_TIMEOUT (STATEMENT_TIMEOUT for a statement that runs) whatever
# holds the tables. The schema at start is applied without the statement bound: re-keying an
# old table may take longer.
LOCK_TIMEOUT = "5s"
STATEMENT_TIMEOUT = "30s"
SESSION_TIMEOUTS = {"lock_timeout": LOCK_TIMEOUT, "statement_timeout": STATEMENT_TIMEOUT}


def apply_vote_schema(engine: Engine) -> None:
    """Create the votes tables and indexes if they are missing, and re-key a votes table made
    before votes were keyed per kiosk (safe to run at every start, and from several workers at
    once: the DDL runs under an advisory lock)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # see SESSION_TIMEOUTS
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('votes_schema'))")
        execute_file(conn, "votes/schema")


def record_votes(conn: Connection, votes: Sequence[Vote]) -> int:
    """Insert ``votes`` (ignoring (kiosk, vote id) keys already stored, and all but the first of
    the batch's votes with one key) and add the new ones to the rollup, in the caller's
    transaction. Returns how many were new; raises DatabaseError."""
    if not votes:
        return 0
    rows = query_rows(
        conn,
        "votes/record_votes",
        vote_ids=[v.vote_id for v in votes],
        candidates=[v.candidate for v in votes],
        kiosk_ids=[v.kiosk_id for v in votes],
        cast_ats=[v.cast_at for v in votes],
    )
    return int(rows[0].inserted)


def conflicting_votes(conn: Connection, votes: Sequence[Vote]) -> dict[int, str]:
    """Of ``votes`` (just recorded in the caller's transaction), those whose kiosk and vote id
    are stored for another candidate: ``{index in votes: candidate stored}``. Raises
    DatabaseError."""
    if not votes:
        return {}
    rows = query_rows(
        conn,
        "votes/conflicting_votes",
        vote_ids=[v.vote_id for v in votes],
        candidates=[v.candidate for v in votes],
        kiosk_ids=[v.kiosk_id for v in votes],
    )
    return {int(row.position) - 1: row.stored for row in rows}


def record_replay_mark(conn: Connection, queue: str, safe_from: datetime) -> None:
    """Move ``queue``'s replay mark forward to ``safe_from`` (never back), in the caller's
    transaction: every vote the broker confirmed before it is stored. Raises DatabaseError."""
    query_rows(conn, "votes/record_replay_mark", queue=queue, safe_from=safe_from)


def replay_mark(conn: Connection, queue: str) -> datetime | None:
    """``queue``'s replay mark, or None if none was recorded. Raises DatabaseError."""
    frame = query(conn, "votes/replay_mark", queue=queue)
    return None if frame.empty else pd.Timestamp(frame.at[0, "safe_from"]).to_pydatetime()


def vote_results(
    conn: Connection,
    candidates: dict[str, Candidate],
    now: datetime | None = None,
    time_zone: tzinfo = UTC,
) -> dict:
    """The results document kiosks serve: totals per candidate, votes in the last 10 minutes, and
    the distribution per 10-minute bucket (every candidate present in every bucket, zeros
    included), each bucket also in the kiosks' ``time_zone``. Cost: one pass over the rollup and
    one over the last 10 minutes of votes."""
    now = now or datetime.now(UTC)
    rows = query(conn, "votes/vote_distribution")
    recent = query(conn, "votes/recent_votes", minutes=RECENT_MINUTES)
    return build_results(
        rows.to_dict("records"), recent.to_dict("records"), candidates, now, time_zone
    )


def build_results(
    distribution: list[dict],
    recent: list[dict],
    candidates: dict[str, Candidate],
    now: datetime,
    time_zone: tzinfo = UTC,
) -> dict:
    """Assemble the results document from rollup rows (``bucket``, an aware time whatever the
    session's zone; ``candidate``, ``votes``) and recent counts (``candidate``, ``votes``).
    Buckets are given in UTC (``bucket``) and in ``time_zone`` (``local_time``, what the charts
    label them with). Votes for candidates no longer configured are reported under ``other``
    rather than dropped."""
    ids = list(candidates)
    totals = dict.fromkeys(ids, 0)
    other = 0
    buckets: dict[datetime, dict[str, int]] = {}
    for row in distribution:
        votes = int(row["votes"])
        if row["candidate"] not in totals:
            other += votes
            continue
        totals[row["candidate"]] += votes
        per = buckets.setdefault(row["bucket"], dict.fromkeys(ids, 0))
        per[row["candidate"]] += votes
    last = dict.fromkeys(ids, 0)
    for row in recent:
        if row["candidate"] in last:
            last[row["candidate"]] = int(row["votes"])
    return {
        "generated_at": now.astimezone(UTC).isoformat(),
        "candidates": [{"id": c.id, "name": c.name} for c in candidates.values()],
        "total_votes": sum(totals.values()) + other,
        "totals": totals,
        "other_votes": other,
        "last_10_minutes": last,
        "bucket_minutes": int(BUCKET.total_seconds() // 60),
        "time_zone": str(time_zone),
        "distribution": [
            {
                "bucket": bucket.astimezone(UTC).isoformat(),
                "local_time": bucket.astimezone(time_zone).isoformat(),
                "votes": per,
            }
            for bucket, per in sorted(buckets.items())
        ],
    }
