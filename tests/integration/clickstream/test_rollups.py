"""Q2's rollups against the raw queries: random batches of events (late, out of order, at day
edges in a non-UTC session, reinstalls, duplicates) and, after every batch, the same answers."""

from __future__ import annotations

import io
import random
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2.extras
import pytest
import sqlalchemy as sa

from lib.clickstream import queries as raw
from lib.clickstream import rollups
from lib.db import connect, first_line
from tests.integration.clickstream.test_queries import DAY, adversarial, insert, psql

ZONE = "Asia/Kathmandu"  # UTC+05:45: a UTC midnight is no local one
ARTICLES = ["a1", "a2", "a3", "a4", "a5", "a6"]
FIRST = date(2017, 3, 28)


@pytest.fixture
def engine(schema_engine):
    """The test schema with the tables and rollups, every connection in ``ZONE``."""
    engine, _ = schema_engine

    @sa.event.listens_for(engine, "connect")
    def set_zone(dbapi_connection, _record):
        with dbapi_connection.cursor() as cur:
            cur.execute("SET TimeZone = %s", (ZONE,))

    engine.dispose()  # the connections made so far lack the zone
    raw.apply_schema(engine)
    rollups.install_rollups(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO articles (id, title, created_by) VALUES (:id, :id, :t)"),
            [{"id": a, "t": datetime(2017, 1, 1)} for a in ARTICLES],
        )
    return engine


def random_event(rng, today, users):
    """One event around ``today``: mostly on it, some days late, many at a midnight's edge."""
    day = today - timedelta(days=rng.choice([0, 0, 0, 0, 1, 2, 5]))
    midnight = datetime.combine(day, datetime.min.time())
    at = rng.choice(
        [
            midnight + timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)),
            midnight,
            midnight - timedelta(microseconds=1),
            midnight + timedelta(microseconds=1),
            midnight - timedelta(milliseconds=500),
        ]
    )
    action = rng.choices(["FIRST_INSTALL", "LIKE_ARTICLE", "LOG_IN"], [2, 5, 3])[0]
    article = rng.choice(ARTICLES) if action == "LIKE_ARTICLE" and rng.random() > 0.05 else None
    return rng.choice(users), at, action, article


def as_sent(rng, at):
    """The time as the client sends it: naive (stored as is) or as the same wall-clock time in
    ``ZONE`` given in UTC, which the server turns back into ``ZONE``'s wall clock."""
    if rng.random() < 0.5:
        return at
    return at.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def write_batch(engine, rng, events, existing):
    """Write ``events`` one of four ways; returns the rows the table now holds of them."""
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cur:
            how = rng.choice(["values", "values", "copy", "on_conflict", "failing"])
            rows = [(u, as_sent(rng, t), a, o) for u, t, a, o in events]
            if how == "values":  # new keys only, in statements of a random size
                fresh = list(
                    {
                        (u, t): (u, s, a, o)
                        for (u, t, a, o), (_, s, _, _) in zip(events, rows, strict=True)
                        if (u, t) not in existing
                    }.values()
                )
                psycopg2.extras.execute_values(
                    cur,
                    "INSERT INTO clickstream (userId, time, action, objectId) VALUES %s",
                    fresh,
                    page_size=rng.randint(1, 50),
                )
            elif how == "copy":
                fresh = {(u, t): (u, t, a, o) for u, t, a, o in events if (u, t) not in existing}
                text = "".join(
                    f"{u}\t{t.isoformat(sep=' ')}\t{a}\t{o or chr(92) + 'N'}\n"
                    for u, t, a, o in fresh.values()
                )
                cur.copy_expert(
                    "COPY clickstream (userId, time, action, objectId) FROM STDIN",
                    io.StringIO(text),
                )
            elif how == "on_conflict":  # duplicates of existing keys skipped
                again = [e for e in existing.values() if rng.random() < 0.1]
                psycopg2.extras.execute_values(
                    cur,
                    "INSERT INTO clickstream (userId, time, action, objectId) VALUES %s "
                    "ON CONFLICT (userId, time) DO NOTHING",
                    rows + [(u, t, a, o) for u, t, a, o in again],
                    page_size=rng.randint(1, 50),
                )
            else:  # a duplicate key fails the transaction: nothing of it may stay
                psycopg2.extras.execute_values(
                    cur,
                    "INSERT INTO clickstream (userId, time, action, objectId) VALUES %s",
                    rows + rows[:1],
                )
        connection.commit()
    except psycopg2.IntegrityError:
        connection.rollback()
        assert how == "failing"  # only the batch made to fail
    finally:
        connection.close()
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT userId, time, CAST(action AS text), objectId FROM clickstream")
        ).all()
    return {(u, t): (u, t, a, o) for u, t, a, o in stored}


