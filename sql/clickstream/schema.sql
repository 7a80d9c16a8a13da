-- schema.sql: the clickstream data model (Q2). Idempotent: apply it any number of times.
--
--   psql -h 127.0.0.1 -U postgres -d test -f sql/clickstream/schema.sql
--   PGOPTIONS='-c search_path=q2' psql ... -f sql/clickstream/schema.sql   -- into schema q2 (create it first)
--
-- Creates, in the first schema of the search_path: type actions, tables articles and clickstream
-- (names and types as the assignment gives them), and the indexes the Q2 queries need.

DO $$
BEGIN
    CREATE TYPE actions AS ENUM ('FIRST_INSTALL', 'LIKE_ARTICLE', 'LOG_IN');
EXCEPTION
    WHEN duplicate_object THEN NULL;
END
$$;

CREATE TABLE IF NOT EXISTS articles (
    id         varchar(32) PRIMARY KEY,
    title      varchar(32) NOT NULL,
    created_by timestamp   NOT NULL,
    updated_by timestamp
);

CREATE TABLE IF NOT EXISTS clickstream (
    userId   varchar(32) NOT NULL,
    time     timestamp   NOT NULL,
    action   actions     NOT NULL,
    objectId varchar(32) REFERENCES articles (id),
    PRIMARY KEY (userId, time)
);

-- Likes and installs of one day: an index-only range scan on (action, time) that also carries
-- the liked article, so top_liked_articles.sql never visits the table.
CREATE INDEX IF NOT EXISTS clickstream_action_time_idx
    ON clickstream (action, time) INCLUDE (objectId, userId);
-- "Did this user do anything between these times?" is served by the primary key (userId, time).
