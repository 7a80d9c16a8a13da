-- rollups.sql: the Q2 rollups, kept exact by triggers in the transaction that writes the events.
-- Idempotent; apply it after schema.sql, in the same schema:
--
--   psql -h 127.0.0.1 -U postgres -d test -f sql/clickstream/rollups.sql
--
-- Creates, in the first schema of the search_path:
--   likes_daily (day, article_id, likes)  LIKE_ARTICLE events (with an article) per day and article
--   first_installs (user_id, day)         the day of each user's earliest FIRST_INSTALL
--   active_days (user_id, day)            the days on which each user had any event
-- and the triggers on clickstream that keep them in step:
--   INSERT (and COPY): one statement-level trigger reads the statement's new rows (a transition
--     table) and adds them, grouped, with INSERT ... ON CONFLICT: likes are added to the count,
--     a first install moves only earlier (LEAST), an active day is added once. Rows are written
--     in key order so that concurrent batches lock in the same order. Rows an
--     INSERT ... ON CONFLICT DO NOTHING skips are not in the transition table, so not counted.
--   UPDATE, DELETE: refused with one line (clickstream is an append-only log); corrections are
--     made as docs/q2.md says, then rebuild_clickstream_rollups().
--   TRUNCATE: empties the rollups too.
-- Last, rebuild_clickstream_rollups() fills the rollups from the events already there (it locks
-- out writers while it runs; the triggers exist before it, so no event is missed or counted
-- twice).
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
    PRIMARY KEY (day, article_id)
);
-- top-N of one day: the first N entries of this index, no sort
CREATE INDEX IF NOT EXISTS likes_daily_top_idx ON likes_daily (day, likes DESC, article_id);

CREATE TABLE IF NOT EXISTS first_installs (
    user_id varchar(32) PRIMARY KEY,
    day     date        NOT NULL
);
CREATE INDEX IF NOT EXISTS first_installs_day_idx ON first_installs (day, user_id);

CREATE TABLE IF NOT EXISTS active_days (
    user_id varchar(32) NOT NULL,
    day     date        NOT NULL,
    PRIMARY KEY (user_id, day)
);

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

    INSERT INTO first_installs AS f (user_id, day)
    SELECT userId, CAST(min(time) AS date)
    FROM new_events
    WHERE action = 'FIRST_INSTALL'
    GROUP BY 1
    ORDER BY 1
    ON CONFLICT (user_id) DO UPDATE SET day = EXCLUDED.day WHERE EXCLUDED.day < f.day;

    INSERT INTO active_days (user_id, day)
    SELECT DISTINCT userId, CAST(time AS date)
    FROM new_events
    ORDER BY 1, 2
    ON CONFLICT (user_id, day) DO NOTHING;
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
    TRUNCATE likes_daily, first_installs, active_days;
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
    TRUNCATE likes_daily, first_installs, active_days;
    INSERT INTO likes_daily (day, article_id, likes)
    SELECT CAST(time AS date), objectId, count(*)
    FROM clickstream
    WHERE action = 'LIKE_ARTICLE' AND objectId IS NOT NULL
    GROUP BY 1, 2;
    INSERT INTO first_installs (user_id, day)
    SELECT userId, CAST(min(time) AS date)
    FROM clickstream
    WHERE action = 'FIRST_INSTALL'
    GROUP BY 1;
    INSERT INTO active_days (user_id, day)
    SELECT DISTINCT userId, CAST(time AS date)
    FROM clickstream;
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
