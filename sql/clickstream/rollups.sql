-- rollups.sql: the Q2 rollups, kept exact by triggers in the transaction that writes the events.
-- Idempotent; apply it after schema.sql, in the same schema:
--
--   psql -h 127.0.0.1 -U postgres -d test -f sql/clickstream/rollups.sql
--
-- Creates, in the first schema of the search_path:
--   likes_daily (day, article_id, likes, tier)  LIKE_ARTICLE events (with an article) per day and
--                                               article; tier: the number of digits of likes
--   first_installs (user_id, day, next_day)     the day of each user's earliest FIRST_INSTALL;
--                                               next_day: a day after it with an event of the
--                                               user (a witness of return), or NULL
-- and the triggers on clickstream that keep them in step:
--   INSERT (and COPY): one statement-level trigger reads the statement's new rows (a transition
--     table) and adds them, grouped, with INSERT ... ON CONFLICT: likes are added to the count,
--     a first install moves only earlier (LEAST), a user without a witness of return gets the
--     earliest day after the install day among the statement's events (one upsert with the
--     install). Rows are written in key order so that concurrent batches lock in the same
--     order. Rows an INSERT ... ON CONFLICT DO NOTHING skips are not in the transition table,
--     so not counted.
--   UPDATE, DELETE: refused with one line (clickstream is an append-only log); corrections are
--     made as docs/q2.md says, then rebuild_clickstream_rollups().
--   TRUNCATE: empties the rollups too.
-- Last, rebuild_clickstream_rollups() fills the rollups from the events already there (it locks
-- out writers while it runs; the triggers exist before it, so no event is missed or counted
-- twice).
--
-- Whether a user was active on some days is not a rollup: clickstream's primary key
-- (userId, time) answers it with one probe, and a rollup of it cost as much again to keep as
-- the likes (docs/q2.md, "Speed"). next_day spares that probe for the users it proves retained:
-- it is always the day of an event of the user after the install day (written with the event,
-- or by the rebuild; an install moving earlier keeps it, and the old install day is one too),
-- not always the earliest such day (a late event may come before it), so a user whose next_day
-- is past the window is probed.
--
-- Cheap to keep: an added like changes only likes, which no index holds, so the new row version
-- stays on its page (a HOT update: no index entry written) while the page has room (fillfactor
-- 70). The top-N index holds tier instead, which changes at 10, 100, 1000 likes only; a row of
-- a higher tier has more likes, so the top-N sorts only the rows at or above the tier of the
-- top_n-th entry of (day, tier) (top_liked_articles_rollup.sql).
--
-- A day is CAST(time AS date): time is a timestamp without time zone, the wall-clock time
-- stored, which is what the raw queries compare (time >= day AND time < day + 1); the session's
-- TimeZone changes neither.
--
-- No percent sign anywhere in this file: lib sends its text through the driver, which reads one
-- as a parameter marker.

CREATE TABLE IF NOT EXISTS likes_daily (
    day        date        NOT NULL,
    article_id varchar(32) NOT NULL,
    likes      bigint      NOT NULL CHECK (likes > 0),
    tier       smallint    NOT NULL GENERATED ALWAYS AS (length(CAST(likes AS text))) STORED,
    PRIMARY KEY (day, article_id)
) WITH (fillfactor = 70);
-- from the earlier layout (index on likes, no tier); the rebuild below refills the table
DROP INDEX IF EXISTS likes_daily_top_idx;
ALTER TABLE likes_daily
    ADD COLUMN IF NOT EXISTS tier smallint NOT NULL
        GENERATED ALWAYS AS (length(CAST(likes AS text))) STORED;
ALTER TABLE likes_daily SET (fillfactor = 70);
-- top-N of one day: its highest tiers, read backwards, then sorted by likes within them
CREATE INDEX IF NOT EXISTS likes_daily_tier_idx ON likes_daily (day, tier);

CREATE TABLE IF NOT EXISTS first_installs (
    user_id  varchar(32) PRIMARY KEY,
    day      date        NOT NULL,
    next_day date
);
-- from the earlier layout (no next_day)
ALTER TABLE first_installs ADD COLUMN IF NOT EXISTS next_day date;
ALTER TABLE first_installs DROP CONSTRAINT IF EXISTS first_installs_next_day_after;
ALTER TABLE first_installs
    ADD CONSTRAINT first_installs_next_day_after CHECK (next_day > day);
DROP INDEX IF EXISTS first_installs_day_idx;
-- the installs of one day with their witnesses: an index-only scan
CREATE INDEX IF NOT EXISTS first_installs_day_next_idx
    ON first_installs (day, user_id) INCLUDE (next_day);
-- the users still without a witness, the only ones the trigger looks up
CREATE INDEX IF NOT EXISTS first_installs_no_next_idx
    ON first_installs (user_id) WHERE next_day IS NULL;