def insert_events(engine, rows, page_size: int = 100) -> None:
    """``rows`` (userId, time, action, objectId) in multi-row INSERTs of ``page_size`` rows, one
    transaction, on a connection of their own."""
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cur:
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO clickstream (userId, time, action, objectId) VALUES %s",
                rows,
                page_size=page_size,
            )
        connection.commit()
    finally:
        connection.close()


def assert_rollups_equal_raw(engine, days):
    """The rollups hold exactly what the events say, and both queries agree for ``days``."""
    with engine.connect() as conn:
        for rollup, from_events in [
            (
                "SELECT day, article_id, likes FROM likes_daily",
                "SELECT CAST(time AS date), objectId, count(*) FROM clickstream "
                "WHERE action = 'LIKE_ARTICLE' AND objectId IS NOT NULL GROUP BY 1, 2",
            ),
            (
                "SELECT user_id, day FROM first_installs",
                "SELECT userId, CAST(min(time) AS date) FROM clickstream "
                "WHERE action = 'FIRST_INSTALL' GROUP BY 1",
            ),
        ]:
            assert set(conn.execute(sa.text(rollup)).all()) == set(
                conn.execute(sa.text(from_events)).all()
            ), rollup
        # every witness of return is the day of an event of the user after the install day
        false_witnesses = conn.exec_driver_sql(
            "SELECT f.user_id, f.day, f.next_day FROM first_installs AS f"
            " WHERE f.next_day IS NOT NULL AND NOT EXISTS (SELECT 1 FROM clickstream AS e"
            " WHERE e.userId = f.user_id AND CAST(e.time AS date) = f.next_day"
            " AND f.next_day > f.day)"
        ).all()
        assert false_witnesses == []
    for day in sorted(days):
        for top_n in (2, 10):
            expected = raw.top_liked_articles(engine, day, top_n)
            got = rollups.top_liked_articles(engine, day, top_n)
            assert got.to_dict("records") == expected.to_dict("records"), (day, top_n)
        for window in (1, 7):
            expected = raw.install_retention(engine, day, window).iloc[0].to_dict()
            got = rollups.install_retention(engine, day, window).iloc[0].to_dict()
            assert got == expected, (day, window)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_the_raw_queries_after_every_batch(engine, seed):
    rng = random.Random(seed)
    users = [f"u{k}" for k in range(25)]
    existing = {}
    answered = set()
    witnessed = (0, 0)  # users with a witness of return, without one, summed over batches
    for batch in range(30):
        today = FIRST + timedelta(days=batch // 3)
        events = [random_event(rng, today, users) for _ in range(rng.randint(1, 60))]
        existing = write_batch(engine, rng, events, existing)
        touched = {t.date() for _, t, _, _ in events}
        # an event on day d changes the answers of d and of the install days whose window holds it
        days = {d - timedelta(days=k) for d in touched for k in range(8)}
        assert_rollups_equal_raw(engine, days)
        answered |= {(d, tuple(raw.install_retention(engine, d, 7).iloc[0])) for d in touched}
        with engine.connect() as conn:
            with_next, without = conn.exec_driver_sql(
                "SELECT count(next_day), count(*) - count(next_day) FROM first_installs"
            ).one()
        witnessed = (witnessed[0] + with_next, witnessed[1] + without)
    # the data reached what the test is about: likes, installs and returns on many days, users
    # with a witness of return and (after some batch) users still without one
    assert len(existing) > 400
    assert any(installed and retained for _, (installed, retained) in answered)
    assert witnessed[0] > 0 and witnessed[1] > 0, witnessed


def test_day_edges_follow_the_stored_wall_clock(engine):
    """An event sent as 2017-03-31 18:15 UTC is 2017-04-01 00:00 in Kathmandu: it counts on
    2017-04-01 in both the raw queries and the rollups."""
    utc_edge = datetime(2017, 3, 31, 18, 15, tzinfo=UTC)
    with engine.begin() as conn:
        for user, at, action in [
            ("z", utc_edge, "FIRST_INSTALL"),
            ("z", utc_edge - timedelta(microseconds=1), "LIKE_ARTICLE"),
            ("z", utc_edge + timedelta(hours=24), "LOG_IN"),
            ("y", utc_edge, "LIKE_ARTICLE"),
        ]:
            conn.execute(
                sa.text(
                    "INSERT INTO clickstream VALUES (:u, :t, CAST(:a AS actions), "
                    "CASE WHEN :a = 'LIKE_ARTICLE' THEN 'a1' END)"
                ),
                {"u": user, "t": at, "a": action},
            )
    assert rollups.install_retention(engine, DAY, 1).iloc[0].tolist() == [1, 1]
    assert rollups.top_liked_articles(engine, DAY)[["id", "likes"]].values.tolist() == [["a1", 1]]
    assert_rollups_equal_raw(engine, {date(2017, 3, 31), DAY, date(2017, 4, 2)})


@pytest.mark.parametrize("rollups_first", [True, False])
def test_test_data_gives_its_known_answers(schema_engine, rollups_first):
    engine, _ = schema_engine
    raw.apply_schema(engine)
    if rollups_first:  # kept by the trigger
        rollups.install_rollups(engine)
        raw.load_test_data(engine)
    else:  # filled from the events already there
        raw.load_test_data(engine)
        rollups.install_rollups(engine)
    raw.load_test_data(engine)  # again: nothing new, nothing counted twice
    rollups.install_rollups(engine)  # again: idempotent
    top = rollups.top_liked_articles(engine)
    assert top.values.tolist() == [
        ["Rocket launch", "111111", 2],
        ["Weather today", "222222", 1],
        ["Local football", "333333", 1],
    ]
    assert rollups.install_retention(engine).iloc[0].to_dict() == {
        "installed_users": 5,
        "retained_users": 4,
    }


def test_psql_runs_the_rollup_files_with_the_same_answers(schema_engine, database_url):
    engine, schema = schema_engine
    raw.apply_schema(engine)
    articles, events = adversarial()
    insert(engine, articles, events)
    psql(database_url, schema, "rollups.sql")
    for raw_file, rollup_file, variables in [
        ("top_liked_articles.sql", "top_liked_articles_rollup.sql", {"top_n": 3}),
        ("install_retention.sql", "install_retention_rollup.sql", {"window_days": 7}),
    ]:
        expected = psql(database_url, schema, raw_file, day="2017-04-01", **variables)
        assert psql(database_url, schema, rollup_file, day="2017-04-01", **variables) == expected
        # the documented defaults are the raw file's
        assert psql(database_url, schema, rollup_file) == psql(database_url, schema, raw_file)
    assert rollups.install_retention(engine, DAY, 7).iloc[0].tolist() == [5, 3]


def test_update_and_delete_are_refused_truncate_empties(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO clickstream VALUES ('u', '2017-04-01 12:00', 'LIKE_ARTICLE', 'a1')"
        )
    for statement in [
        "DELETE FROM clickstream",
        "UPDATE clickstream SET time = time + interval '1 day'",
    ]:
        with pytest.raises(sa.exc.DBAPIError) as info, engine.begin() as conn:
            conn.exec_driver_sql(statement)
        verb = statement.split()[0]
        assert first_line(info.value) == (
            f"clickstream is append-only while its rollups are kept: {verb} refused"
        )
    assert rollups.top_liked_articles(engine)["likes"].tolist() == [1]
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE clickstream")
        counts = [
            conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
            for t in rollups.ROLLUP_TABLES
        ]
    assert counts == [0, 0]


def test_a_correction_then_a_rebuild(engine):
    """The documented way to correct events: guard off, change, guard on, rebuild, in one
    transaction."""
    articles, events = adversarial()
    insert(engine, articles, events)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE clickstream DISABLE TRIGGER clickstream_append_only")
        conn.exec_driver_sql("DELETE FROM clickstream WHERE objectId = 'a'")
        conn.exec_driver_sql(
            "UPDATE clickstream SET time = time - interval '1 day' WHERE userId = 'reinstall'"
        )
        conn.exec_driver_sql("ALTER TABLE clickstream ENABLE TRIGGER clickstream_append_only")
        conn.exec_driver_sql("SELECT rebuild_clickstream_rollups()")
    assert "a" not in rollups.top_liked_articles(engine, DAY)["id"].tolist()
    assert_rollups_equal_raw(engine, {DAY - timedelta(days=k) for k in range(-3, 5)})


def test_concurrent_batches_lose_no_likes(engine):
    """Writers adding to the same (day, article) and the same users at once: every like is
    counted, every first install is the earliest, every witness of return an event's day after
    it; none deadlocks (a failed batch would lose its likes)."""

    def writer(k):
        for batch in range(15):
            rows = (
                [
                    (
                        f"w{k}-{batch}-{i}",
                        datetime(2017, 4, 1, 10) + timedelta(seconds=i),
                        "LIKE_ARTICLE",
                        "a1",
                    )
                    for i in range(20)
                ]
                + [
                    (f"same{i}", datetime(2017, 4, 1 + k % 3, 9, k, batch), "FIRST_INSTALL", None)
                    for i in range(5)
                ]
                + [  # returns, some before another writer's earlier install: witnesses race
                    (
                        f"same{i}",
                        datetime(2017, 4, 2 + (k + batch) % 3, 8, k, batch),
                        "LOG_IN",
                        None,
                    )
                    for i in range(5)
                ]
            )
            insert_events(engine, rows)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rollups.top_liked_articles(engine, DAY)["likes"].tolist() == [4 * 15 * 20]
    assert_rollups_equal_raw(engine, {DAY, date(2017, 4, 2), date(2017, 4, 3), date(2017, 4, 4)})


def test_plans_say_when_there_are_no_rollups(schema_engine):
    engine, _ = schema_engine
    raw.apply_schema(engine)
    assert not rollups.installed(engine)
    assert rollups.explain(engine, "top_liked_articles_rollup", day=DAY, top_n=3) == (
        "no rollups in this schema: apply sql/clickstream/rollups.sql there to have them"
    )
    rollups.install_rollups(engine)
    assert rollups.installed(engine)
    plan = rollups.explain(engine, "install_retention_rollup", day=DAY, window_days=7)
    assert "first_installs" in plan and "Execution Time" in plan


def test_a_writer_looking_elsewhere_keeps_the_rollups_of_the_table_it_writes(
    engine, schema_engine, database_url
):
    """The trigger functions carry their schema: a session whose search_path lacks it (and
    whose own schema has no rollups) still updates the right ones."""
    _, schema = schema_engine
    elsewhere = connect(database_url)  # search_path: the server's default
    try:
        with elsewhere.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO {schema}.clickstream VALUES "
                "('w', '2017-04-01 10:00', 'FIRST_INSTALL', NULL), "
                "('w', '2017-04-02 10:00', 'LIKE_ARTICLE', 'a2')"
            )
    finally:
        elsewhere.dispose()
    assert rollups.install_retention(engine, DAY, 7).iloc[0].tolist() == [1, 1]
    assert rollups.top_liked_articles(engine, "2017-04-02")["id"].tolist() == ["a2"]


