-- Kiosk vote counter (Q3): the votes and their 10-minute rollup. Idempotent: the worker applies
-- it at every start (lib.votes.store.apply_vote_schema), and `psql -f sql/votes/schema.sql` does
-- the same by hand.
--
-- votes:        one row per vote, keyed by the vote id a kiosk (or its client) made, so a
--               message delivered twice is stored once.
-- vote_buckets: votes per candidate per 10-minute bucket, updated in the same transaction as
--               the insert (sql/votes/record_votes.sql), so results cost O(buckets), not O(votes).
CREATE TABLE IF NOT EXISTS votes (
    vote_id     text        PRIMARY KEY,
    candidate   text        NOT NULL,
    kiosk_id    text        NOT NULL,
    cast_at     timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- "votes in the last 10 minutes" reads only the index's tail
CREATE INDEX IF NOT EXISTS votes_cast_at_idx ON votes (cast_at) INCLUDE (candidate);

CREATE TABLE IF NOT EXISTS vote_buckets (
    candidate text        NOT NULL,
    bucket    timestamptz NOT NULL,
    votes     bigint      NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (candidate, bucket)
);
