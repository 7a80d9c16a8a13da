"""Attribute hosts, and so requests, to countries: offline first, in tiers of decreasing certainty.

- ``ip`` (exact): an IP literal, IPv4 or IPv6, looked up in the GeoLite2 country databases that
  ship inside the ``geoip2fast`` wheel (no network; each read here into one sorted table, so a
  batch of addresses is one vectorised search); an IPv4-mapped IPv6 address counts as IPv4;
- ``cctld`` (strong): a country-code top-level domain (``.jp`` -> JP, ``.uk`` -> GB);
- ``us_tld`` (strong): ``.edu``, ``.gov``, ``.mil`` and ``.us``, US-only as allocated in 1995;
- ``dns`` (resolved): the ``early_stopping`` busiest hosts still unattributed, resolved by DNS
  *today* and looked up in the same database (a 2020s address may not be where the host was);
- ``inferred`` (only when switched on): the domain of a well-known 1995 network operator
  (``data/operators_1995.csv``).

Each host gets the first tier that knows it. The result says which tiers ran. A host with a
colon is never taken for a name (DNS names have none): if it is not a valid IPv6 literal it gets
no country, never one from its "TLD", from DNS or from the inferred tier.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from lib.logs.counting.ranking import busiest
from lib.logs.geo._ip_database import ip_countries, ip_networks
from lib.logs.geo.dns import DnsCache, DnsReport, Resolver, resolve_hosts

METHODS = {
    "ip": "IP address → offline GeoLite2 country database",
    "cctld": "country-code top-level domain",
    "us_tld": ".edu/.gov/.mil/.us (US-only in 1995)",
    "dns": "DNS lookup today → IP database",
    "inferred": "inferred: 1995 network operator's domain",
}
US_ONLY_TLDS = ("edu", "gov", "mil", "us")
_IPV4 = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$"


def _ip_like(host: pl.Expr) -> pl.Expr:
    """Whether a host is (or tries to be) an IP literal rather than a name: four dotted numbers
    (trailing dots aside), or anything with a colon, which no DNS name has (IPv6 literals,
    valid or not, zones and brackets included)."""
    return host.str.strip_chars_end(".").str.contains(_IPV4) | host.str.contains(":", literal=True)


def ip_like_sql(host: str) -> str:
    """``_ip_like`` in SQL (DuckDB) for the column ``host``: the same hosts (a test compares
    the two), null for a null host."""
    return f"(regexp_matches(rtrim({host}, '.'), '{_IPV4}') OR contains({host}, ':'))"


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("lib.logs.geo").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@cache
def cctld_table() -> pl.DataFrame:
    """``tld -> country, name`` for every country-code TLD."""
    return pl.DataFrame(_data_rows("cctld.csv"))


@cache
def country_names() -> dict[str, str]:
    return {row["country"]: row["name"] for row in _data_rows("cctld.csv")}


@cache
def operators_table() -> pl.DataFrame:
    """``domain -> country, operator``: the inferred tier's data."""
    return pl.DataFrame(_data_rows("operators_1995.csv"))


def preload(cache_dir: Path | None = None) -> None:
    """Load the offline tiers' data now (the IPv4 table takes about 0.1 s uncached), e.g. on a
    thread while the log is parsed. The IPv6 table (0.2 s) is left to the first IPv6 client: the
    thread takes the interpreter from the parse while it runs, and many logs have none. A
    failure here is left for the real call to raise."""
    try:
        ip_networks(cache_dir), cctld_table(), country_names()
    except Exception:  # noqa: BLE001 - attribute() calls these again and reports the error
        return


@dataclass(frozen=True)
class DnsOptions:
    """How the ``dns`` tier runs. ``resolver`` is injectable so tests never touch the network."""

    resolver: Resolver | None = None
    cache_path: str | Path | None = None
    timeout: float = 2.0
    deadline: float = 15.0
    workers: int = 16
    canary: str | None = "nasa.gov"


@dataclass(frozen=True)
class Attribution:
    """Per-host countries and the figures the Q1 report needs."""

    # host, requests, country, method (null where unattributed); no set order: every host, or
    # those given when they came with their groups (a state directory's window)
    hosts: pl.DataFrame
    by_method: pl.DataFrame  # method, description, hosts, requests, share (of all requests)
    countries: pl.DataFrame  # rank, country, name, requests, share_of_attributed, share_of_all
    total_requests: int
    attributed_requests: int
    tiers: tuple[str, ...]
    dns: DnsReport | None

    @property
    def coverage(self) -> float:
        """Share of all requests with a country."""
        return self.attributed_requests / self.total_requests if self.total_requests else 0.0

    @property
    def winner(self) -> dict | None:
        """The country with the most requests (ties by code), or None if nothing attributed."""
        return self.countries.row(0, named=True) if self.countries.height else None


