"""Configuration read once from the environment into a frozen dataclass.

Every setting has a sane default so that a fresh clone works with no environment at all.

- ``DATA_DIR`` (``data``): downloaded and generated inputs;
- ``DNS_CACHE`` (``$DATA_DIR/cache/dns.json``): DNS answers kept between runs;
- ``GEO_CACHE`` (``$DATA_DIR/cache/geo``): the IP database's table, read once from its package;
- ``NASA_LOG_URLS`` (the archive's ftp URL): download sources, space-separated;
- ``DOWNLOAD_TIMEOUT`` (``20``): seconds per connection attempt;
- ``DATABASE_URL`` (``postgresql+psycopg2://postgres@127.0.0.1:5432/test``);
- ``AMQP_URL`` (``amqp://guest:guest@127.0.0.1:5672/%2F``);
- ``VOTES_QUEUE`` (``votes``): the durable queue kiosks publish to (``<name>.dead`` holds rejects);
- ``CACHE_DIR`` (``$DATA_DIR/cache/results``): where the worker writes results for kiosks;
- ``CANDIDATES`` (``1=薯片 chips,2=林林 lam lam,3=正氣 justice``): ``id=name``, comma-separated;
- ``BATCH_SIZE`` (``200``) and ``BATCH_MS`` (``100``): the worker flushes at this many votes or
  after this many milliseconds, whichever comes first;
- ``RESULTS_INTERVAL`` (``2``): seconds between the worker's results refreshes;
- ``KIOSK_TOKEN`` (none): bearer token ``POST /votes`` requires; mandatory off loopback;
- ``RATE_LIMIT`` (``50``): votes a second one kiosk server process accepts on average (bursts of
  twice that), 0 for none; far above human voting, far below a flood;
- ``CHART_INTERVAL`` (``10``): charts are redrawn at most this often (and only when changed);
- ``DASK_SCHEDULER_ADDRESS`` (none): the Dask scheduler Q1's ``dask`` engine uses (e.g.
  ``tcp://10.0.0.5:8786``); without it, that engine starts a LocalCluster sized to the machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.errors import ConfigError

DEFAULT_CANDIDATES = "1=薯片 chips,2=林林 lam lam,3=正氣 justice"
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
NASA_AUG95_URLS = ("ftp://ita.ee.lbl.gov/traces/NASA_access_log_Aug95.gz",)


@dataclass(frozen=True)
class Config:
    data_dir: Path
    dns_cache: Path
    geo_cache: Path
    nasa_log_urls: tuple[str, ...]
    download_timeout: float
    database_url: str
    amqp_url: str
    votes_queue: str
    cache_dir: Path
    candidates: str
    batch_size: int
    batch_ms: int
    results_interval: float
    chart_interval: float
    kiosk_token: str | None
    rate_limit: float


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read the settings from ``env`` (default ``os.environ``); raise ConfigError if malformed."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("DATA_DIR", "data"))
    urls = tuple(env.get("NASA_LOG_URLS", " ".join(NASA_AUG95_URLS)).split())
    queue = env.get("VOTES_QUEUE", "votes")
    if not _QUEUE_NAME.match(queue):
        raise ConfigError(f"VOTES_QUEUE must be 1-200 of A-Za-z0-9._-, got {queue!r}")
    return Config(
        data_dir=data_dir,
        dns_cache=Path(env.get("DNS_CACHE", str(data_dir / "cache" / "dns.json"))),
        geo_cache=Path(env.get("GEO_CACHE", str(data_dir / "cache" / "geo"))),
        nasa_log_urls=urls,
        download_timeout=_number(env, "DOWNLOAD_TIMEOUT", "20", float),
        database_url=env.get("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
        amqp_url=env.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
        votes_queue=queue,
        cache_dir=Path(env.get("CACHE_DIR", str(data_dir / "cache" / "results"))),
        candidates=env.get("CANDIDATES", DEFAULT_CANDIDATES),
        batch_size=_number(env, "BATCH_SIZE", "200", int),
        batch_ms=_number(env, "BATCH_MS", "100", int),
        results_interval=_number(env, "RESULTS_INTERVAL", "2", float),
        chart_interval=_number(env, "CHART_INTERVAL", "10", float),
        kiosk_token=env.get("KIOSK_TOKEN") or None,
        rate_limit=_number(env, "RATE_LIMIT", "50", float, zero_ok=True),
    )


def dask_scheduler_address(env: Mapping[str, str] | None = None) -> str | None:
    """``DASK_SCHEDULER_ADDRESS`` alone (Q1 needs no other setting, so it checks no other)."""
    env = os.environ if env is None else env
    return env.get("DASK_SCHEDULER_ADDRESS") or None


def _number(
    env: Mapping[str, str], name: str, default: str, kind: type, zero_ok: bool = False
) -> int | float:
    """``env[name]`` (or ``default``) as a positive ``kind``; 0 too with ``zero_ok``."""
    wanted = f"{'a non-negative' if zero_ok else 'a positive'} {kind.__name__}"
    try:
        value = kind(env.get(name, default))
    except ValueError:
        raise ConfigError(f"{name} must be {wanted}, got {env[name]!r}") from None
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{name} must be {wanted}, got {value}")
    return value


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_path(path: str | Path) -> Path:
    """An absolute path; a relative one is taken from the repository root, so notebooks give the
    same answer whether run by papermill from the root or opened in JupyterLab from notebooks/."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
