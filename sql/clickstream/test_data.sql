-- test_data.sql: a small, hand-checkable clickstream (Q2). Idempotent: rows that already exist
-- are left alone (ON CONFLICT DO NOTHING); nothing is deleted.
--
-- With the defaults (day 2017-04-01, top_n 10, window_days 7) the answers are:
--   top_liked_articles: 111111 (2 likes), then 222222 and 333333 (1 like each, ties by id)
--   install_retention:  5 users installed on the day, 4 of them came back within the week
--     u1 logs in on 04-02 (inside), u2 likes twice on 04-05 (counted once), u3 logs in at
--     04-08 23:59:59.5 (last instant inside), u4 installs and logs in on 04-03, u5 returns only on
--     04-09 00:00:00 (outside); u6 installed on 03-31 and u7 on 04-02 (other days).

INSERT INTO articles (id, title, created_by, updated_by) VALUES
    ('111111', 'Rocket launch', '2017-03-01 09:00:00', NULL),
    ('222222', 'Weather today', '2017-03-02 10:00:00', '2017-03-05 08:00:00'),
    ('333333', 'Local football', '2017-03-03 11:00:00', NULL)
ON CONFLICT (id) DO NOTHING;

INSERT INTO clickstream (userId, time, action, objectId) VALUES
    ('u1', '2017-04-01 08:00:00',   'FIRST_INSTALL', NULL),
    ('u1', '2017-04-01 08:05:00',   'LIKE_ARTICLE',  '111111'),
    ('u1', '2017-04-02 09:00:00',   'LOG_IN',        NULL),
    ('u2', '2017-04-01 10:00:00',   'FIRST_INSTALL', NULL),
    ('u2', '2017-04-01 10:01:00',   'LIKE_ARTICLE',  '111111'),
    ('u2', '2017-04-05 12:00:00',   'LIKE_ARTICLE',  '222222'),
    ('u2', '2017-04-05 12:30:00',   'LIKE_ARTICLE',  '333333'),
    ('u3', '2017-04-01 23:59:59',   'FIRST_INSTALL', NULL),
    ('u3', '2017-04-08 23:59:59.5', 'LOG_IN',        NULL),
    ('u4', '2017-04-01 00:00:00',   'FIRST_INSTALL', NULL),
    ('u4', '2017-04-01 12:00:00',   'LIKE_ARTICLE',  '222222'),
    ('u4', '2017-04-03 07:00:00',   'LOG_IN',        NULL),
    ('u5', '2017-04-01 15:00:00',   'FIRST_INSTALL', NULL),
    ('u5', '2017-04-01 15:10:00',   'LIKE_ARTICLE',  '333333'),
    ('u5', '2017-04-09 00:00:00',   'LOG_IN',        NULL),
    ('u6', '2017-03-31 20:00:00',   'FIRST_INSTALL', NULL),
    ('u6', '2017-04-02 20:00:00',   'LOG_IN',        NULL),
    ('u7', '2017-04-02 06:00:00',   'FIRST_INSTALL', NULL),
    ('u7', '2017-04-03 06:00:00',   'LIKE_ARTICLE',  '111111')
ON CONFLICT (userId, time) DO NOTHING;
