"""The options of a Q1 run a command checks before the rest of Q1 (and polars) is loaded: the
engines and which one ``auto`` takes, and ``auto`` as a log format."""

from __future__ import annotations

from lib.errors import ConfigError

ENGINES = ("auto", "local", "dask")
AUTO = "auto"  # the log format: detected per file


def choose_engine(engine: str, scheduler: str | None) -> str:
    """Resolve ``auto`` to ``local`` or ``dask``; raise ConfigError for an unknown engine."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    return "dask" if scheduler else "local"
