"""PostgreSQL access: engines with clear errors, and the ``.sql`` files under ``sql/`` run with
bound parameters.

Each query lives once, in ``sql/NAME.sql`` (``NAME`` is ``<capability>/<query>``, e.g.
``clickstream/top_liked_articles``), written for psql: psql variables (``:'day'``) with
defaults set by ``\\if``/``\\set`` lines. ``sql_text`` turns such a file into SQLAlchemy
``text()`` with named binds (``:day``) by dropping the psql meta-command lines and rewriting the
variable references; nothing is ever formatted into SQL from data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import cache

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from lib.config import PROJECT_ROOT
from lib.errors import ConfigError, DatabaseError

logger = logging.getLogger(__name__)

SQL_DIR = PROJECT_ROOT / "sql"
_PSQL_VARIABLE = re.compile(r""":'([A-Za-z_][A-Za-z0-9_]*)'""")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SETTING = re.compile(
    r"^[a-z_]+=[A-Za-z0-9_,.]+$"
)  # one word each: libpq's options split on spaces
# libpq's refusals of the connection options themselves (`?sslmode=bogus`, `?nosuch=1`)
_CONNINFO_ERROR = re.compile(
    r"^invalid (dsn: |\S+ value|connection option )"
    r"|invalid \S+ value \"[^\"]*\" for connection option"
)


def normalize_url(url: str) -> str:
    """Make ``postgresql://`` explicit about its driver (SQLAlchemy 2.1 would pick psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {url!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def connect(
    url: str, schema: str | None = None, session: Mapping[str, str] | None = None
) -> Engine:
    """An engine for ``url`` whose connections use ``schema`` first on their search_path and
    the server settings ``session`` (``{"lock_timeout": "5s"}``) from their start.

    Checks the server at once: raises DatabaseError with one readable line if it cannot be
    reached, ConfigError if the URL is malformed.
    """
    if schema is not None and not _IDENTIFIER.match(schema):
        raise ConfigError(f"schema must be a lower-case SQL identifier, got {schema!r}")
    try:
        settings = {**({"search_path": f"{schema},public"} if schema else {}), **(session or {})}
        if any(not _SETTING.match(f"{k}={v}") for k, v in settings.items()):
            raise ConfigError(f"session settings must be name=value words, got {settings!r}")
        given = " ".join(f"-c {name}={value}" for name, value in settings.items())
        options = {"options": given} if given else {}
        engine = sa.create_engine(normalize_url(url), connect_args=options, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(f"unusable database URL {safe_url(url)}: {reason}") from None
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        reason = first_line(exc)
        if _CONNINFO_ERROR.search(reason):  # the URL's options, not the server: waiting won't help
            raise ConfigError(f"unusable database URL {safe_url(url)}: {reason}") from None
        raise DatabaseError(f"cannot connect to {safe_url(url)}: {reason}") from None
    return engine


def create_schema(url: str, schema: str) -> None:
    """``CREATE SCHEMA IF NOT EXISTS`` (the name is checked to be a plain identifier)."""
    if not _IDENTIFIER.match(schema):
        raise ConfigError(f"schema must be a lower-case SQL identifier, got {schema!r}")
    engine = connect(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    except DBAPIError as exc:
        raise DatabaseError(f"cannot create schema {schema}: {first_line(exc)}") from None
    finally:
        engine.dispose()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only (no SQL, no traceback)."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


@cache
def read_sql_file(name: str) -> str:
    """The text of ``sql/NAME.sql``."""
    path = SQL_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"no SQL file {path}") from None


def bind_psql_source(source: str, explain: bool = False) -> sa.TextClause:
    """psql source as a SQLAlchemy text() clause: meta-command lines dropped, ``:'name'``
    variables turned into ``:name`` binds; optionally prefixed with EXPLAIN (ANALYZE, BUFFERS)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith("\\")]
    body = _PSQL_VARIABLE.sub(r":\1", "\n".join(lines)).strip().rstrip(";")
    return sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {body}" if explain else body)


def sql_text(name: str, explain: bool = False) -> sa.TextClause:
    """``sql/NAME.sql`` as a SQLAlchemy text() clause with named binds."""
    return bind_psql_source(read_sql_file(name), explain)


def query(conn: Connection, name: str, explain: bool = False, **params) -> pd.DataFrame:
    """Run ``sql/NAME.sql`` with bound ``params``; raise DatabaseError with a one-line reason.
    With ``explain`` the result is the query plan, one line a row."""
    try:
        result = conn.execute(sql_text(name, explain), params)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except DBAPIError as exc:
        raise DatabaseError(f"{name}.sql failed: {first_line(exc)}") from None


@cache
def _kept_text(name: str) -> sa.TextClause:
    return sql_text(name)


def query_rows(conn: Connection, name: str, **params) -> list[sa.Row]:
    """``query`` without the DataFrame, for a statement run many times a second (the vote
    worker's batches): its rows, the clause made once per file; the same DatabaseError."""
    try:
        return conn.execute(_kept_text(name), params).fetchall()
    except DBAPIError as exc:
        raise DatabaseError(f"{name}.sql failed: {first_line(exc)}") from None


def execute_file(conn: Connection, name: str, **params) -> None:
    """Run ``sql/NAME.sql`` (DDL, data; several statements) as one batch, with ``params`` bound
    when it takes any."""
    try:
        if params:
            conn.execute(sql_text(name), params)
        else:
            conn.exec_driver_sql(read_sql_file(name))
    except DBAPIError as exc:
        raise DatabaseError(f"{name}.sql failed: {first_line(exc)}") from None
