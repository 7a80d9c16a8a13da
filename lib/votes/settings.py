"""Q3's settings, read once at the edge (the kiosk's and the worker's ``main()``) and passed down.

- ``DATABASE_URL`` (``postgresql+psycopg2://postgres@127.0.0.1:5432/test``): where votes are
  stored (the worker and the results writer; kiosks never touch it);
- ``AMQP_URL`` (``amqp://guest:guest@127.0.0.1:5672/%2F``): the broker; for a cluster, the
  nodes' URLs comma-separated: a process connects to the first that answers and, on losing it,
  to the next (give each kiosk and worker the list starting at a different node to spread them);
- ``VOTES_QUEUE`` (``votes``): the durable queue kiosks publish to (``<name>.dead`` holds rejects);
- ``VOTES_QUEUE_TYPE`` (``quorum``): ``quorum`` (replicated to the cluster's nodes; a confirm
  means a majority has the vote) or ``classic`` (on one node); both queues get it, and a queue
  that exists with the other type stops the worker with one line;
- ``VOTES_QUEUE_MAX_LENGTH`` (``0``: no limit): votes the votes queue holds at most, 0 to
  1000000000; a full queue refuses more (``x-overflow: reject-publish``) and kiosks answer 503;
  set when the worker declares the queue (an existing queue keeps its own, with a warning);
- ``CACHE_DIR`` (``$DATA_DIR/cache/results``): where the worker writes results for kiosks;
- ``CANDIDATES`` (``1=薯片 chips,2=林林 lam lam,3=正氣 justice``): ``id=name``, comma-separated;
- ``BATCH_SIZE`` (``200``) and ``BATCH_MS`` (``100``): the worker stores a batch at this many
  votes or after this many milliseconds, whichever comes first;
- ``RESULTS_INTERVAL`` (``2``): seconds between the worker's results refreshes;
- ``CHART_INTERVAL`` (``10``): charts are redrawn at most this often (and only when changed);
- ``KIOSK_TOKEN`` (none): bearer token ``POST /votes`` requires; mandatory off loopback; at least
  16 visible ASCII characters (a shorter or blank one is refused at start);
- ``RATE_LIMIT`` (``50``): votes a second one kiosk server process accepts from one client on
  average (bursts of twice that), 0 for none; far above human voting, far below a flood;
- ``KIOSK_HOSTS`` (none: the loopback names and the address the kiosk listens on): the host
  names (``name`` or ``name:port``, comma-separated) ``POST /votes`` may be sent to;
- ``VOTE_CLOCK_SKEW`` (``300``): seconds a kiosk's clock may be off, 5 to 3600: a kiosk stamps
  votes by the results writer's clock (``lib.votes.clock``) and refuses them (503) when its own
  clock is off by more; the worker counts a vote stamped up to this much later than its clock
  (recorded at its clock) and dead-letters a later one;
- ``VOTES_OPEN_AT`` (none): when the vote opened, an ISO time with its zone
  (``2026-11-28T08:00:00+08:00``); a vote stamped earlier is dead-lettered;
- ``VOTES_TIME_ZONE`` (``UTC``): the kiosks' IANA time zone (``Asia/Hong_Kong``), in which the
  10-minute distribution is labelled (the database keeps UTC);
- ``CACHE_MAX_BYTES`` (``4194304``, 4 MiB): the largest ``results.json`` or chart a kiosk reads
  from ``CACHE_DIR``, 65536 (64 KiB) to 268435456 (256 MiB); a larger file is treated as
  corrupt, unread (the kiosk serves its last good copy), and the results writer warns when it
  writes one.
- ``METRICS`` (``1``): ``0`` turns off the metrics (``lib.votes.metrics``): kiosks answer
  ``/metrics`` 404 and the worker opens no listener;
- ``WORKER_METRICS_HOST`` (``127.0.0.1``) and ``WORKER_METRICS_PORT`` (``9464``; 0 to 65535, 0:
  one the system picks, which the worker logs): where the worker serves ``/metrics``.

``DATABASE_URL`` and each of ``AMQP_URL``'s URLs are checked here, so a malformed one stops a
program at start with one line, before it connects anywhere.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pika
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lib.config import data_dir, database_url, environment, number
from lib.errors import ConfigError
from lib.votes.cache import CACHE_MAX_BYTES, MAX_CACHE_MAX_BYTES, MIN_CACHE_MAX_BYTES
from lib.votes.http_rules import parse_hosts
from lib.votes.message import Candidate, parse_candidates

DEFAULT_CANDIDATES = "1=薯片 chips,2=林林 lam lam,3=正氣 justice"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
QUEUE_TYPES = ("quorum", "classic")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_TOKEN = re.compile(r"[!-~]{16,}")  # visible ASCII: what an Authorization header carries as is
MIN_CLOCK_SKEW, MAX_CLOCK_SKEW = 5.0, 3600.0
MAX_QUEUE_LENGTH = 1_000_000_000
DEFAULT_WORKER_METRICS_PORT = 9464
_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
DEFAULT_TIME_ZONE = UTC.tzname(None)  # the name UTC


@dataclass(frozen=True)
class VoteSettings:
    database_url: str
    amqp_urls: tuple[str, ...]  # one per node, in the order given
    votes_queue: str
    queue_type: str  # one of QUEUE_TYPES
    queue_max_length: int  # 0: no limit
    cache_dir: Path
    candidates: dict[str, Candidate]  # in the order given
    batch_size: int
    batch_ms: int
    results_interval: float
    chart_interval: float
    kiosk_token: str | None
    rate_limit: float
    kiosk_hosts: tuple[str, ...]  # empty: the loopback names and the listening address
    vote_clock_skew: timedelta
    votes_open_at: datetime | None  # UTC
    votes_time_zone: ZoneInfo
    cache_max_bytes: int  # CACHE_MAX_BYTES
    metrics: bool  # METRICS
    worker_metrics_host: str
    worker_metrics_port: int  # 0: any free port


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> VoteSettings:
    """The settings from ``env`` (default ``os.environ``), with ``overrides`` (``votes_queue=...``;
    None or "": not overridden) taking the place of their variables. Raises ConfigError."""
    env = environment(env, **overrides)
    queue = env.get("VOTES_QUEUE", "votes")
    if not _QUEUE_NAME.match(queue):
        raise ConfigError(f"VOTES_QUEUE must be 1-200 of A-Za-z0-9._-, got {queue!r}")
    return VoteSettings(
        database_url=_database_url(database_url(env)),
        amqp_urls=amqp_urls(env.get("AMQP_URL") or DEFAULT_AMQP_URL),
        votes_queue=queue,
        queue_type=_queue_type(env.get("VOTES_QUEUE_TYPE") or QUEUE_TYPES[0]),
        queue_max_length=_queue_max_length(env),
        cache_dir=Path(env.get("CACHE_DIR") or data_dir(env) / "cache" / "results"),
        candidates=parse_candidates(env.get("CANDIDATES", DEFAULT_CANDIDATES)),
        batch_size=number(env, "BATCH_SIZE", "200", int),
        batch_ms=number(env, "BATCH_MS", "100", int),
        results_interval=number(env, "RESULTS_INTERVAL", "2", float),
        chart_interval=number(env, "CHART_INTERVAL", "10", float),
        kiosk_token=_kiosk_token(env.get("KIOSK_TOKEN", "")),
        rate_limit=number(env, "RATE_LIMIT", "50", float, zero_ok=True),
        kiosk_hosts=parse_hosts(env.get("KIOSK_HOSTS", "")),
        vote_clock_skew=_clock_skew(env),
        votes_open_at=_open_at(env.get("VOTES_OPEN_AT", "")),
        votes_time_zone=_time_zone(env.get("VOTES_TIME_ZONE") or DEFAULT_TIME_ZONE),
        cache_max_bytes=_cache_max_bytes(env),
        metrics=_switch(env, "METRICS", "1"),
        worker_metrics_host=_host(env.get("WORKER_METRICS_HOST") or "127.0.0.1"),
        worker_metrics_port=_port(env, "WORKER_METRICS_PORT", DEFAULT_WORKER_METRICS_PORT),
    )


def _database_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL SQLAlchemy can read, else ConfigError (the URL is not
    repeated: it may hold a password)."""
    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL is malformed: {str(exc).splitlines()[0][:100]}") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}://")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"DATABASE_URL port must be 1-65535, got {port}")
    return url


