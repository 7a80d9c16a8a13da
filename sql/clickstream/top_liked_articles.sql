-- top_liked_articles.sql: the articles with the most LIKE_ARTICLE events on one day.
--
-- Parameters (psql variables; lib binds the same names):
--   day    date     the day, whole: day 00:00:00 <= time < next day 00:00:00   (default 2017-04-01)
--   top_n  integer  how many articles                                          (default 10)
-- Output columns: title, id, likes  — most likes first, ties by article id.
--
--   psql -v day=2017-04-01 -v top_n=10 -f sql/clickstream/top_liked_articles.sql
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
    SELECT objectId, count(*) AS likes
    FROM clickstream
    WHERE action = 'LIKE_ARTICLE'
      AND time >= CAST(:'day' AS date)
      AND time < CAST(:'day' AS date) + 1
      AND objectId IS NOT NULL
    GROUP BY objectId
    ORDER BY likes DESC, objectId
    LIMIT CAST(:'top_n' AS integer)
) AS l
JOIN articles AS a ON a.id = l.objectId
ORDER BY l.likes DESC, a.id;
