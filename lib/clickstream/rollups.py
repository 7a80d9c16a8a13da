"""Q2 from its rollups: likes per day and article and each user's first install day, kept exact
by triggers on clickstream (``sql/clickstream/rollups.sql``).

The answers here equal those of ``lib.clickstream.queries`` (the raw queries, kept as the
reference) on the same data; they read the rollups (and, for a user's activity the rollup does
not prove, one probe of clickstream's primary key) instead of scanning the events, so they take
a few index probes at any clickstream size.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from lib.clickstream import queries
from lib.clickstream.queries import DEFAULT_DAY, _positive, _sql, parse_day
from lib.db import execute_file, query

ROLLUP_TABLES = ("likes_daily", "first_installs")


def install_rollups(engine: Engine) -> None:
    """Create the rollup tables and the triggers that keep them in step, and fill them from the
    events already there (idempotent: applied again, it rebuilds them from the events)."""
    with engine.begin() as conn:
        execute_file(conn, _sql("rollups"))


def rebuild_rollups(engine: Engine) -> None:
    """Recompute the rollups from the events (writers wait meanwhile): after a correction."""
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT rebuild_clickstream_rollups()")


def top_liked_articles(
    engine: Engine, day: str | date = DEFAULT_DAY, top_n: int = 10
) -> pd.DataFrame:
    """``queries.top_liked_articles`` from likes_daily: columns ``title, id, likes``."""
    params = {"day": parse_day(day).isoformat(), "top_n": _positive("top_n", top_n)}
    with engine.connect() as conn:
        return query(conn, _sql("top_liked_articles_rollup"), **params)


def install_retention(
    engine: Engine, day: str | date = DEFAULT_DAY, window_days: int = 7
) -> pd.DataFrame:
    """``queries.install_retention`` from first_installs (each user's witness of return) and,
    for a user whose witness is not in the window, one probe of clickstream's primary key: one
    row, ``installed_users, retained_users``."""
    params = {
        "day": parse_day(day).isoformat(),
        "window_days": _positive("window_days", window_days),
    }
    with engine.connect() as conn:
        return query(conn, _sql("install_retention_rollup"), **params)


def installed(engine: Engine) -> bool:
    """Whether the engine's schema holds the rollups and the trigger that keeps them."""
    with engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT to_regclass('likes_daily') IS NOT NULL"
                " AND to_regclass('first_installs') IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM pg_trigger"
                " WHERE tgname = 'clickstream_rollups_add'"
                " AND tgrelid = to_regclass('clickstream'))"
            ).scalar()
        )


def explain(engine: Engine, name: str, **params) -> str:
    """The ``EXPLAIN (ANALYZE, BUFFERS)`` plan of ``sql/clickstream/NAME.sql``, or one line
    saying that this schema has no rollups to answer from."""
    if not installed(engine):
        return "no rollups in this schema: apply sql/clickstream/rollups.sql there to have them"
    return queries.explain(engine, name, **params)
