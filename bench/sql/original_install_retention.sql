-- The original retention query, reconstructed for the benchmark only (it is wrong: do not use).
-- Its faults: it counts joined rows, not users (a user with three events in the week counts
-- three times), and date_trunc(...) comparisons cannot use an index on time.
SELECT count(*) AS retained_users
FROM clickstream AS i
JOIN clickstream AS e ON e.userId = i.userId
WHERE i.action = 'FIRST_INSTALL'
  AND date_trunc('day', i.time) = CAST(:'day' AS timestamp)
  AND date_trunc('day', e.time) BETWEEN CAST(:'day' AS timestamp) + interval '1 day'
                                     AND CAST(:'day' AS timestamp) + interval '7 days';