def amqp_urls(text: str) -> tuple[str, ...]:
    """The comma-separated amqp:// or amqps:// URLs of ``text`` (spaces around them ignored),
    each one pika can read, else ConfigError naming which (never repeating one: it may hold a
    password)."""
    urls = tuple(part.strip() for part in text.split(","))
    for number_, url in enumerate(urls, 1):
        which = f"AMQP_URL (URL {number_} of {len(urls)})" if len(urls) > 1 else "AMQP_URL"
        try:
            if not url:
                raise ValueError("it is empty")
            scheme = urlsplit(url).scheme
            if scheme not in ("amqp", "amqps"):
                raise ValueError(f"the scheme must be amqp or amqps, not {scheme[:10]!r}")
            pika.URLParameters(url)
        except (ValueError, IndexError, TypeError) as exc:
            reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
            raise ConfigError(f"{which} is malformed: {reason}") from None
    return urls


def _queue_type(name: str) -> str:
    if name not in QUEUE_TYPES:
        raise ConfigError(
            f"VOTES_QUEUE_TYPE must be {' or '.join(QUEUE_TYPES)}, got {name[:40]!r}"
        )
    return name


def _kiosk_token(token: str) -> str | None:
    """None for no token; else the token if it is long enough to guess, else ConfigError (which
    does not repeat it)."""
    if token == "":
        return None
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"KIOSK_TOKEN must be at least 16 visible ASCII characters (no spaces), got "
            f"{len(token)} characters; leave it empty for none"
        )
    return token


