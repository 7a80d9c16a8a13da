-- Store a batch of votes and add them to the 10-minute rollup, in one statement (one
-- transaction): only the votes actually inserted are counted, so a redelivered vote changes
-- nothing. A vote is keyed by its kiosk and vote id; of a batch's votes with one key the first
-- is the one stored (sql/votes/conflicting_votes.sql then finds those that named another
-- candidate). Rows are written in key order, rollup rows in (candidate, bucket) order, so that
-- concurrent workers take their locks in the same order.
--
-- Parameters (arrays of equal length, one element per vote, in the order received):
--   vote_ids, candidates, kiosk_ids (text[]), cast_ats (timestamptz[])
-- Output: inserted (votes newly stored; the rest were already there), buckets_touched.
--
--   psql -v vote_ids='{v0000001}' -v candidates='{1}' -v kiosk_ids='{42}' \
--        -v cast_ats='{2026-11-28T12:00:00Z}' -f sql/votes/record_votes.sql
WITH incoming AS (
    SELECT DISTINCT ON (kiosk_id, vote_id) kiosk_id, vote_id, candidate, cast_at
    FROM unnest(
        CAST(:'vote_ids' AS text[]),
        CAST(:'candidates' AS text[]),
        CAST(:'kiosk_ids' AS text[]),
        CAST(:'cast_ats' AS timestamptz[])
    ) WITH ORDINALITY AS v (vote_id, candidate, kiosk_id, cast_at, position)
    ORDER BY kiosk_id, vote_id, position
),
inserted AS (
    INSERT INTO votes (kiosk_id, vote_id, candidate, cast_at)
    SELECT kiosk_id, vote_id, candidate, cast_at FROM incoming
    ORDER BY kiosk_id, vote_id
    ON CONFLICT (kiosk_id, vote_id) DO NOTHING
    RETURNING candidate, cast_at
),
rolled AS (
    INSERT INTO vote_buckets (candidate, bucket, votes)
    SELECT candidate, date_bin('10 minutes', cast_at, TIMESTAMPTZ 'epoch'),
           count(*)
    FROM inserted
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (candidate, bucket) DO UPDATE SET votes = vote_buckets.votes + EXCLUDED.votes
    RETURNING 1
)
SELECT count(*) AS inserted, (SELECT count(*) FROM rolled) AS buckets_touched FROM inserted;