def offline_countries(hosts: pl.Series, cache_dir: Path | None = None) -> pl.DataFrame:
    """Attribute hosts by the offline tiers (ip, cctld, us_tld): ``host, country, method``;
    ``cache_dir`` as for ``ip_countries``.

    Case and trailing dots do not matter; a TLD is ASCII letters, as DNS has them. A host that
    looks like an IP literal (``_ip_like``) gets a country only as one, never from a TLD.
    """
    frame = pl.DataFrame({"host": hosts.unique(maintain_order=True)})  # distinct: their order
    address = pl.col("host").str.strip_chars_end(".")
    frame = frame.with_columns(
        _ip_like(pl.col("host")).alias("_is_ip"),
        pl.col("host").str.extract(r"\.([A-Za-z]+)\.*$", 1).str.to_lowercase().alias("tld"),
    )
    rows = frame.get_column("_is_ip")
    found = ip_countries(frame.filter(rows).select(address).to_series(), cache_dir)
    by_ip = pl.Series("_ip", [None] * frame.height, pl.String).scatter(rows.arg_true(), found)
    by_tld = dict(cctld_table().select("tld", "country").iter_rows())
    is_ip = pl.col("_is_ip")
    frame = frame.with_columns(
        by_ip,
        pl.col("tld").replace_strict(by_tld, default=None, return_dtype=pl.String).alias("_cc"),
    )
    us_only = pl.col("tld").is_in(US_ONLY_TLDS) & ~is_ip
    country = (
        pl.when(is_ip)
        .then(pl.col("_ip"))
        .when(us_only)
        .then(pl.lit("US"))
        .otherwise(pl.col("_cc"))
    )
    method = (
        pl.when(is_ip & pl.col("_ip").is_not_null())
        .then(pl.lit("ip"))
        .when(us_only)
        .then(pl.lit("us_tld"))
        .when(~is_ip & pl.col("_cc").is_not_null())
        .then(pl.lit("cctld"))
    )
    return frame.select("host", country.alias("country"), method.alias("method"))


def operator_countries(hosts: list[str]) -> dict[str, str]:
    """The inferred tier: hosts under a known 1995 operator's domain -> that operator's country
    (never a host with a colon: not a name)."""
    ops = operators_table()
    by_domain = dict(zip(ops["domain"], ops["country"], strict=True))
    found = {}
    for host in hosts:
        if ":" in host:
            continue
        parts = host.lower().rstrip(".").split(".")
        for i in range(len(parts) - 1):
            country = by_domain.get(".".join(parts[i:]))
            if country:
                found[host] = country
                break
    return found


def _fill(hosts: pl.DataFrame, found: dict[str, str | None], method: str) -> pl.DataFrame:
    """Give the still-unattributed hosts in ``found`` their country, labelled ``method``."""
    known = {h: c for h, c in found.items() if c}
    new = pl.DataFrame(
        {"host": list(known), "_new": list(known.values())},
        schema={"host": pl.String, "_new": pl.String},
    )
    fills = pl.col("method").is_null() & pl.col("_new").is_not_null()
    return (
        hosts.join(new, on="host", how="left")
        .with_columns(
            pl.when(fills).then(pl.col("_new")).otherwise(pl.col("country")).alias("country"),
            pl.when(fills).then(pl.lit(method)).otherwise(pl.col("method")).alias("method"),
        )
        .drop("_new")
    )


def attribute(
    host_counts: pl.DataFrame,
    early_stopping: int = 50,
    use_dns: bool = True,
    dns: DnsOptions | None = None,
    inferred: bool = False,
    geo_cache: Path | None = None,
    places: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
) -> Attribution:
    """Attribute every host in ``host_counts`` (``host``, ``requests``) to a country.

    Args:
        early_stopping: how many of the busiest hosts still unattributed after the offline
            tiers are resolved by DNS (exactly that many, fewer if fewer remain).
        use_dns: run the DNS tier at all.
        dns: resolver, cache, timeouts; see DnsOptions.
        inferred: run the inferred tier (after DNS) for generic names of 1995 operators.
        geo_cache: where the IP database's table is kept between runs (None: not kept).
        places: what ``offline_countries`` found for these hosts before (``host``,
            ``country``, ``method``: a state directory keeps it); None: found now.
        groups: every host counted already by what ``offline_countries`` found for it
            (``place_groups``' columns: a state directory's window), ``host_counts`` then
            holding only the hosts a tier after the offline ones may change (``Named``: at
            least the ``early_stopping`` busiest unattributed names, and with ``inferred``
            every unattributed host) and those the answers name; None: ``host_counts``
            holds every host.
    """
    if early_stopping < 0:
        raise ValueError(f"early_stopping must not be negative, got {early_stopping}")
    counts = host_counts.select("host", pl.col("requests").cast(pl.UInt64))
    if places is None:
        places = offline_countries(counts.get_column("host"), geo_cache)
    hosts = _placed(counts, places)
    if groups is None:
        groups = place_groups(hosts)
    else:
        groups = groups.select(list(GROUP_COLUMNS)).cast(GROUP_COLUMNS)
    tiers = ["ip", "cctld", "us_tld"]
    report = None
    if use_dns and early_stopping > 0:
        options = dns or DnsOptions()
        unresolved = (
            hosts.filter(pl.col("method").is_null() & ~_ip_like(pl.col("host")))
            .pipe(busiest, early_stopping, "host")
            .get_column("host")
            .to_list()
        )
        report = resolve_hosts(
            unresolved,
            **({"resolver": options.resolver} if options.resolver else {}),
            cache=DnsCache(options.cache_path),
            workers=options.workers,
            timeout=options.timeout,
            deadline=options.deadline,
            canary=options.canary,
        )
        resolved = pl.Series(list(report.addresses.values()), dtype=pl.String)
        found = dict(zip(report.addresses, ip_countries(resolved, geo_cache), strict=True))
        hosts = _fill(hosts, found, "dns")
        tiers.append("dns")
    if inferred:
        unattributed = hosts.filter(pl.col("method").is_null()).get_column("host").to_list()
        hosts = _fill(hosts, operator_countries(unattributed), "inferred")
        tiers.append("inferred")
    return _figures(_moved(groups, hosts), hosts, tuple(tiers), report)


