"""The votes table on the real PostgreSQL: keyed per kiosk, and a table made before that re-keyed
in place by the schema the worker applies at every start (and by ``psql -f``), rows kept."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from lib.db import connect
from lib.votes.message import Vote
from lib.votes.store import (
    apply_vote_schema,
    conflicting_votes,
    record_replay_mark,
    record_votes,
    replay_mark,
)
from tests.integration.votes.vote_system import ROOT

OLD_SCHEMA = """
CREATE TABLE votes (
    vote_id     text        PRIMARY KEY,
    candidate   text        NOT NULL,
    kiosk_id    text        NOT NULL,
    cast_at     timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX votes_cast_at_idx ON votes (cast_at) INCLUDE (candidate);
CREATE TABLE vote_buckets (
    candidate text NOT NULL, bucket timestamptz NOT NULL,
    votes bigint NOT NULL CHECK (votes >= 0), PRIMARY KEY (candidate, bucket)
);
INSERT INTO votes (vote_id, candidate, kiosk_id, cast_at) VALUES
    ('oldvote01', '1', 'k1', '2026-11-28T12:00:00Z'),
    ('oldvote02', '2', 'k2', '2026-11-28T12:01:00Z'),
    ('oldvote03', '2', 'k1', '2026-11-28T12:02:00Z');
INSERT INTO vote_buckets VALUES ('1', '2026-11-28T12:00:00Z', 1), ('2', '2026-11-28T12:00:00Z', 2);
"""
WHEN = datetime(2026, 11, 28, 12, 5, tzinfo=UTC)


def primary_key(vote_system) -> list[str]:
    return [
        row[0]
        for row in vote_system.sql(
            """SELECT a.attname FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               WHERE i.indrelid = 'votes'::regclass AND i.indisprimary
               ORDER BY array_position(i.indkey::int2[], a.attnum)"""
        )
    ]


def rows(vote_system) -> list[tuple]:
    return vote_system.sql("SELECT kiosk_id, vote_id, candidate FROM votes ORDER BY 1, 2")


def make_old_table(vote_system) -> list[tuple]:
    with connect(vote_system.env["DATABASE_URL"]).begin() as conn:
        conn.exec_driver_sql(OLD_SCHEMA)
    assert primary_key(vote_system) == ["vote_id"]
    return rows(vote_system)


def test_the_worker_schema_rekeys_an_old_votes_table_in_place(vote_system):
    before = make_old_table(vote_system)
    engine = connect(vote_system.env["DATABASE_URL"])
    try:
        for _ in range(2):  # at every start: the second time changes nothing
            apply_vote_schema(engine)
            assert primary_key(vote_system) == ["kiosk_id", "vote_id"]
            assert rows(vote_system) == before
        with engine.begin() as conn:
            # k2 may now use k1's vote id; k1 reusing its own for another candidate conflicts
            batch = [Vote("oldvote01", "3", "k2", WHEN), Vote("oldvote01", "3", "k1", WHEN)]
            assert record_votes(conn, batch) == 1
            assert conflicting_votes(conn, batch) == {1: "1"}
    finally:
        engine.dispose()
    assert rows(vote_system) == sorted([*before, ("k2", "oldvote01", "3")])
    assert vote_system.sql("SELECT sum(votes) FROM vote_buckets") == [(4,)]


def test_psql_rekeys_an_old_votes_table_too(vote_system):
    before = make_old_table(vote_system)
    dsn = vote_system.dsn
    env = {
        "PATH": "/usr/bin:/bin",
        "PGHOST": dsn["host"],
        "PGPORT": str(dsn["port"]),
        "PGUSER": dsn["user"],
        "PGDATABASE": dsn["dbname"],
    }
    said = []
    for _ in range(2):
        done = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "sql/votes/schema.sql"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert primary_key(vote_system) == ["kiosk_id", "vote_id"] and rows(vote_system) == before
        said.append("votes re-keyed" in done.stderr)
    assert said == [True, False]  # re-keyed the first time only


def test_two_kiosks_with_the_same_vote_id_both_count(vote_system):
    kiosks = ("k1", "kiosk-b")
    engine = connect(vote_system.env["DATABASE_URL"])
    try:
        apply_vote_schema(engine)
        batch = [
            Vote("same-id-01", "1", kiosks[0], WHEN),
            Vote("same-id-01", "2", kiosks[1], WHEN),
        ]
        with engine.begin() as conn:
            assert record_votes(conn, batch) == 2
            assert conflicting_votes(conn, batch) == {}
        with engine.begin() as conn:  # delivered again, the same candidates: nothing changes
            assert record_votes(conn, batch) == 0
            assert conflicting_votes(conn, batch) == {}
    finally:
        engine.dispose()
    assert vote_system.sql("SELECT candidate, votes FROM vote_buckets ORDER BY 1") == [
        ("1", 1),
        ("2", 1),
    ]


def test_the_replay_mark_only_moves_forward(vote_system):
    engine = connect(vote_system.env["DATABASE_URL"])
    try:
        apply_vote_schema(engine)
        with engine.begin() as conn:
            assert replay_mark(conn, "votes") is None  # none yet: a replay reads from the first
            record_replay_mark(conn, "votes", WHEN)
            record_replay_mark(conn, "votes", WHEN - timedelta(minutes=1))  # an older look
            record_replay_mark(conn, "other", WHEN - timedelta(hours=1))
        with engine.begin() as conn:
            assert replay_mark(conn, "votes") == WHEN
            assert replay_mark(conn, "other") == WHEN - timedelta(hours=1)
            record_replay_mark(conn, "votes", WHEN + timedelta(seconds=1))
            assert replay_mark(conn, "votes") == WHEN + timedelta(seconds=1)
    finally:
        engine.dispose()
