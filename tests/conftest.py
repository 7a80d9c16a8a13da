"""Shared fixtures: the real NASA slice from ../shared/data when it is there, and a PostgreSQL
database of the test session's own."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from lib.config import database_url as configured_database_url
from lib.db import connect, normalize_url

ROOT = Path(__file__).resolve().parent.parent
NASA_SLICE = ROOT.parent / "shared" / "data" / "nasa_aug95_head.log"
# Markers every test in a folder carries (pyproject.toml says what each means); a test whose needs
# differ from its folder's is marked in its module, as tests/notebooks/test_q2_notebook.py is. What
# a test starts itself from .venv (an HTTP server in a thread, the Q1 notebook's Dask LocalCluster)
# is no service: outside tests/integration, only PostgreSQL, RabbitMQ or Chromium make a test
# integration.
FOLDER_MARKERS = {
    ROOT / "tests" / "integration": "integration",
    ROOT / "tests" / "notebooks": "notebook",
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's markers."""
    for item in items:
        for folder, marker in FOLDER_MARKERS.items():
            if item.path.is_relative_to(folder):
                item.add_marker(marker)


@pytest.fixture
def nasa_slice() -> Path:
    """The first 1,881 lines of the real August 1995 log (1,880 requests, 1 truncated line)."""
    if not NASA_SLICE.exists():
        pytest.skip(f"the real NASA slice is not present at {NASA_SLICE}")
    return NASA_SLICE


def _admin_dsn(url: str) -> dict:
    parsed = make_url(normalize_url(url))
    return {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "dbname": parsed.database or "postgres",
    }


@pytest.fixture(scope="session")
def database_url() -> str:
    """A fresh database (``rp_test_<random>``) on the configured server, dropped at the end."""
    base = configured_database_url(os.environ)
    name = f"rp_test_{uuid.uuid4().hex[:10]}"
    admin_statement(base, f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(base)).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        admin_statement(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_statement(url: str, statement: str) -> None:
    """Run one statement outside a transaction on a connection of its own (a test may have
    restarted the server since the last one)."""
    admin = psycopg2.connect(**_admin_dsn(url))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(statement)
    finally:
        admin.close()


@pytest.fixture
def schema_engine(database_url):
    """``(engine, schema)``: the engine's search_path starts with a schema of this test's own,
    dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = connect(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    scoped = connect(database_url, schema=schema)
    yield scoped, schema
    scoped.dispose()
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


def psql_env(database_url: str, schema: str) -> dict:
    """Environment for running psql against the test database with the test's schema first."""
    dsn = _admin_dsn(database_url)
    return {
        **os.environ,
        "PGHOST": str(dsn["host"]),
        "PGPORT": str(dsn["port"]),
        "PGUSER": dsn["user"],
        "PGDATABASE": dsn["dbname"],
        "PGOPTIONS": f"-c search_path={schema},public",
        **({"PGPASSWORD": dsn["password"]} if dsn["password"] else {}),
    }


def pytest_terminal_summary(terminalreporter):
    """The vote pipeline's fault scenarios, every vote accounted for end to end."""
    from tests.integration.votes.vote_system import LEDGERS

    if not LEDGERS:
        return
    columns = ["sent", "accepted", "refused", "counted", "duplicates", "lost", "unclaimed_counted"]
    columns += ["poison", "dead_lettered"]  # only where poison was published among the votes
    columns += ["answers_503", "seconds_503", "first_to_last_503"]  # where 503s were timed
    columns += ["replayed_lost_votes"]  # where the votes queue was deleted under load
    width = max(len(scenario) for scenario, _ in LEDGERS) + 2
    terminalreporter.section("vote pipeline under faults")
    terminalreporter.write_line(
        f"{'scenario':{width}}" + "".join(f"{c:>{len(c) + 2}}" for c in columns)
    )
    for scenario, ledger in LEDGERS:
        terminalreporter.write_line(
            f"{scenario:{width}}" + "".join(f"{ledger.get(c, '-'):>{len(c) + 2}}" for c in columns)
        )
