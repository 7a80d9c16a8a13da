"""Q2: the clickstream schema, its test data, and the two answers, each from its file in
``sql/clickstream/``.

Every function takes an Engine (see ``lib.db.connect``, which also pins the schema the data
lives in) and returns a DataFrame; SQL text lives only in ``sql/clickstream/``.
"""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from lib.db import connect, create_schema, execute_file, query
from lib.errors import ConfigError, DatabaseError

logger = logging.getLogger(__name__)

DEFAULT_DAY = "2017-04-01"


def _sql(name: str) -> str:
    """The name ``lib.db`` knows Q2's ``sql/clickstream/NAME.sql`` by."""
    return f"clickstream/{name}"


def parse_day(day: str | date) -> date:
    """A calendar day from ``YYYY-MM-DD`` (or a date); ConfigError if it is not one."""
    if isinstance(day, date):
        return day
    try:
        return date.fromisoformat(str(day))
    except ValueError:
        raise ConfigError(f"day must be a date like 2017-04-01, got {day!r}") from None


def _positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


def prepare_database(url: str, schema: str, with_test_data: bool) -> Engine:
    """An engine on ``url`` that works in ``schema``. With ``with_test_data`` it first creates
    the schema if needed, applies sql/schema.sql, inserts the test data there and keeps the
    rollups beside it (sql/clickstream/rollups.sql; idempotent; nothing is deleted). Without it,
    the schema must already hold the tables."""
    if with_test_data:
        create_schema(url, schema)
    engine = connect(url, schema=schema)
    if with_test_data:
        apply_schema(engine)
        load_test_data(engine)
        with engine.begin() as conn:  # lib.clickstream.rollups answers from these
            execute_file(conn, _sql("rollups"))
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT to_regclass('clickstream') IS NOT NULL AND to_regclass('articles') IS NOT NULL"
        ).scalar()
    if not found:
        raise DatabaseError(
            f"schema {schema} has no articles/clickstream tables: apply sql/schema.sql there, "
            "or load the test data"
        )
    return engine


def apply_schema(engine: Engine) -> None:
    """Create the type, tables and indexes if missing (idempotent)."""
    with engine.begin() as conn:
        execute_file(conn, _sql("schema"))


def load_test_data(engine: Engine) -> None:
    """Insert the small hand-checkable data set (idempotent; deletes nothing)."""
    with engine.begin() as conn:
        execute_file(conn, _sql("test_data"))


def generate_clickstream(
    engine: Engine,
    n_events: int = 10_000_000,
    n_users: int = 100_000,
    n_articles: int = 50_000,
    first_day: str | date = "2017-02-01",
    days: int = 90,
    seed: float = 0.42,
) -> None:
    """Append a synthetic clickstream (sql/generate_clickstream.sql): power-law article
    popularity, installs spread over ``days``, every event after its user's install."""
    params = {
        "n_events": _positive("n_events", n_events),
        "n_users": _positive("n_users", n_users),
        "n_articles": _positive("n_articles", n_articles),
        "first_day": parse_day(first_day).isoformat(),
        "days": _positive("days", days),
        "seed": float(seed),
    }
    if n_users > n_events:
        raise ConfigError(f"n_events ({n_events}) must be at least n_users ({n_users})")
    with engine.begin() as conn:
        execute_file(conn, _sql("generate_clickstream"), **params)


def top_liked_articles(engine: Engine, day: str | date = DEFAULT_DAY, top_n: int = 10):
    """Columns ``title, id, likes``: most ``LIKE_ARTICLE`` events on ``day``, ties by id."""
    params = {"day": parse_day(day).isoformat(), "top_n": _positive("top_n", top_n)}
    with engine.connect() as conn:
        return query(conn, _sql("top_liked_articles"), **params)


def install_retention(
    engine: Engine, day: str | date = DEFAULT_DAY, window_days: int = 7
) -> pd.DataFrame:
    """Columns ``installed_users, retained_users`` (one row): users who first installed on
    ``day`` and, of those, the ones with any event in the ``window_days`` days after it."""
    params = {
        "day": parse_day(day).isoformat(),
        "window_days": _positive("window_days", window_days),
    }
    with engine.connect() as conn:
        return query(conn, _sql("install_retention"), **params)


def retention_cohorts(
    engine: Engine, first_day: str | date, last_day: str | date, window_days: int = 7
) -> pd.DataFrame:
    """The question generalised: for each install day from ``first_day`` to ``last_day``, how
    many of that day's new users were active on each of the next ``window_days`` days.
    Columns ``install_day, installed_users, day_offset, active_users``."""
    first, last = parse_day(first_day), parse_day(last_day)
    if last < first:
        raise ConfigError(f"last_day {last} is before first_day {first}")
    params = {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "window_days": _positive("window_days", window_days),
    }
    with engine.connect() as conn:
        return query(conn, _sql("retention_cohorts"), **params)


def explain(engine: Engine, name: str, **params) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of ``sql/clickstream/NAME.sql`` with ``params``, as text."""
    with engine.connect() as conn:
        plan = query(conn, _sql(name), explain=True, **params)
    return "\n".join(plan.iloc[:, 0])


def results(
    params: dict, top: pd.DataFrame, retention: pd.DataFrame, cohorts: pd.DataFrame
) -> dict:
    """The machine-readable answers (``results.json``)."""
    row = retention.iloc[0]
    return {
        "parameters": params,
        "top_liked_articles": [
            {"title": r.title, "id": r.id, "likes": int(r.likes)} for r in top.itertuples()
        ],
        "install_retention": {
            "installed_users": int(row["installed_users"]),
            "retained_users": int(row["retained_users"]),
        },
        "cohorts": [
            {
                "install_day": str(r.install_day),
                "installed_users": int(r.installed_users),
                "day_offset": int(r.day_offset),
                "active_users": int(r.active_users),
            }
            for r in cohorts.itertuples()
        ],
    }
