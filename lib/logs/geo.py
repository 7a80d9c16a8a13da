"""Attribute hosts, and so requests, to countries: offline first, in tiers of decreasing certainty.

- ``ip`` (exact): an IP literal, looked up in the GeoLite2 country database that ships inside
  the ``geoip2fast`` wheel (no network; read here into one sorted table, so a batch of addresses
  is one vectorised search);
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
import gzip
import pickle
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from itertools import chain
from pathlib import Path

import polars as pl

from lib.errors import ConfigError
from lib.logs.dns import DnsCache, DnsReport, Resolver, resolve_hosts
from lib.output import replacing

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
    text = resources.files("lib.logs").joinpath("data", name).read_text(encoding="utf-8")
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


IP_DATABASE = ("geoip2fast", "geoip2fast.dat.gz")  # package, file: GeoLite2 country, IPv4
_IP_DATABASE_VERSIONS = (120, 121)  # the file formats known to hold what read_ip_database reads
_IP_TABLE_FORMAT = 1  # in the cached table's name: changing the table's columns changes it


def _ip_database_file() -> Path:
    package, name = IP_DATABASE
    spec = find_spec(package)  # where the package is, without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the IP database needs the {package} package: pip install {package}")
    return Path(spec.submodule_search_locations[0]) / name


def read_ip_database() -> pl.DataFrame:
    """The IPv4 networks of the bundled database, sorted: ``first``, ``last`` (addresses as
    integers) and ``country`` (two letters; null for reserved, private or unknown space).

    The file is the geoip2fast package's own data: a gzip pickle of (format version, source,
    count, per-chunk lists of first addresses, country indexes and prefix lengths). Raises
    ConfigError if it is missing or of a format this code does not know.
    """
    path = _ip_database_file()
    try:
        with gzip.open(path) as data:
            file_format, source, _, tables = pickle.load(data)
        if file_format not in _IP_DATABASE_VERSIONS or source.get("asn") or not source["country"]:
            raise ValueError(f"format {file_format} {source}")
        _, names, firsts, country_ids, prefix_lengths = tables
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the IP database {path} cannot be read: {exc}") from None
    codes = [entry.split(":", 1)[0] for entry in names]  # "US:United States", "01:Private ..."
    countries = pl.Series([c if len(c) == 2 and c.isalpha() else None for c in codes])
    prefix = pl.Series(list(chain.from_iterable(prefix_lengths)), dtype=pl.UInt32)
    first = pl.Series("first", list(chain.from_iterable(firsts)), dtype=pl.UInt32)
    country = countries.gather(pl.Series(list(chain.from_iterable(country_ids))))
    size = pl.lit(2, pl.UInt64).pow(32 - pl.col("prefix"))
    return (
        pl.DataFrame({"first": first, "prefix": prefix, "country": country})
        .select(
            "first",
            (pl.col("first") + size - 1).cast(pl.UInt32).alias("last"),
            pl.col("country").cast(pl.Categorical),
        )
        .set_sorted("first")
    )


@cache
def ip_networks(cache_dir: Path | None = None) -> pl.DataFrame:
    """``read_ip_database``, kept in ``cache_dir`` (Q1's ``GEO_CACHE``; None: not kept) as an
    Arrow file named for the database file's package version, size and time, so later runs read
    it in milliseconds instead of unpickling the package's half a million networks. The cache is
    only a shortcut: if it cannot be read or written the database is read from the package."""
    source = _ip_database_file()
    if cache_dir is None:
        return read_ip_database()
    try:
        stat = source.stat()
        key = f"v{_IP_TABLE_FORMAT}-{version(IP_DATABASE[0])}-{stat.st_size}-{stat.st_mtime_ns}"
    except (OSError, PackageNotFoundError):
        return read_ip_database()
    folder = Path(cache_dir)
    cached = folder / f"ip_networks-{key}.arrow"
    try:
        return pl.read_ipc(cached).set_sorted("first")
    except (OSError, pl.exceptions.PolarsError):
        pass
    networks = read_ip_database()
    try:
        with replacing(cached) as out:
            networks.write_ipc(out)
        for stale in folder.glob("ip_networks-*.arrow"):  # of other versions
            if stale != cached:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only place: no cache, same answers
    return networks


def preload(cache_dir: Path | None = None) -> None:
    """Load the offline tiers' data now (the IP database takes about 0.1 s uncached), e.g. on a
    thread while the log is parsed. A failure here is left for the real call to raise."""
    try:
        ip_networks(cache_dir), cctld_table(), country_names()
    except Exception:  # noqa: BLE001 - attribute() calls these again and reports the error
        return


def ip_countries(addresses: pl.Series, cache_dir: Path | None = None) -> pl.Series:
    """The country of each public IPv4 address from the bundled database (its table kept in
    ``cache_dir``, see ``ip_networks``); null for anything else (malformed, private or reserved,
    or in no network of the database)."""
    octets = addresses.cast(pl.String).str.split(".")
    numbers = octets.list.eval(pl.element().str.to_integer(strict=False).cast(pl.UInt32))
    well_formed = addresses.str.contains(_IPV4).fill_null(False) & (
        numbers.list.max().fill_null(256) <= 255
    )
    value = pl.select(
        pl.when(well_formed).then(
            sum(numbers.list.get(i, null_on_oob=True) * (1 << (24 - 8 * i)) for i in range(4))
        )
    ).to_series()
    networks = ip_networks(cache_dir)
    row = networks.get_column("first").search_sorted(value.fill_null(0), side="right") - 1
    found = networks.select(pl.all().gather(row.clip(0)))
    inside = well_formed & (row >= 0) & (value <= found.get_column("last")).fill_null(False)
    country = found.get_column("country").cast(pl.String)
    return pl.select(pl.when(inside).then(country)).to_series()


def ip_country(address: str) -> str | None:
    """``ip_countries`` for one address."""
    return ip_countries(pl.Series([address], dtype=pl.String)).item()


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


def offline_countries(hosts: pl.Series, cache_dir: Path | None = None) -> pl.DataFrame:
    """Attribute hosts by the offline tiers (ip, cctld, us_tld): ``host, country, method``;
    ``cache_dir`` as for ``ip_countries``.

    Case and trailing dots do not matter; a TLD is ASCII letters, as DNS has them.
    """
    frame = pl.DataFrame({"host": hosts.unique()})
    address = pl.col("host").str.strip_chars_end(".")
    frame = frame.with_columns(
        address.str.contains(_IPV4).alias("_is_ip"),
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
    geo_cache: Path | None = None,
) -> Attribution:
    """Attribute every host in ``host_counts`` (``host``, ``requests``) to a country.

    Args:
        early_stopping: how many of the busiest hosts still unattributed after the offline
            tiers are resolved by DNS (exactly that many, fewer if fewer remain).
        use_dns: run the DNS tier at all.
        dns: resolver, cache, timeouts; see DnsOptions.
        inferred: run the inferred tier (after DNS) for generic names of 1995 operators.
        geo_cache: where the IP database's table is kept between runs (None: not kept).
    """
    if early_stopping < 0:
        raise ValueError(f"early_stopping must not be negative, got {early_stopping}")
    counts = host_counts.select("host", pl.col("requests").cast(pl.UInt64))
    hosts = counts.join(
        offline_countries(counts.get_column("host"), geo_cache), on="host", how="left"
    )
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
        resolved = pl.Series(list(report.addresses.values()), dtype=pl.String)
        found = dict(zip(report.addresses, ip_countries(resolved, geo_cache), strict=True))
        hosts = _fill(hosts, found, "dns")
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
