-- top_liked_articles_rollup.sql: top_liked_articles.sql answered from the likes_daily rollup
-- (rollups.sql), the same answer in well under a millisecond at any clickstream size.
--
-- Parameters (psql variables; lib binds the same names):
--   day    date     the day, whole: day 00:00:00 <= time < next day 00:00:00   (default 2017-04-01)
--   top_n  integer  how many articles                                          (default 10)
-- Output columns: title, id, likes  — most likes first, ties by article id.
--
-- tier is the number of digits of likes (a generated column): a row of a higher tier has more
-- likes. So every one of the top_n has at least the tier of the top_n-th entry in tier order,
-- which the inner subquery reads from likes_daily_tier_idx (day, tier) backwards (top_n
-- entries), and only the rows of that tier or above are sorted by likes: a few dozen, not the
-- day's tens of thousands, whatever plan the planner picks for them (it cannot know how few).
--
--   psql -v day=2017-04-01 -v top_n=10 -f sql/clickstream/top_liked_articles_rollup.sql
\if :{?day}
\else
\set day 2017-04-01
\endif
\if :{?top_n}
\else
\set top_n 10
\endif

SELECT a.title, a.id, l.likes
FROM (
    SELECT article_id, likes
    FROM likes_daily
    WHERE day = CAST(:'day' AS date)
      AND tier >= COALESCE(
          (
              SELECT tier
              FROM likes_daily
              WHERE day = CAST(:'day' AS date)
              ORDER BY tier DESC
              LIMIT 1 OFFSET GREATEST(CAST(:'top_n' AS integer) - 1, 0)
          ),
          0
      )
    ORDER BY likes DESC, article_id
    LIMIT CAST(:'top_n' AS integer)
) AS l
JOIN articles AS a ON a.id = l.article_id
ORDER BY l.likes DESC, a.id;
