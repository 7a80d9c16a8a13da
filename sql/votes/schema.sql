-- Kiosk vote counter (Q3): the votes and their 10-minute rollup. Idempotent: the worker applies
-- it at every start (lib.votes.store.apply_vote_schema), and `psql -f sql/votes/schema.sql` does
-- the same by hand.
--
-- votes:        one row per vote, keyed by the kiosk (its broker user) and the vote id the kiosk
--               (or its client) made, so a message delivered twice is stored once and two kiosks
--               that happen to make the same vote id both count.
-- vote_buckets: votes per candidate per 10-minute bucket, updated in the same transaction as
--               the insert (sql/votes/record_votes.sql), so results cost O(buckets), not O(votes).
CREATE TABLE IF NOT EXISTS votes (
    kiosk_id    text        NOT NULL,
    vote_id     text        NOT NULL,
    candidate   text        NOT NULL,
    cast_at     timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kiosk_id, vote_id)
);

-- A votes table made before votes were keyed per kiosk has its primary key on vote_id alone:
-- re-key it in place, every row kept (the old key was stricter, so no two rows collide). A
-- no-op once done.
DO $rekey$
DECLARE
    old_key text;
BEGIN
    SELECT c.conname INTO old_key
    FROM pg_constraint AS c
    WHERE c.conrelid = 'votes'::regclass AND c.contype = 'p'
      AND c.conkey = ARRAY[(
          SELECT a.attnum FROM pg_attribute AS a
          WHERE a.attrelid = 'votes'::regclass AND a.attname = 'vote_id'
      )];
    IF old_key IS NOT NULL THEN
        EXECUTE 'ALTER TABLE votes DROP CONSTRAINT ' || quote_ident(old_key)
            || ', ADD PRIMARY KEY (kiosk_id, vote_id)';
        RAISE NOTICE 'votes re-keyed by (kiosk_id, vote_id)';
    END IF;
END
$rekey$;

-- "votes in the last 10 minutes" reads only the index's tail
CREATE INDEX IF NOT EXISTS votes_cast_at_idx ON votes (cast_at) INCLUDE (candidate);

CREATE TABLE IF NOT EXISTS vote_buckets (
    candidate text        NOT NULL,
    bucket    timestamptz NOT NULL,
    votes     bigint      NOT NULL CHECK (votes >= 0),
    PRIMARY KEY (candidate, bucket)
);

-- vote_replay_marks: per votes queue, a time before which every vote the broker confirmed is
-- stored (the worker saw the queue with no message ready, then stored what it held). When the
-- queue is lost, the worker replays the votes' stream (VOTES_QUEUE.replay) from a margin before
-- it (service/worker.py, lib/votes/replay.py).
CREATE TABLE IF NOT EXISTS vote_replay_marks (
    queue     text        PRIMARY KEY,
    safe_from timestamptz NOT NULL
);
