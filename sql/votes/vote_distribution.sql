-- Votes per candidate per 10-minute bucket, from the rollup (O(buckets), whatever the number of
-- votes). Totals per candidate are the sums of these rows.
-- Output: bucket (timestamptz, start of the bucket), candidate, votes.
--
--   psql -f sql/votes/vote_distribution.sql
SELECT bucket, candidate, votes
FROM vote_buckets
ORDER BY bucket, candidate;
