"""Q2 against the real PostgreSQL: schema, both answers, boundaries, psql and lib agreeing."""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.clickstream import queries as clickstream
from lib.db import connect
from lib.errors import ConfigError, DatabaseError
from tests.conftest import psql_env

ROOT = Path(__file__).resolve().parents[3]
DAY = date(2017, 4, 1)


def insert(engine, articles, events):
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO articles (id, title, created_by) VALUES (:id, :title, :t)"),
            [{"id": a, "title": f"title {a}", "t": datetime(2017, 1, 1)} for a in articles],
        )
        conn.execute(
            sa.text(
                "INSERT INTO clickstream (userId, time, action, objectId) "
                "VALUES (:u, :t, CAST(:a AS actions), :o)"
            ),
            [{"u": u, "t": t, "a": a, "o": o} for u, t, a, o in events],
        )


def oracle(events, day=DAY, window_days=7, top_n=10):
    """The two answers computed in Python from the rows, independently of the SQL."""
    start, end = datetime.combine(day, datetime.min.time()), None
    end = start + timedelta(days=1)
    likes = Counter(o for _, t, a, o in events if a == "LIKE_ARTICLE" and start <= t < end and o)
    top = sorted(likes.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    first_install = {}
    for u, t, a, _ in events:
        if a == "FIRST_INSTALL":
            first_install[u] = min(t, first_install.get(u, t))
    installed = {u for u, t in first_install.items() if start <= t < end}
    lo, hi = end, end + timedelta(days=window_days)
    retained = {u for u, t, _, _ in events if u in installed and lo <= t < hi}
    return top, len(installed), len(retained)


def adversarial():
    """Data built to catch each known mistake: ties, duplicates, day edges, busy users."""
    d = datetime(2017, 4, 1)
    ev = []
    # likes on the day, with a tie at 3 (ids 'b' and 'c' — order by id), and likes just outside
    for i, (art, n) in enumerate([("a", 5), ("c", 3), ("b", 3), ("d", 1)]):
        ev += [
            (f"liker{i}-{k}", d + timedelta(hours=1 + k), "LIKE_ARTICLE", art) for k in range(n)
        ]
    ev.append(
        ("edge1", d - timedelta(microseconds=500_000), "LIKE_ARTICLE", "d")
    )  # 03-31 23:59:59.5
    ev.append(("edge2", d + timedelta(days=1), "LIKE_ARTICLE", "d"))  # 04-02 00:00:00
    ev.append(("edge3", d + timedelta(days=1) - timedelta(microseconds=1), "LIKE_ARTICLE", "b"))
    # installs on the day and their returns
    ev += [("busy", d + timedelta(hours=2), "FIRST_INSTALL", None)]
    ev += [("busy", d + timedelta(days=2, minutes=k), "LOG_IN", None) for k in range(30)]
    ev += [("last-instant", d + timedelta(hours=3), "FIRST_INSTALL", None)]
    ev += [
        ("last-instant", d + timedelta(days=8) - timedelta(microseconds=500_000), "LOG_IN", None)
    ]
    ev += [("too-late", d + timedelta(hours=4), "FIRST_INSTALL", None)]
    ev += [("too-late", d + timedelta(days=8), "LOG_IN", None)]
    ev += [("same-day-only", d + timedelta(hours=5), "FIRST_INSTALL", None)]
    ev += [("same-day-only", d + timedelta(hours=23, minutes=59), "LOG_IN", None)]
    ev += [
        ("midnight", d, "FIRST_INSTALL", None),
        ("midnight", d + timedelta(days=1), "LOG_IN", None),
    ]
    # installs on other days, and a user whose real first install was earlier
    ev += [("yesterday", d - timedelta(seconds=1), "FIRST_INSTALL", None)]
    ev += [("yesterday", d + timedelta(days=1, hours=1), "LOG_IN", None)]
    ev += [("tomorrow", d + timedelta(days=1), "FIRST_INSTALL", None)]
    ev += [("tomorrow", d + timedelta(days=2), "LOG_IN", None)]
    ev += [("reinstall", d - timedelta(days=3), "FIRST_INSTALL", None)]
    ev += [("reinstall", d + timedelta(hours=6), "FIRST_INSTALL", None)]
    ev += [("reinstall", d + timedelta(days=3), "LOG_IN", None)]
    return ["a", "b", "c", "d"], ev


def psql(database_url, schema, file, **variables):
    args = ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"]
    for key, value in variables.items():
        args += ["-v", f"{key}={value}"]
    done = subprocess.run(
        [*args, "-f", str(ROOT / "sql" / "clickstream" / file)],
        env=psql_env(database_url, schema),
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("|") for line in done.stdout.splitlines() if line]


def test_schema_applies_twice(schema_engine):
    engine, _ = schema_engine
    clickstream.apply_schema(engine)
    clickstream.apply_schema(engine)
    with engine.connect() as conn:
        indexes = (
            conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'clickstream'")
            )
            .scalars()
            .all()
        )
    assert "clickstream_action_time_idx" in indexes


