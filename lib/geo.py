"""Attribute hosts, and so requests, to countries: offline first, in tiers of decreasing certainty.

- ``ip`` (exact): an IP literal, looked up in the GeoLite2 country database that ships inside
  the ``geoip2fast`` wheel (no network);
- ``cctld`` (strong): a country-code top-level domain (``.jp`` -> JP, ``.uk`` -> GB);
- ``us_tld`` (strong): ``.edu``, ``.gov``, ``.mil`` and ``.us``, US-only as allocated in 1995;
- ``dns`` (resolved): the ``early_stopping`` busiest hosts still unattributed, resolved by DNS
  *today* and looked up in the same database (a 2020s address may not be where the host was);
- ``inferred`` (only when switched on): the domain of a well-known 1995 network operator
  (``data/operators_1995.csv``).

Each host gets the first tier that knows it. The result says which tiers ran.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from lib.dns_lookup import DnsCache, DnsReport, Resolver, resolve_hosts

METHODS = {
    "ip": "IP address → offline GeoLite2 country database",
    "cctld": "country-code top-level domain",
    "us_tld": ".edu/.gov/.mil/.us (US-only in 1995)",
    "dns": "DNS lookup today → IP database",
    "inferred": "inferred: 1995 network operator's domain",
}
US_ONLY_TLDS = ("edu", "gov", "mil", "us")
_IPV4 = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$"


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("lib").joinpath("data", name).read_text(encoding="utf-8")
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


@cache
def _geoip():
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(verbose=False)


def preload() -> None:
    """Load the offline tiers' data now (the IP database takes about 0.3 s), e.g. on a thread
    while the log is parsed. A failure here is left for the real call to raise."""
    try:
        _geoip(), cctld_table(), country_names()
    except Exception:  # noqa: BLE001 - attribute() calls these again and reports the error
        return


def ip_country(address: str) -> str | None:
    """The country of a public IPv4 address from the bundled database, or None (malformed,
    private or reserved addresses, which the database marks ``--``)."""
    parts = address.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return None
    code = _geoip().lookup(".".join(str(int(p)) for p in parts)).country_code
    return code if len(code) == 2 and code.isalpha() else None


@dataclass(frozen=True)
class DnsOptions:
    """How the ``dns`` tier runs. ``resolver`` is injectable so tests never touch the network."""

    resolver: Resolver | None = None
    cache_path: str | None = None
    timeout: float = 2.0
    deadline: float = 15.0
    workers: int = 16
    canary: str | None = "nasa.gov"


@dataclass(frozen=True)
class Attribution:
    """Per-host countries and the figures the Q1 report needs."""

    hosts: pl.DataFrame  # host, requests, country, method (null where unattributed)
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


def offline_countries(hosts: pl.Series) -> pl.DataFrame:
    """Attribute hosts by the offline tiers (ip, cctld, us_tld): ``host, country, method``."""
    host = pl.col("host")
    name = host.str.to_lowercase().str.strip_chars_end(".")
    frame = pl.DataFrame({"host": hosts.unique()}).with_columns(
        name.alias("_name"), name.str.extract(r"\.([a-z]+)$", 1).alias("tld")
    )
    is_ip = pl.col("_name").str.contains(_IPV4)
    ips = frame.filter(is_ip).get_column("_name").to_list()
    ip_frame = pl.DataFrame(
        {"_name": ips, "_ip": [ip_country(ip) for ip in ips]},
        schema={"_name": pl.String, "_ip": pl.String},
    )
    cctld = cctld_table().select("tld", pl.col("country").alias("_cc"))
    frame = frame.join(ip_frame, on="_name", how="left").join(cctld, on="tld", how="left")
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
    """The inferred tier: hosts under a known 1995 operator's domain -> that operator's country."""
    ops = operators_table()
    by_domain = dict(zip(ops["domain"], ops["country"], strict=True))
    found = {}
    for host in hosts:
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
) -> Attribution:
    """Attribute every host in ``host_counts`` (``host``, ``requests``) to a country.

    Args:
        early_stopping: how many of the busiest hosts still unattributed after the offline
            tiers are resolved by DNS (exactly that many, fewer if fewer remain).
        use_dns: run the DNS tier at all.
        dns: resolver, cache, timeouts; see DnsOptions.
        inferred: run the inferred tier (after DNS) for generic names of 1995 operators.
    """
    if early_stopping < 0:
        raise ValueError(f"early_stopping must not be negative, got {early_stopping}")
    counts = host_counts.select("host", pl.col("requests").cast(pl.UInt64))
    hosts = counts.join(offline_countries(counts.get_column("host")), on="host", how="left")
    tiers = ["ip", "cctld", "us_tld"]
    report = None
    if use_dns and early_stopping > 0:
        options = dns or DnsOptions()
        busiest = (
            hosts.filter(pl.col("method").is_null() & ~pl.col("host").str.contains(_IPV4))
            .sort(["requests", "host"], descending=[True, False])
            .head(early_stopping)
            .get_column("host")
            .to_list()
        )
        report = resolve_hosts(
            busiest,
            **({"resolver": options.resolver} if options.resolver else {}),
            cache=DnsCache(options.cache_path),
            workers=options.workers,
            timeout=options.timeout,
            deadline=options.deadline,
            canary=options.canary,
        )
        hosts = _fill(hosts, {h: ip_country(ip) for h, ip in report.addresses.items()}, "dns")
        tiers.append("dns")
    if inferred:
        unattributed = hosts.filter(pl.col("method").is_null()).get_column("host").to_list()
        hosts = _fill(hosts, operator_countries(unattributed), "inferred")
        tiers.append("inferred")
    return _figures(hosts, tuple(tiers), report)


def _figures(hosts: pl.DataFrame, tiers: tuple[str, ...], report: DnsReport | None) -> Attribution:
    total = int(hosts.get_column("requests").sum() or 0)
    attributed = hosts.filter(pl.col("country").is_not_null())
    attributed_requests = int(attributed.get_column("requests").sum() or 0)
    share = pl.col("requests") / total if total else pl.lit(0.0)
    by_method = (
        hosts.with_columns(pl.col("method").fill_null("unattributed"))
        .group_by("method")
        .agg(pl.len().alias("hosts"), pl.col("requests").sum())
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
        hosts=hosts.sort(["requests", "host"], descending=[True, False]),
        by_method=by_method,
        countries=countries,
        total_requests=total,
        attributed_requests=attributed_requests,
        tiers=tiers,
        dns=report,
    )