def like_rows(day, counts):
    """``counts[article]`` likes of each article on ``day``, each by a user of its own."""
    return [
        (
            f"{article}-{k}",
            datetime.combine(day, datetime.min.time()) + timedelta(seconds=k),
            "LIKE_ARTICLE",
            article,
        )
        for article, n in counts.items()
        for k in range(n)
    ]


def test_top_liked_orders_by_likes_across_tiers(engine):
    """The top-N index holds the number of digits of likes, not likes: 9 likes rank below 10,
    99 below 100, ties by id, whichever tier each count is in."""
    counts = {"a1": 9, "a2": 10, "a3": 100, "a4": 99, "a5": 10, "a6": 1}
    # many statements: counts grow across tiers by updates
    insert_events(engine, like_rows(DAY, counts), page_size=7)
    with engine.connect() as conn:
        tiers = dict(conn.exec_driver_sql("SELECT article_id, tier FROM likes_daily").all())
    assert tiers == {"a1": 1, "a2": 2, "a3": 3, "a4": 2, "a5": 2, "a6": 1}
    top = rollups.top_liked_articles(engine, DAY, 4)
    assert top[["id", "likes"]].values.tolist() == [
        ["a3", 100],
        ["a4", 99],
        ["a2", 10],
        ["a5", 10],
    ]
    for top_n in (1, 3, 5, 6, 10):
        assert rollups.top_liked_articles(engine, DAY, top_n).to_dict("records") == (
            raw.top_liked_articles(engine, DAY, top_n).to_dict("records")
        )
    plan = rollups.explain(engine, "top_liked_articles_rollup", day=DAY, top_n=3)
    assert "likes_daily" in plan


