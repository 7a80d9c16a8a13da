"""Q3's settings, read once at the edge (the kiosk's and the worker's ``main()``) and passed down.

- ``DATABASE_URL`` (``postgresql+psycopg2://postgres@127.0.0.1:5432/test``): where votes are
  stored (the worker and the results writer; kiosks never touch it);
- ``AMQP_URL`` (``amqp://guest:guest@127.0.0.1:5672/%2F``): the broker;
- ``VOTES_QUEUE`` (``votes``): the durable queue kiosks publish to (``<name>.dead`` holds rejects);
- ``CACHE_DIR`` (``$DATA_DIR/cache/results``): where the worker writes results for kiosks;
- ``CANDIDATES`` (``1=薯片 chips,2=林林 lam lam,3=正氣 justice``): ``id=name``, comma-separated;
- ``BATCH_SIZE`` (``200``) and ``BATCH_MS`` (``100``): the worker stores a batch at this many
  votes or after this many milliseconds, whichever comes first;
- ``RESULTS_INTERVAL`` (``2``): seconds between the worker's results refreshes;
- ``CHART_INTERVAL`` (``10``): charts are redrawn at most this often (and only when changed);
- ``KIOSK_TOKEN`` (none): bearer token ``POST /votes`` requires; mandatory off loopback;
- ``RATE_LIMIT`` (``50``): votes a second one kiosk server process accepts from one client on
  average (bursts of twice that), 0 for none; far above human voting, far below a flood;
- ``KIOSK_HOSTS`` (none: the loopback names and the address the kiosk listens on): the host
  names (``name`` or ``name:port``, comma-separated) ``POST /votes`` may be sent to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lib.config import data_dir, database_url, environment, number
from lib.errors import ConfigError
from lib.votes.http_rules import parse_hosts
from lib.votes.message import Candidate, parse_candidates

DEFAULT_CANDIDATES = "1=薯片 chips,2=林林 lam lam,3=正氣 justice"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@dataclass(frozen=True)
class VoteSettings:
    database_url: str
    amqp_url: str
    votes_queue: str
    cache_dir: Path
    candidates: dict[str, Candidate]  # in the order given
    batch_size: int
    batch_ms: int
    results_interval: float
    chart_interval: float
    kiosk_token: str | None
    rate_limit: float
    kiosk_hosts: tuple[str, ...]  # empty: the loopback names and the listening address


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> VoteSettings:
    """The settings from ``env`` (default ``os.environ``), with ``overrides`` (``votes_queue=...``;
    None or "": not overridden) taking the place of their variables. Raises ConfigError."""
    env = environment(env, **overrides)
    queue = env.get("VOTES_QUEUE", "votes")
    if not _QUEUE_NAME.match(queue):
        raise ConfigError(f"VOTES_QUEUE must be 1-200 of A-Za-z0-9._-, got {queue!r}")
    return VoteSettings(
        database_url=database_url(env),
        amqp_url=env.get("AMQP_URL") or DEFAULT_AMQP_URL,
        votes_queue=queue,
        cache_dir=Path(env.get("CACHE_DIR") or data_dir(env) / "cache" / "results"),
        candidates=parse_candidates(env.get("CANDIDATES", DEFAULT_CANDIDATES)),
        batch_size=number(env, "BATCH_SIZE", "200", int),
        batch_ms=number(env, "BATCH_MS", "100", int),
        results_interval=number(env, "RESULTS_INTERVAL", "2", float),
        chart_interval=number(env, "CHART_INTERVAL", "10", float),
        kiosk_token=env.get("KIOSK_TOKEN") or None,
        rate_limit=number(env, "RATE_LIMIT", "50", float, zero_ok=True),
        kiosk_hosts=parse_hosts(env.get("KIOSK_HOSTS", "")),
    )
