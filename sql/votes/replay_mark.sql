-- A votes queue's replay mark: every vote the broker confirmed before safe_from is stored
-- (sql/votes/record_replay_mark.sql). No row: none known, a replay starts at the stream's first
-- message.
--
-- Parameters: queue (text)
-- Output: safe_from (timestamptz)
--
--   psql -v queue=votes -f sql/votes/replay_mark.sql
SELECT safe_from FROM vote_replay_marks WHERE queue = :'queue';