def test_an_added_like_writes_no_index_entry(engine):
    """Adding a like to a day and article already counted, within its tier, is a HOT update:
    the reason ingest stays cheap. An index holding likes would make every one a full update."""
    with engine.begin() as conn:
        for k in range(3):
            conn.exec_driver_sql(
                "INSERT INTO clickstream VALUES "
                f"('hot{k}', '2017-04-01 12:00', 'LIKE_ARTICLE', 'a1')"
            )
        updated, hot = conn.exec_driver_sql(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
            " WHERE relid = to_regclass('likes_daily')"
        ).one()
    assert (updated, hot) == (2, 2)
    assert rollups.top_liked_articles(engine, DAY)["likes"].tolist() == [3]


def test_install_over_the_earlier_layout(schema_engine):
    """A schema with the first layout of the rollups (an index on likes, an active_days table,
    no tier) is brought to this one by applying rollups.sql again, with the same answers."""
    engine, _ = schema_engine
    raw.apply_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE likes_daily (day date NOT NULL, article_id varchar(32) NOT NULL,"
            " likes bigint NOT NULL CHECK (likes > 0), PRIMARY KEY (day, article_id))"
        )
        conn.exec_driver_sql(
            "CREATE INDEX likes_daily_top_idx ON likes_daily (day, likes DESC, article_id)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE active_days (user_id varchar(32), day date, PRIMARY KEY (user_id, day))"
        )
        conn.exec_driver_sql(
            "CREATE TABLE first_installs (user_id varchar(32) PRIMARY KEY, day date NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE INDEX first_installs_day_idx ON first_installs (day, user_id)"
        )
        conn.exec_driver_sql("INSERT INTO likes_daily VALUES ('2017-04-01', 'stale', 5)")
    raw.load_test_data(engine)
    rollups.install_rollups(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT to_regclass('active_days')").scalar() is None
        assert conn.exec_driver_sql("SELECT to_regclass('likes_daily_top_idx')").scalar() is None
        # the backfill gives every user the earliest day after the install day with an event
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM first_installs AS f WHERE next_day IS DISTINCT FROM ("
                " SELECT min(CAST(e.time AS date)) FROM clickstream AS e"
                " WHERE e.userId = f.user_id AND CAST(e.time AS date) > f.day)"
            ).scalar()
            == 0
        )
        assert conn.exec_driver_sql(
            "SELECT reloptions FROM pg_class WHERE oid = to_regclass('likes_daily')"
        ).scalar() == ["fillfactor=70"]
    assert rollups.top_liked_articles(engine)[["id", "likes"]].values.tolist() == [
        ["111111", 2],
        ["222222", 1],
        ["333333", 1],
    ]
    assert rollups.install_retention(engine).iloc[0].to_dict() == {
        "installed_users": 5,
        "retained_users": 4,
    }


