-- retention_cohorts.sql: the retention question generalised to a cohort table. For each install
-- day, how many users first installed then, and how many of them were active (any event) on each
-- of the following days.
--
-- Parameters (psql variables; lib binds the same names):
--   first_day    date     first install day          (default 2017-04-01)
--   last_day     date     last install day, inclusive (default 2017-04-07)
--   window_days  integer  days after install to show (default 7)
-- Output columns: install_day, installed_users, day_offset (1..window_days), active_users.
--
--   psql -v first_day=2017-04-01 -v last_day=2017-04-07 -f sql/clickstream/retention_cohorts.sql
\if :{?first_day}
\else
\set first_day 2017-04-01
\endif
\if :{?last_day}
\else
\set last_day 2017-04-07
\endif
\if :{?window_days}
\else
\set window_days 7
\endif

WITH cohort AS (
    SELECT userId, CAST(min(time) AS date) AS install_day
    FROM clickstream
    WHERE action = 'FIRST_INSTALL'
      AND time < CAST(:'last_day' AS date) + 1
    GROUP BY userId
    HAVING min(time) >= CAST(:'first_day' AS date)
),
sizes AS (
    SELECT install_day, count(*) AS installed_users
    FROM cohort
    GROUP BY install_day
),
activity AS (
    SELECT c.install_day,
           CAST(e.time AS date) - c.install_day AS day_offset,
           count(DISTINCT c.userId) AS active_users
    FROM cohort AS c
    JOIN clickstream AS e
      ON e.userId = c.userId
     AND e.time >= c.install_day + 1
     AND e.time < c.install_day + 1 + CAST(:'window_days' AS integer)
    GROUP BY 1, 2
)
SELECT s.install_day, s.installed_users, d.day_offset,
       coalesce(a.active_users, 0) AS active_users
FROM sizes AS s
CROSS JOIN generate_series(1, CAST(:'window_days' AS integer)) AS d (day_offset)
LEFT JOIN activity AS a
       ON a.install_day = s.install_day AND a.day_offset = d.day_offset
ORDER BY s.install_day, d.day_offset;
