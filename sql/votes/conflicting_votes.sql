-- The votes of a batch whose kiosk and vote id are stored for another candidate: a kiosk (or its
-- client) reused a vote id. Run after sql/votes/record_votes.sql in the same transaction (a new
-- statement: it sees what that one stored and what other workers committed); the worker
-- dead-letters these rather than drop them unseen. The same vote delivered twice (same
-- candidate) is no conflict.
--
-- Parameters (arrays of equal length, one element per vote, in the order received):
--   vote_ids, candidates, kiosk_ids (text[])
-- Output: position (1-based, in the arrays), stored (the candidate stored under that key).
--
--   psql -v vote_ids='{v0000001}' -v candidates='{2}' -v kiosk_ids='{42}' \
--        -f sql/votes/conflicting_votes.sql
SELECT v.position, votes.candidate AS stored
FROM unnest(
    CAST(:'vote_ids' AS text[]),
    CAST(:'candidates' AS text[]),
    CAST(:'kiosk_ids' AS text[])
) WITH ORDINALITY AS v (vote_id, candidate, kiosk_id, position)
JOIN votes ON votes.kiosk_id = v.kiosk_id AND votes.vote_id = v.vote_id
WHERE votes.candidate <> v.candidate
ORDER BY v.position;