def _clock_skew(env: Mapping[str, str]) -> timedelta:
    seconds = number(env, "VOTE_CLOCK_SKEW", "300", float)
    if not MIN_CLOCK_SKEW <= seconds <= MAX_CLOCK_SKEW:
        raise ConfigError(
            f"VOTE_CLOCK_SKEW must be {MIN_CLOCK_SKEW:g} to {MAX_CLOCK_SKEW:g} seconds, "
            f"got {seconds:g}"
        )
    return timedelta(seconds=seconds)


def _queue_max_length(env: Mapping[str, str]) -> int:
    length = number(env, "VOTES_QUEUE_MAX_LENGTH", "0", int, zero_ok=True)
    if length > MAX_QUEUE_LENGTH:
        raise ConfigError(
            f"VOTES_QUEUE_MAX_LENGTH must be 0 (no limit) to {MAX_QUEUE_LENGTH}, got {length}"
        )
    return length


def _open_at(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            raise ValueError("it has no time zone")
        return when.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ConfigError(
            f"VOTES_OPEN_AT must be an ISO time with its zone (2026-11-28T08:00:00+08:00), "
            f"got {text[:60]!r}: {exc}"
        ) from None


def _time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(
            f"VOTES_TIME_ZONE must be an IANA time zone name (Asia/Hong_Kong), got {name[:60]!r}"
        ) from None


def _cache_max_bytes(env: Mapping[str, str]) -> int:
    size = number(env, "CACHE_MAX_BYTES", str(CACHE_MAX_BYTES), int)
    if not MIN_CACHE_MAX_BYTES <= size <= MAX_CACHE_MAX_BYTES:
        raise ConfigError(
            f"CACHE_MAX_BYTES must be {MIN_CACHE_MAX_BYTES} to {MAX_CACHE_MAX_BYTES} bytes, "
            f"got {size}"
        )
    return size


def _switch(env: Mapping[str, str], name: str, default: str) -> bool:
    value = env.get(name) or default
    if value not in ("0", "1"):
        raise ConfigError(f"{name} must be 1 (on) or 0 (off), got {value[:20]!r}")
    return value == "1"


def _host(name: str) -> str:
    """An address or host name to listen on, else ConfigError."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not _HOST_NAME.match(name):
        raise ConfigError(
            f"WORKER_METRICS_HOST must be an IP address or a host name, got {name[:60]!r}"
        )
    return name


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    port = number(env, name, str(default), int, zero_ok=True)
    if port > 65535:
        raise ConfigError(f"{name} must be 0 (any free port) to 65535, got {port}")
    return port