def test_a_witness_of_return_past_the_window_is_checked_against_the_events(engine):
    """A user's witness of return is a day with an event after the install, not always the
    earliest: a late event before it still counts in a shorter window, and an install moved
    earlier keeps a witness (its former install day) while the events decide the rest."""

    def write(*rows):
        with engine.begin() as conn:
            for user, at, action in rows:
                conn.execute(
                    sa.text("INSERT INTO clickstream VALUES (:u, :t, CAST(:a AS actions), NULL)"),
                    {"u": user, "t": at, "a": action},
                )

    write(("late", datetime(2017, 4, 1, 9), "FIRST_INSTALL"))
    write(("late", datetime(2017, 4, 6, 9), "LOG_IN"))  # the witness: 2017-04-06
    write(("moved", datetime(2017, 4, 3, 9), "FIRST_INSTALL"))
    assert rollups.install_retention(engine, DAY, 1).iloc[0].tolist() == [1, 0]
    assert rollups.install_retention(engine, DAY, 5).iloc[0].tolist() == [1, 1]
    write(("late", datetime(2017, 4, 2, 23), "LOG_IN"))  # late, before the witness
    write(("moved", datetime(2017, 4, 1, 8), "FIRST_INSTALL"))  # now installed on DAY
    with engine.connect() as conn:
        witnesses = dict(
            conn.exec_driver_sql("SELECT user_id, next_day FROM first_installs").all()
        )
    assert witnesses == {"late": date(2017, 4, 6), "moved": date(2017, 4, 3)}
    assert rollups.install_retention(engine, DAY, 1).iloc[0].tolist() == [2, 1]
    assert rollups.install_retention(engine, DAY, 2).iloc[0].tolist() == [2, 2]
    assert_rollups_equal_raw(engine, {DAY, date(2017, 4, 2), date(2017, 4, 3)})