def test_original_test_data(schema_engine):
    engine, _ = schema_engine
    clickstream.apply_schema(engine)
    clickstream.load_test_data(engine)
    clickstream.load_test_data(engine)  # idempotent
    top = clickstream.top_liked_articles(engine)
    assert top.iloc[0].to_dict() == {"title": "Rocket launch", "id": "111111", "likes": 2}
    assert top["id"].tolist() == ["111111", "222222", "333333"]
    retention = clickstream.install_retention(engine).iloc[0].to_dict()
    assert retention == {"installed_users": 5, "retained_users": 4}


def test_adversarial_data_matches_the_oracle(schema_engine):
    engine, _ = schema_engine
    clickstream.apply_schema(engine)
    articles, events = adversarial()
    insert(engine, articles, events)
    expected_top, installed, retained = oracle(events)
    top = clickstream.top_liked_articles(engine, DAY, 10)
    assert list(zip(top["id"], top["likes"], strict=True)) == expected_top
    assert expected_top[:3] == [("a", 5), ("b", 4), ("c", 3)]  # b: 3 + the 23:59:59.999999 like
    got = clickstream.install_retention(engine, DAY, 7).iloc[0].to_dict()
    assert got == {"installed_users": installed, "retained_users": retained}
    assert (installed, retained) == (5, 3)  # busy counted once; too-late and same-day-only out
    assert clickstream.top_liked_articles(engine, DAY, 2)["id"].tolist() == ["a", "b"]


def test_other_days_and_windows(schema_engine):
    engine, _ = schema_engine
    clickstream.apply_schema(engine)
    articles, events = adversarial()
    insert(engine, articles, events)
    for day, window in [(date(2017, 3, 31), 7), (date(2017, 4, 2), 1), (DAY, 1), (DAY, 30)]:
        _, installed, retained = oracle(events, day, window)
        got = clickstream.install_retention(engine, day, window).iloc[0].to_dict()
        assert got == {"installed_users": installed, "retained_users": retained}, (day, window)


def test_psql_and_lib_give_the_same_answers(schema_engine, database_url):
    engine, schema = schema_engine
    clickstream.apply_schema(engine)
    articles, events = adversarial()
    insert(engine, articles, events)
    rows = psql(database_url, schema, "top_liked_articles.sql", day="2017-04-01", top_n=3)
    lib_top = clickstream.top_liked_articles(engine, DAY, 3)
    assert [(r[1], int(r[2])) for r in rows] == list(
        zip(lib_top["id"], lib_top["likes"], strict=True)
    )
    rows = psql(database_url, schema, "install_retention.sql", day="2017-04-01", window_days=7)
    lib = clickstream.install_retention(engine, DAY, 7).iloc[0]
    assert [int(x) for x in rows[0]] == [lib["installed_users"], lib["retained_users"]]
    # psql's defaults are the documented ones
    assert psql(database_url, schema, "install_retention.sql") == rows


def test_cohorts_agree_with_the_single_day_answer(schema_engine):
    engine, _ = schema_engine
    clickstream.apply_schema(engine)
    clickstream.load_test_data(engine)
    cohorts = clickstream.retention_cohorts(engine, "2017-03-31", "2017-04-02", 7)
    day = cohorts[cohorts["install_day"] == DAY]
    assert day["installed_users"].iloc[0] == 5
    assert day["day_offset"].tolist() == list(range(1, 8))
    assert day["active_users"].tolist() == [1, 1, 0, 1, 0, 0, 1]


def test_clear_errors():
    with pytest.raises(ConfigError, match="date like 2017-04-01"):
        clickstream.parse_day("April fools")
    with pytest.raises(ConfigError, match="not a database URL|unusable database URL"):
        connect("this is not a URL")
    with pytest.raises(DatabaseError, match="cannot connect to .*:1/"):
        connect("postgresql://postgres@127.0.0.1:1/none")


def test_missing_schema_is_a_one_line_error(schema_engine):
    engine, _ = schema_engine
    with pytest.raises(DatabaseError) as info:
        clickstream.top_liked_articles(engine)
    assert 'relation "clickstream" does not exist' in str(info.value)
    assert "\n" not in str(info.value)
