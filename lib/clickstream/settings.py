"""Q2's settings, read once at the edge (the notebook's first cell, a ``main()``).

- ``DATABASE_URL`` (``postgresql+psycopg2://postgres@127.0.0.1:5432/test``): the PostgreSQL
  server holding (or receiving) the clickstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lib.config import database_url, environment


@dataclass(frozen=True)
class ClickstreamSettings:
    database_url: str


def load_settings(
    env: Mapping[str, str] | None = None, **overrides: object
) -> ClickstreamSettings:
    """The settings from ``env`` (default ``os.environ``), with ``overrides``
    (``database_url=...``; None or "": not overridden) taking the place of their variables."""
    return ClickstreamSettings(database_url=database_url(environment(env, **overrides)))
