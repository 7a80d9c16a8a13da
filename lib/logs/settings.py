"""Q1's settings, read once from the environment at the edge (the notebook's first cell, a
``main()``) and passed down.

- ``DATA_DIR`` (``data``): where the NASA log is kept or the synthetic one generated;
- ``DNS_CACHE`` (``$DATA_DIR/cache/dns.json``): DNS answers kept between runs;
- ``GEO_CACHE`` (``$DATA_DIR/cache/geo``): the IP databases as tables, read once from the package;
- ``NASA_LOG_URLS`` (the archive's ftp URL): download sources, space-separated;
- ``DOWNLOAD_TIMEOUT`` (``20``): seconds per connection attempt;
- ``DASK_SCHEDULER_ADDRESS`` (none): the Dask scheduler of the ``dask`` engine (e.g.
  ``tcp://10.0.0.5:8786``); without it, that engine starts a LocalCluster sized to the machine;
- ``Q1_HEAD_START`` (``1``): ``0`` keeps a command from reading its log while it is still loading
  (``lib.logs.engines.local``), e.g. to time the ordinary path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.config import data_dir, environment, number
from lib.errors import ConfigError

NASA_AUG95_URLS = ("ftp://ita.ee.lbl.gov/traces/NASA_access_log_Aug95.gz",)


@dataclass(frozen=True)
class LogSettings:
    data_dir: Path
    dns_cache: Path
    geo_cache: Path
    nasa_log_urls: tuple[str, ...]
    download_timeout: float
    dask_scheduler_address: str | None
    head_start: bool


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> LogSettings:
    """The settings from ``env`` (default ``os.environ``), with ``overrides`` (``dns_cache=...``;
    None or "": not overridden) taking the place of their variables. Raises ConfigError."""
    env = environment(env, **overrides)
    data = data_dir(env)
    return LogSettings(
        data_dir=data,
        dns_cache=Path(env.get("DNS_CACHE") or data / "cache" / "dns.json"),
        geo_cache=Path(env.get("GEO_CACHE") or data / "cache" / "geo"),
        nasa_log_urls=tuple(env.get("NASA_LOG_URLS", " ".join(NASA_AUG95_URLS)).split()),
        download_timeout=number(env, "DOWNLOAD_TIMEOUT", "20", float),
        dask_scheduler_address=env.get("DASK_SCHEDULER_ADDRESS") or None,
        head_start=_switch(env, "Q1_HEAD_START", "1"),
    )


def _switch(env: Mapping[str, str], name: str, default: str) -> bool:
    """A ``0``/``1`` setting; raise ConfigError for anything else."""
    value = env.get(name) or default
    if value not in ("0", "1"):
        raise ConfigError(f"{name} must be 0 or 1, got {value!r}")
    return value == "1"
