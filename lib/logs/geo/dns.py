"""Resolve host names to IPv4 addresses: concurrently, with a per-lookup timeout, an overall
deadline, an on-disk cache, and a fast, explicit failure when there is no network.

The resolver is injectable: any ``Callable[[str], str | None]`` that returns an address, returns
None when the name does not exist, and raises ``OSError`` for trouble (tests pass a dict lookup
and never touch the network).

Without network, ``getaddrinfo`` often answers "name not known" at once, which looks exactly like
a name that does not exist. So a lookup round starts with a *canary*: a name that must resolve
(default ``nasa.gov``). If the canary fails the round stops there, reports DNS as unavailable, and
caches nothing.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lib.output import replacing

logger = logging.getLogger(__name__)

Resolver = Callable[[str], "str | None"]

CANARY = "nasa.gov"


def system_resolver(host: str) -> str | None:
    """The operating system's resolver: the first IPv4 address, or None if the name is unknown."""
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return None
        raise
    return infos[0][4][0] if infos else None


class DnsCache:
    """A JSON file of ``host -> address or null`` kept between runs (written atomically)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.entries: dict[str, str | None] = {}
        if self.path and self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                self.entries = {
                    str(k): v for k, v in loaded.items() if v is None or isinstance(v, str)
                }
            except (OSError, ValueError, AttributeError) as exc:
                logger.warning("ignoring unreadable DNS cache %s: %s", self.path, exc)

    def save(self) -> None:
        if not self.path:
            return
        with replacing(self.path) as out:
            out.write(json.dumps(self.entries, sort_keys=True, indent=0).encode())


@dataclass(frozen=True)
class DnsReport:
    """What a lookup round did. ``addresses`` holds every host that resolved (cached or not)."""

    asked: int
    available: bool
    message: str
    addresses: dict[str, str] = field(default_factory=dict)
    not_found: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    from_cache: int = 0
    seconds: float = 0.0


def lookup_all(
    hosts: Sequence[str],
    resolver: Resolver,
    workers: int,
    timeout: float,
    deadline: float,
) -> dict[str, tuple[str, str | None]]:
    """Run ``resolver`` over ``hosts`` on up to ``workers`` daemon threads.

    Returns ``host -> (outcome, value)`` with outcome ``ok`` (value: address or None for an
    unknown name) or ``error`` (value: the reason, including ``timeout`` and ``deadline``).
    A lookup that hangs is abandoned after ``timeout`` seconds (its daemon thread cannot keep
    the process alive); nothing is started after ``deadline`` seconds.
    """
    results: dict[str, tuple[str, str | None]] = {}
    done: queue.SimpleQueue = queue.SimpleQueue()
    pending = iter(hosts)
    running: dict[str, float] = {}
    end = time.monotonic() + deadline

    def run(host: str) -> None:
        try:
            done.put((host, "ok", resolver(host)))
        except Exception as exc:  # a resolver's failure is a result, never a crash
            done.put((host, "error", f"{type(exc).__name__}: {exc}"))

    def start_next() -> None:
        host = next(pending, None)
        if host is not None and host not in results and host not in running:
            running[host] = time.monotonic()
            threading.Thread(target=run, args=(host,), daemon=True).start()

    for _ in range(max(1, workers)):
        start_next()
    while running:
        now = time.monotonic()
        if now >= end:
            results.update((h, ("error", "deadline")) for h in running)
            break
        for host, started in list(running.items()):
            if now - started >= timeout:
                del running[host]
                results[host] = ("error", "timeout")
                start_next()
        if not running:
            break
        wait = min(end, min(running.values()) + timeout) - now
        try:
            host, outcome, value = done.get(timeout=max(wait, 0.001))
        except queue.Empty:
            continue
        if host in running:
            del running[host]
            results[host] = (outcome, value)
            start_next()
    results.update((h, ("error", "deadline")) for h in pending if h not in results)
    return results


def resolve_hosts(
    hosts: Sequence[str],
    resolver: Resolver = system_resolver,
    cache: DnsCache | None = None,
    workers: int = 16,
    timeout: float = 2.0,
    deadline: float = 15.0,
    canary: str | None = CANARY,
) -> DnsReport:
    """Resolve ``hosts`` (cached answers first), reporting what could not be resolved and why."""
    started = time.monotonic()
    cache = cache or DnsCache(None)
    hosts = list(dict.fromkeys(hosts))
    cached = {h: cache.entries[h] for h in hosts if h in cache.entries}
    todo = [h for h in hosts if h not in cached]

    def report(available: bool, message: str, fresh: dict) -> DnsReport:
        answers = {**cached, **{h: v for h, (kind, v) in fresh.items() if kind == "ok"}}
        return DnsReport(
            asked=len(hosts),
            available=available,
            message=message,
            addresses={h: ip for h, ip in answers.items() if ip},
            not_found=tuple(h for h, ip in answers.items() if ip is None),
            failed={h: str(v) for h, (kind, v) in fresh.items() if kind == "error"},
            from_cache=len(cached),
            seconds=round(time.monotonic() - started, 3),
        )

    if not todo:
        return report(True, f"all {len(hosts)} hosts answered from the cache", {})
    if canary:
        probe = lookup_all([canary], resolver, 1, timeout, timeout).get(canary)
        if not probe or probe[0] != "ok" or not probe[1]:
            why = "did not resolve" if probe and probe[0] == "ok" else (probe or ("", "?"))[1]
            message = (
                f"DNS unavailable: the canary {canary} {why}; "
                f"{len(todo)} hosts left unresolved (no network?)"
            )
            logger.warning(message)
            return report(False, message, {h: ("error", "DNS unavailable") for h in todo})
    fresh = lookup_all(todo, resolver, workers, timeout, deadline)
    for host, (kind, value) in fresh.items():
        if kind == "ok":
            cache.entries[host] = value
    cache.save()
    failures = sum(kind == "error" for kind, _ in fresh.values())
    message = f"looked up {len(todo)} hosts ({failures} failed), {len(cached)} from the cache"
    return report(True, message, fresh)
