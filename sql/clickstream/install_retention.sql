-- install_retention.sql: how many users first installed the app on one day and used it again
-- within the following days.
--
-- Parameters (psql variables; lib binds the same names):
--   day          date     the install day, whole                               (default 2017-04-01)
--   window_days  integer  days after it that count, whole days from the next   (default 7)
--                         day's 00:00:00 up to but excluding day + 1 + window_days, so with the
--                         defaults 2017-04-02 00:00:00 <= time < 2017-04-09 00:00:00
-- Output columns: installed_users, retained_users (distinct users, each counted once).
--
-- A user "first installed" on the day when their earliest FIRST_INSTALL falls on it (a repeated
-- FIRST_INSTALL on a later day does not make a new user). Every range is sargable: the
-- (action, time) index finds the day's installs, the primary key (userId, time) answers each
-- "installed earlier?" and "anything in the window?" with one index probe.
--
--   psql -v day=2017-04-01 -v window_days=7 -f sql/clickstream/install_retention.sql
\if :{?day}
\else
\set day 2017-04-01
\endif
\if :{?window_days}
\else
\set window_days 7
\endif

WITH installed AS (
    SELECT DISTINCT i.userId
    FROM clickstream AS i
    WHERE i.action = 'FIRST_INSTALL'
      AND i.time >= CAST(:'day' AS date)
      AND i.time < CAST(:'day' AS date) + 1
      -- no earlier install: written as a scalar subquery so that it stays one primary-key
      -- probe per user (as NOT EXISTS the planner may sort every earlier install instead)
      AND (
          SELECT count(*) FROM clickstream AS earlier
          WHERE earlier.userId = i.userId
            AND earlier.time < CAST(:'day' AS date)
            AND earlier.action = 'FIRST_INSTALL'
      ) = 0
)
SELECT
    count(*) AS installed_users,
    count(*) FILTER (
        WHERE EXISTS (
            SELECT 1 FROM clickstream AS e
            WHERE e.userId = installed.userId
              AND e.time >= CAST(:'day' AS date) + 1
              AND e.time < CAST(:'day' AS date) + 1 + CAST(:'window_days' AS integer)
        )
    ) AS retained_users
FROM installed;