-- from the earlier layout: retention now probes clickstream's primary key instead
DROP TABLE IF EXISTS active_days;

CREATE OR REPLACE FUNCTION clickstream_rollups_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO likes_daily AS l (day, article_id, likes)
    SELECT CAST(time AS date), objectId, count(*)
    FROM new_events
    WHERE action = 'LIKE_ARTICLE' AND objectId IS NOT NULL
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (day, article_id) DO UPDATE SET likes = l.likes + EXCLUDED.likes;

    -- One ordered pass over first_installs (the rows locked in key order, as above), for each
    -- user with a FIRST_INSTALL in the statement or with a row still without a witness of
    -- return: the install day moves only earlier (the former one then is a witness), and the
    -- earliest of the statement's days after the install day is a witness. The row is locked
    -- and read again before it is changed, so a concurrent writer's change is kept: the new
    -- next_day is the least of the witnesses, each a day of an event after the new day.
    INSERT INTO first_installs AS f (user_id, day, next_day)
    SELECT user_id, install_day, min(day) FILTER (WHERE day > install_day)
    FROM (
        SELECT d.userId AS user_id, d.day, d.install,
               LEAST(min(d.install) OVER (PARTITION BY d.userId), k.day) AS install_day
        FROM (
            SELECT userId, CAST(time AS date) AS day,
                   CAST(min(time) FILTER (WHERE action = 'FIRST_INSTALL') AS date) AS install
            FROM new_events
            GROUP BY 1, 2
        ) AS d
        LEFT JOIN first_installs AS k ON k.user_id = d.userId AND k.next_day IS NULL
    ) AS r
    WHERE install_day IS NOT NULL
    GROUP BY user_id, install_day
    HAVING count(install) > 0 OR max(day) > install_day  -- else nothing to change
    ORDER BY 1
    ON CONFLICT (user_id) DO UPDATE
        SET day = LEAST(f.day, EXCLUDED.day),
            next_day = LEAST(f.next_day, EXCLUDED.next_day,
                             CASE WHEN EXCLUDED.day < f.day THEN f.day END)
        WHERE EXCLUDED.day < f.day
           OR EXCLUDED.next_day < COALESCE(f.next_day, CAST('infinity' AS date));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION clickstream_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'clickstream is append-only while its rollups are kept: ' || TG_OP || ' refused',
        HINT = 'correct events as docs/q2.md says, then SELECT rebuild_clickstream_rollups()';
END
$$;

CREATE OR REPLACE FUNCTION clickstream_rollups_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE likes_daily, first_installs;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION rebuild_clickstream_rollups() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING MESSAGE = 'rebuild_clickstream_rollups() needs READ COMMITTED, not '
            || current_setting('transaction_isolation');
    END IF;
    -- no writer until commit; each statement below then sees every committed event
    LOCK TABLE clickstream IN SHARE ROW EXCLUSIVE MODE;
    TRUNCATE likes_daily, first_installs;
    INSERT INTO likes_daily (day, article_id, likes)
    SELECT CAST(time AS date), objectId, count(*)
    FROM clickstream
    WHERE action = 'LIKE_ARTICLE' AND objectId IS NOT NULL
    GROUP BY 1, 2;
    INSERT INTO first_installs (user_id, day, next_day)
    SELECT i.userId, i.day, (
        SELECT CAST(min(e.time) AS date)
        FROM clickstream AS e
        WHERE e.userId = i.userId AND e.time >= i.day + 1
    )
    FROM (
        SELECT userId, CAST(min(time) AS date) AS day
        FROM clickstream
        WHERE action = 'FIRST_INSTALL'
        GROUP BY 1
    ) AS i;
END
$$;

-- The functions name their tables unqualified: pin them to this schema, whatever the search_path
-- of the session that writes events.
DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['clickstream_rollups_add', 'clickstream_rollups_truncate',
                              'rebuild_clickstream_rollups']
    LOOP
        EXECUTE 'ALTER FUNCTION ' || quote_ident(current_schema()) || '.' || quote_ident(fn)
            || '() SET search_path = ' || quote_ident(current_schema()) || ', pg_catalog';
    END LOOP;
END
$$;

CREATE OR REPLACE TRIGGER clickstream_rollups_add
    AFTER INSERT ON clickstream
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION clickstream_rollups_add();

CREATE OR REPLACE TRIGGER clickstream_append_only
    BEFORE UPDATE OR DELETE ON clickstream
    FOR EACH STATEMENT EXECUTE FUNCTION clickstream_append_only();

CREATE OR REPLACE TRIGGER clickstream_rollups_truncate
    AFTER TRUNCATE ON clickstream
    FOR EACH STATEMENT EXECUTE FUNCTION clickstream_rollups_truncate();

SELECT rebuild_clickstream_rollups();
