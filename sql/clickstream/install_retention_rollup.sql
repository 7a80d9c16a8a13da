-- install_retention_rollup.sql: install_retention.sql answered from the first_installs rollup
-- (rollups.sql) and clickstream's primary key (userId, time): the users who first installed on
-- the day, with their witness of return (next_day, the day of an event of theirs after the
-- install day), from one index-only scan; a user whose witness lies in the window returned, any
-- other takes one index-only probe of the key for an event in the window. Whatever the number
-- of events.
--
-- Parameters (psql variables; lib binds the same names):
--   day          date     the install day, whole                               (default 2017-04-01)
--   window_days  integer  days after it that count: day + 1 up to and including
--                         day + window_days (time from day + 1 00:00:00 up to but excluding
--                         day + 1 + window_days 00:00:00)                      (default 7)
-- Output columns: installed_users, retained_users (distinct users, each counted once).
--
--   psql -v day=2017-04-01 -v window_days=7 -f sql/clickstream/install_retention_rollup.sql
\if :{?day}
\else
\set day 2017-04-01
\endif
\if :{?window_days}
\else
\set window_days 7
\endif

SELECT
    count(*) AS installed_users,
    count(*) FILTER (
        WHERE f.next_day < CAST(:'day' AS date) + 1 + CAST(:'window_days' AS integer)
           OR EXISTS (
               SELECT 1 FROM clickstream AS e
               WHERE e.userId = f.user_id
                 AND e.time >= CAST(:'day' AS date) + 1
                 AND e.time < CAST(:'day' AS date) + 1 + CAST(:'window_days' AS integer)
           )
    ) AS retained_users
FROM first_installs AS f
WHERE f.day = CAST(:'day' AS date);
