-- generate_clickstream.sql: a large, realistic synthetic clickstream for benchmarks (Q2).
-- Appends to articles and clickstream in the current schema (apply schema.sql first).
--
-- Parameters (psql variables; lib binds the same names):
--   n_events    integer  total events, installs included            (default 10000000)
--   n_users     integer  users, each with one FIRST_INSTALL          (default 100000)
--   n_articles  integer  articles                                   (default 50000)
--   first_day   date     first day of the period                    (default 2017-02-01)
--   days        integer  length of the period in days               (default 90)
--   seed        float    setseed() value in [-1, 1], for repeatability (default 0.42)
--
-- Shape: installs spread evenly over the period; every other event belongs to a user who has
-- already installed (more active users are likelier: activity ~ rank^-1/2), falls between the
-- install and the period's end, and is a LIKE_ARTICLE (40%) or a LOG_IN (60%). Liked articles
-- follow a power law (article k is liked ~ k^-0.75 as often as article 1). A generated time that
-- collides with one the user already has is skipped (ON CONFLICT), so a few events fewer than
-- asked may be inserted.
\if :{?n_events}
\else
\set n_events 10000000
\endif
\if :{?n_users}
\else
\set n_users 100000
\endif
\if :{?n_articles}
\else
\set n_articles 50000
\endif
\if :{?first_day}
\else
\set first_day 2017-02-01
\endif
\if :{?days}
\else
\set days 90
\endif
\if :{?seed}
\else
\set seed 0.42
\endif

SELECT setseed(CAST(:'seed' AS float8));

INSERT INTO articles (id, title, created_by, updated_by)
SELECT 'art' || g,
       'Article number ' || g,
       CAST(:'first_day' AS date) - (random() * 365) * interval '1 day',
       NULL
FROM generate_series(1, CAST(:'n_articles' AS integer)) AS g
ON CONFLICT (id) DO NOTHING;

CREATE TEMP TABLE generated_users AS
SELECT g AS n,
       'user' || g AS userId,
       CAST(:'first_day' AS date) + random() * CAST(:'days' AS integer) * interval '1 day'
           AS installed_at
FROM generate_series(1, CAST(:'n_users' AS integer)) AS g;

INSERT INTO clickstream (userId, time, action, objectId)
SELECT userId, installed_at, 'FIRST_INSTALL', NULL FROM generated_users
ON CONFLICT (userId, time) DO NOTHING;

INSERT INTO clickstream (userId, time, action, objectId)
SELECT u.userId,
       u.installed_at
           + e.r_time * (CAST(:'first_day' AS date) + CAST(:'days' AS integer) - u.installed_at),
       CASE WHEN e.r_action < 0.4 THEN CAST('LIKE_ARTICLE' AS actions) ELSE 'LOG_IN' END,
       CASE WHEN e.r_action < 0.4
            THEN 'art' || (1 + floor(CAST(:'n_articles' AS integer) * power(e.r_article, 4)))
       END
FROM (
    SELECT 1 + floor(CAST(:'n_users' AS integer) * power(random(), 2)) AS n,
           random() AS r_time, random() AS r_action, random() AS r_article
    FROM generate_series(1, CAST(:'n_events' AS integer) - CAST(:'n_users' AS integer))
) AS e
JOIN generated_users AS u ON u.n = e.n
ON CONFLICT (userId, time) DO NOTHING;

DROP TABLE generated_users;
