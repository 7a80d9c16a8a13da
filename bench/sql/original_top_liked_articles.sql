-- The original top-liked query, reconstructed for the benchmark only (it is wrong: do not use).
-- Its faults: date_trunc(...) = day cannot use an index on time, and the ORDER BY inside the
-- subquery does not survive the outer join, so the rows come back in no promised order.
SELECT a.title, a.id, l.likes
FROM articles AS a
RIGHT OUTER JOIN (
    SELECT objectId, count(*) AS likes
    FROM clickstream
    WHERE action = 'LIKE_ARTICLE'
      AND date_trunc('day', time) = CAST(:'day' AS timestamp)
    GROUP BY objectId
    ORDER BY likes DESC
    LIMIT 10
) AS l ON a.id = l.objectId;
