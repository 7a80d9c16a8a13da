-- Votes per candidate cast in the last few minutes (the results' "last 10 minutes"); reads only
-- the tail of votes_cast_at_idx.
-- Parameters: minutes (integer, default 10).
-- Output: candidate, votes.
--
--   psql -v minutes=10 -f sql/votes/recent_votes.sql
\if :{?minutes}
\else
\set minutes 10
\endif
SELECT candidate, count(*) AS votes
FROM votes
WHERE cast_at >= now() - make_interval(mins => CAST(:'minutes' AS integer))
GROUP BY candidate
ORDER BY candidate;
