"""Configuration read once from the environment into a frozen dataclass.

Every setting has a sane default so that a fresh clone works with no environment at all.

- ``DATA_DIR`` (``data``): downloaded and generated inputs;
- ``DNS_CACHE`` (``$DATA_DIR/cache/dns.json``): DNS answers kept between runs;
- ``NASA_LOG_URLS`` (the archive's ftp URL): download sources, space-separated;
- ``DOWNLOAD_TIMEOUT`` (``20``): seconds per connection attempt;
- ``DATABASE_URL`` (``postgresql+psycopg2://postgres@127.0.0.1:5432/test``);
- ``AMQP_URL`` (``amqp://guest:guest@127.0.0.1:5672/%2F``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.errors import ConfigError

NASA_AUG95_URLS = ("ftp://ita.ee.lbl.gov/traces/NASA_access_log_Aug95.gz",)


@dataclass(frozen=True)
class Config:
    data_dir: Path
    dns_cache: Path
    nasa_log_urls: tuple[str, ...]
    download_timeout: float
    database_url: str
    amqp_url: str


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read the settings from ``env`` (default ``os.environ``); raise ConfigError if malformed."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("DATA_DIR", "data"))
    urls = tuple(env.get("NASA_LOG_URLS", " ".join(NASA_AUG95_URLS)).split())
    try:
        timeout = float(env.get("DOWNLOAD_TIMEOUT", "20"))
    except ValueError as exc:
        raise ConfigError(f"DOWNLOAD_TIMEOUT must be a number of seconds: {exc}") from None
    return Config(
        data_dir=data_dir,
        dns_cache=Path(env.get("DNS_CACHE", str(data_dir / "cache" / "dns.json"))),
        nasa_log_urls=urls,
        download_timeout=timeout,
        database_url=env.get("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
        amqp_url=env.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
    )


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_path(path: str | Path) -> Path:
    """An absolute path; a relative one is taken from the repository root, so notebooks give the
    same answer whether run by papermill from the root or opened in JupyterLab from notebooks/."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
