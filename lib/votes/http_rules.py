"""HTTP rules the kiosk applies: which ``Host`` and ``Origin`` may vote, which requests may be
given the kiosk's token in its page, ``If-None-Match``, and which request paths are taken at all.

A kiosk on 127.0.0.1 is still reachable from any web page a browser on that machine opens:
the page can make its own name resolve to 127.0.0.1 (DNS rebinding) and post votes. Such a
request names the attacker's host in ``Host`` and, from a page, its origin in ``Origin``; the
kiosk takes votes only for the names it serves, and from its own page or from no page at all
(curl, a load tool: no ``Origin``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from lib.errors import ConfigError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_HOST = re.compile(r"([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?")
_ENTITY_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|\Z)')


def split_host(value: str) -> tuple[str, str | None] | None:
    """``"Name:8080"`` -> ``("name", "8080")``, ``"[::1]"`` -> ``("[::1]", None)``; None if
    ``value`` is not a host name or address with an optional port."""
    found = _HOST.fullmatch(value.strip().lower())
    return (found.group(1), found.group(2)) if found else None


def parse_hosts(spec: str) -> tuple[str, ...]:
    """``KIOSK_HOSTS``: ``"kiosk.example.org, 10.0.0.5:8080"`` -> lower-cased entries;
    ConfigError for an entry that is not ``name`` or ``name:port``."""
    entries = tuple(part.strip().lower() for part in spec.split(",") if part.strip())
    for entry in entries:
        if split_host(entry) is None:
            raise ConfigError(f"KIOSK_HOSTS entry {entry!r} is not 'name' or 'name:port'")
    return entries


@dataclass(frozen=True)
class HostPolicy:
    """The hosts a kiosk serves: an entry ``name:port`` serves that name on that port, an
    entry ``name`` serves it on the port the request came in on. A ``Host`` without a port
    (the scheme's default) matches ``name``, ``name:80`` and ``name:443``."""

    entries: frozenset[str]

    @classmethod
    def serving(cls, bind_host: str, configured: tuple[str, ...] = ()) -> HostPolicy:
        """``configured`` (``KIOSK_HOSTS``) or, if empty, the loopback names and
        ``bind_host`` (unless it is every address: then only the loopback names)."""
        if configured:
            return cls(frozenset(configured))
        names = set(LOOPBACK_NAMES)
        if bind_host not in ("", "0.0.0.0", "::"):
            names.add(f"[{bind_host}]" if ":" in bind_host else bind_host.lower())
        return cls(frozenset(names))

    def serves(self, host: str, server_port: str) -> bool:
        """Whether ``host`` (a ``Host`` header) names this kiosk, reached on ``server_port``."""
        split = split_host(host)
        if split is None:
            return False
        name, port = split
        if port is None:
            return bool({name, f"{name}:80", f"{name}:443"} & self.entries)
        return f"{name}:{port}" in self.entries or (name in self.entries and port == server_port)

    def refusal(self, host: str | None, origin: str | None, server_port: str) -> str | None:
        """Why a vote with these ``Host`` and ``Origin`` headers is not one this kiosk takes;
        None if it is (its own host, and its own page or no page)."""
        if not host or not self.serves(host, server_port):
            return f"Host {(host or '')[:80]!r} is not a name this kiosk serves"
        own = host.strip().lower()
        if origin is not None and origin.lower() not in (f"http://{own}", f"https://{own}"):
            return f"Origin {origin[:80]!r} is not this kiosk's own page"
        return None


def screen_may_hold_token(
    policy: HostPolicy, client: str, host: str | None, server_port: str, forwarded: bool
) -> bool:
    """Whether the kiosk screen sent to ``client`` (its address) for ``host`` (the ``Host``
    header) may carry the kiosk's token: only to a process on this machine (a loopback address)
    that names the kiosk by a loopback name it serves, so not to another machine, nor to a page
    of another site that made its own name resolve to 127.0.0.1 (DNS rebinding: it names its own
    host). Never through a proxy (``forwarded``: the request has ``Forwarded``,
    ``X-Forwarded-For`` or ``X-Real-IP``): a proxy on this machine would make every client look
    local."""
    if forwarded or not host or not policy.serves(host, server_port):
        return False
    name = split_host(host)[0]
    return _is_loopback(client) and (name in LOOPBACK_NAMES or _is_loopback(name.strip("[]")))


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def path_refusal(path: str) -> str | None:
    """Why a request path (``PATH_INFO`` as PEP 3333 gives it: the percent-decoded bytes as
    latin-1 code points) is refused; None if it is UTF-8. Bottle would drop the bytes that are
    not (``/vo%fftes`` would reach ``/votes``)."""
    try:
        path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return "the request path is not UTF-8 once percent-decoded"
    return None


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` matches the current ``etag`` (RFC 9110 13.1.2): ``*``, or a
    comma-separated list of entity tags compared weakly (``W/"x"`` matches ``"x"``). A header
    that does not parse matches nothing."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    current = etag.removeprefix("W/")
    at, text = 0, if_none_match
    while at < len(text):
        found = _ENTITY_TAG.match(text, at)
        if not found:
            return False
        if found.group(2) == current:
            return True
        at = found.end()
        while at < len(text) and text[at] in " \t,":
            at += 1
    return False
