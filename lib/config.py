"""Settings from the environment: the helpers every capability's settings use, and where the
project's own files are.

Each capability reads its settings once, at its edge (a ``main()``, a notebook's first cell), into
a small frozen object (``lib.logs.settings``, ``lib.clickstream.settings``,
``lib.votes.settings``) and passes it down; nothing else reads the environment. Every setting has
a default, so a fresh clone works with no environment at all; ``.env.example`` lists them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from lib.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def environment(env: Mapping[str, str] | None = None, **overrides: object) -> Mapping[str, str]:
    """``env`` (default ``os.environ``) with ``overrides`` put in under their variables' names
    (``dns_cache`` -> ``DNS_CACHE``), so a parameter given at the edge is read, checked and
    defaulted like the variable it stands for. An override of None or "" (a notebook parameter
    left empty) leaves the variable alone."""
    env = os.environ if env is None else env
    given = {
        name.upper(): str(value) for name, value in overrides.items() if value not in (None, "")
    }
    return {**env, **given} if given else env


def number(
    env: Mapping[str, str], name: str, default: str, kind: type, zero_ok: bool = False
) -> int | float:
    """``env[name]`` (or ``default``) as a positive, finite ``kind``; 0 too with ``zero_ok``.
    Raises ConfigError naming the variable (``nan`` and ``inf`` too: an interval of ``inf``
    never comes round, and ``nan`` compares false with every bound)."""
    wanted = f"{'a non-negative' if zero_ok else 'a positive'} {kind.__name__}"
    try:
        value = kind(env.get(name, default))
    except ValueError:
        raise ConfigError(f"{name} must be {wanted}, got {env[name]!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{name} must be {wanted}, got {value}")
    return value


def data_dir(env: Mapping[str, str]) -> Path:
    """``DATA_DIR`` (``data``): downloaded and generated inputs, and the caches under it."""
    return Path(env.get("DATA_DIR", "data"))


def database_url(env: Mapping[str, str]) -> str:
    """``DATABASE_URL``: the PostgreSQL server Q2 and Q3 use (default: this machine's)."""
    return env.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def project_path(path: str | Path) -> Path:
    """An absolute path; a relative one is taken from the repository root, so notebooks give the
    same answer whether run by papermill from the root or opened in JupyterLab from notebooks/."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
