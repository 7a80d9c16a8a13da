"""Which requests a Q1 run counts at all: filters by status (codes or classes), method, path
prefix, virtual host and excluded client networks, and whether the window applies to every
answer. Data (it travels with the window to Dask workers) and one polars step (``keep``) that
the counting applies to each block's parsed requests before it counts them; a run with an
active filter is counted by polars alone (the compiled counter knows no filter). Imports polars
only in ``keep``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from lib.errors import ConfigError

if TYPE_CHECKING:  # for the annotations only: importing them loads polars
    import polars as pl

    from lib.logs.window import Window

_STATUS = re.compile(r"[1-5]xx|[0-9]{3}")
# How each filter is named: (the command's option, the notebook's parameter).
NAMES = {
    "statuses": ("--status", "status_filter"),
    "methods": ("--method", "method_filter"),
    "path_prefixes": ("--path-prefix", "path_prefix"),
    "vhosts": ("--vhost", "vhost_filter"),
    "exclude_clients": ("--exclude-client", "exclude_clients"),
}


@dataclass(frozen=True)
class RequestFilter:
    """The requests counted: those whose status is one of ``statuses`` (``404``, ``5xx``),
    method one of ``methods``, path starts with one of ``path_prefixes``, virtual host one of
    ``vhosts``, and client in none of ``exclude_clients`` (each: any, when empty); with
    ``window_only``, only those inside the window."""

    statuses: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()
    vhosts: tuple[str, ...] = ()
    exclude_clients: tuple[str, ...] = ()
    window_only: bool = False

    @property
    def active(self) -> bool:
        return any((self.statuses, self.methods, self.path_prefixes, self.vhosts,
                    self.exclude_clients, self.window_only))  # fmt: skip

    @property
    def needs_request(self) -> bool:
        """Whether the parsers must yield the request's parts and virtual host (a method, path
        or virtual-host filter reads them)."""
        return bool(self.methods or self.path_prefixes or self.vhosts)

    def describe(self) -> dict:
        """The filters set, as ``results.json`` shows them."""
        shown = {name: list(getattr(self, name)) for name in NAMES if getattr(self, name)}
        return {**shown, "window_only": self.window_only} if self.window_only else shown

    def keep(self, requests: pl.DataFrame, window: Window) -> pl.DataFrame:
        """The rows of ``requests`` (a parser's frame, with ``method`` and ``path`` when
        ``needs_request``, ``vhost`` when the format logs one) this filter counts."""
        import polars as pl

        kept = pl.lit(True)
        if self.window_only:
            kept &= (pl.col("time") >= window.start) & (pl.col("time") < window.end)
        if self.statuses:
            kept &= _status_kept(self.statuses)
        if self.methods:
            kept &= pl.col("method").str.to_uppercase().is_in(list(self.methods))
        if self.path_prefixes:
            path = pl.col("path").str.replace(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "")
            kept &= pl.any_horizontal([path.str.starts_with(p) for p in self.path_prefixes])
        if self.vhosts:
            vhost = pl.col("vhost") if "vhost" in requests.columns else pl.lit(None, pl.String)
            kept &= vhost.str.to_lowercase().str.replace(r":[0-9]+$", "").is_in(list(self.vhosts))
        requests = requests.filter(kept.fill_null(False))
        if self.exclude_clients and requests.height:
            hosts = requests.get_column("host").unique().drop_nulls().to_list()
            out = [host for host in hosts if _excluded(host, self.exclude_clients)]
            requests = requests.filter(~pl.col("host").is_in(out))
        return requests


def _status_kept(statuses: Sequence[str]):
    import polars as pl

    codes = [int(status) for status in statuses if status.isdigit()]
    classes = [int(status[0]) for status in statuses if status.endswith("xx")]
    status = pl.col("status").cast(pl.Int32)
    return status.is_in(codes) | (status // 100).is_in(classes)


def _excluded(host: str, networks: tuple[str, ...]) -> bool:
    address = _address(host)
    return address is not None and any(address in net for net in _networks(networks))


def _address(host: str):
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@cache
def _networks(networks: tuple[str, ...]):
    return tuple(ipaddress.ip_network(net, strict=False) for net in networks)


def _items(value: str | Iterable[str] | None) -> list[str]:
    """A comma-separated text or a list, as stripped non-empty items."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return [item.strip() for item in items if item and item.strip()]


def request_filter(
    status: str | Iterable[str] | None = None,
    method: str | Iterable[str] | None = None,
    path_prefix: str | Iterable[str] | None = None,
    vhost: str | Iterable[str] | None = None,
    exclude_clients: str | Iterable[str] | None = None,
    window_only: bool = False,
    command: bool = False,
) -> RequestFilter:
    """The filter the options say (each a comma-separated text or a list). ConfigError, one
    line naming the option (``command``: as the command line names it, else the notebook's
    parameter)."""
    which = 0 if command else 1
    statuses = _items(status)
    for item in statuses:
        if not _STATUS.fullmatch(item.lower()):
            raise ConfigError(
                f"{NAMES['statuses'][which]}: {item!r} is not a status (e.g. 404 or 5xx)"
            )
    paths = _items(path_prefix)
    for item in paths:
        if not item.startswith("/"):
            raise ConfigError(f"{NAMES['path_prefixes'][which]}: {item!r} does not start with /")
    networks = _items(exclude_clients)
    for item in networks:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"{NAMES['exclude_clients'][which]}: {item!r} is not an address or network"
            ) from None
    return RequestFilter(
        tuple(item.lower() for item in statuses),
        tuple(item.upper() for item in _items(method)),
        tuple(paths),
        tuple(item.lower() for item in _items(vhost)),
        tuple(networks),
        bool(window_only),
    )


def check_fields(only: RequestFilter, roles: dict[str, tuple[str, ...]], command: bool) -> None:
    """ConfigError when a filter reads a field the format of a file (``roles``: file -> its
    format's roles) does not log: a virtual-host filter on a log without virtual hosts would
    leave every request out, silently."""
    which = 0 if command else 1
    for path, logged in roles.items():
        if only.vhosts and "vhost" not in logged:
            raise ConfigError(
                f"{NAMES['vhosts'][which]}: {path} is in a format that logs no virtual host"
            )
