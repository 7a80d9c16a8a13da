-- Move a votes queue's replay mark forward (never back): every vote the broker confirmed before
-- safe_from is stored. Run in the transaction that stores the batch the worker held when it saw
-- the queue with no message ready.
--
-- Parameters: queue (text), safe_from (timestamptz)
-- Output: safe_from (the mark now stored)
--
--   psql -v queue=votes -v safe_from=2026-12-07T12:00:00Z -f sql/votes/record_replay_mark.sql
INSERT INTO vote_replay_marks AS m (queue, safe_from)
VALUES (:'queue', CAST(:'safe_from' AS timestamptz))
ON CONFLICT (queue) DO UPDATE SET safe_from = greatest(m.safe_from, EXCLUDED.safe_from)
RETURNING safe_from;