def _placed(counts: pl.DataFrame, places: pl.DataFrame) -> pl.DataFrame:
    """``counts`` with each host's country and method from ``places``: side by side when
    ``places`` lists the same hosts in the same order (``offline_countries`` of distinct hosts,
    a state's window), else joined (a join of 75,000 hosts costs more than the comparison)."""
    if places.height == counts.height and places.get_column("host").equals(
        counts.get_column("host")
    ):
        return counts.hstack(places.select("country", "method"))
    return counts.join(places.select("host", "country", "method"), on="host", how="left")


GROUP_COLUMNS = {"country": pl.String, "method": pl.String, "hosts": pl.Int64,
                 "requests": pl.Int64}  # fmt: skip
LATER_TIERS = ("dns", "inferred")  # the tiers that fill in hosts the offline ones left


def place_groups(hosts: pl.DataFrame) -> pl.DataFrame:
    """Hosts (``host``, ``requests``, ``country``, ``method``) counted by place: ``country``,
    ``method``, ``hosts``, ``requests`` (null country and method: unattributed)."""
    return hosts.group_by("country", "method").agg(
        pl.len().cast(pl.Int64).alias("hosts"), pl.col("requests").sum().cast(pl.Int64)
    )


def _moved(groups: pl.DataFrame, hosts: pl.DataFrame) -> pl.DataFrame:
    """``groups`` (``place_groups``' of the hosts as the offline tiers left them) with the
    hosts the later tiers attributed moved out of the unattributed group into theirs."""
    moved = hosts.filter(pl.col("method").is_in(LATER_TIERS))
    if moved.is_empty():
        return groups
    left = pl.DataFrame(
        {"country": [None], "method": [None], "hosts": [-moved.height],
         "requests": [-int(moved.get_column("requests").sum())]},
        schema=GROUP_COLUMNS,
    )  # fmt: skip
    changes = pl.concat([groups, place_groups(moved), left])
    return (
        changes.group_by("country", "method")
        .agg(pl.col("hosts").sum(), pl.col("requests").sum())
        .filter(pl.col("hosts") != 0)
    )


def _figures(
    groups: pl.DataFrame, hosts: pl.DataFrame, tiers: tuple[str, ...], report: DnsReport | None
) -> Attribution:
    """The figures of every host, from ``groups`` (``place_groups``' columns, the later tiers'
    moves made); ``hosts``: the hosts attributed here, with their countries."""
    groups = groups.with_columns(pl.col("requests").cast(pl.UInt64))
    total = int(groups.get_column("requests").sum() or 0)
    attributed = groups.filter(pl.col("country").is_not_null())
    attributed_requests = int(attributed.get_column("requests").sum() or 0)
    share = pl.col("requests") / total if total else pl.lit(0.0)
    by_method = (
        groups.with_columns(pl.col("method").fill_null("unattributed"))
        .group_by("method")
        .agg(pl.col("hosts").sum().cast(pl.UInt32), pl.col("requests").sum())
    )
    order = [*tiers, "unattributed"]
    by_method = (
        pl.DataFrame(
            {"method": order, "description": [METHODS.get(m, "no country") for m in order]}
        )
        .join(by_method, on="method", how="left")
        .with_columns(pl.col("hosts").fill_null(0), pl.col("requests").fill_null(0))
        .with_columns(share.alias("share"))
    )
    names = country_names()
    countries = (
        attributed.group_by("country")
        .agg(pl.col("requests").sum())
        .sort(["requests", "country"], descending=[True, False])
        .with_columns(
            pl.col("country").replace_strict(names, default=pl.col("country")).alias("name"),
            (pl.col("requests") / max(attributed_requests, 1)).alias("share_of_attributed"),
            share.alias("share_of_all"),
        )
        .with_row_index("rank", offset=1)
        .select("rank", "country", "name", "requests", "share_of_attributed", "share_of_all")
    )
    return Attribution(
        hosts=hosts,
        by_method=by_method,
        countries=countries,
        total_requests=total,
        attributed_requests=attributed_requests,
        tiers=tiers,
        dns=report,
    )
