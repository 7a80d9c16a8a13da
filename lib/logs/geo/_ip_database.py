"""The IP country databases that ship inside the ``geoip2fast`` wheel (GeoLite2 country, IPv4
and IPv6): read from the package with this project's own reader, kept as Arrow tables in a cache
folder, and searched for a whole batch of addresses at once. An IPv4-mapped IPv6 address counts
as IPv4; reserved, private and unknown space has no country.
"""

from __future__ import annotations

import gzip
import ipaddress
import pickle
from bisect import bisect_left
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from itertools import chain
from pathlib import Path

import polars as pl

from lib.errors import ConfigError
from lib.output import replacing

_IPV4 = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$"

IP_DATABASE = ("geoip2fast", "geoip2fast.dat.gz")  # package, file: GeoLite2 country, IPv4
IP6_DATABASE = ("geoip2fast", "geoip2fast-ipv6.dat.gz")  # the same for IPv4 and IPv6
_IP_DATABASE_VERSIONS = (120, 121)  # the file formats known to hold what read_ip_database reads
_IP_TABLE_FORMAT = 1  # in the cached table's name: changing the table's columns changes it
_IP6_TABLE_FORMAT = 1  # likewise for the IPv6 table
_IP6_COLUMNS = ("first_hi", "first_lo", "last_hi", "last_lo", "prefix", "country")
_LOW64 = (1 << 64) - 1
_LOW32 = (1 << 32) - 1
_MAPPED = 0xFFFF << 32  # ::ffff:0:0/96, IPv4-mapped addresses (RFC 4291 2.5.5.2), in `lo`

# An IPv6 address can have a country only in global unicast space, and not in these blocks of
# it that IANA reserves for special purposes (protocol assignments and Teredo, documentation,
# 6to4); everything outside 2000::/3 (::1, fc00::/7, fe80::/10, ff00::/8, ...) is reserved too.
# Every prefix here is /64 or shorter, so the high half of an address decides.
IPV6_COUNTRY_SPACE = "2000::/3"
IPV6_NO_COUNTRY = ("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")

_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # 0-255, no leading zeros
_IPV6_TEXT = r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$"  # could be an IPv6 literal: these characters
_IPV4_TAIL = rf":({_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}})$"  # an IPv4 address as the last 32 bits
_GAP = "Z"  # stands for "::" while parsing; no candidate holds it
_HEXTET = rf"^(?:[0-9A-Fa-f]{{1,4}}|{_GAP})$"


def _database_file(database: tuple[str, str]) -> Path:
    """Where the ``(package, file)`` database is, without importing the package.

    Raises:
        ConfigError: the package is not installed.
    """
    package, name = database
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the IP database needs the {package} package: pip install {package}")
    return Path(spec.submodule_search_locations[0]) / name


def _read_country_file(
    path: Path, ipv6: bool
) -> tuple[pl.Series, list[int], list[int], list[int]]:
    """The networks of one of geoip2fast's country files, flattened, in address order.

    The file is a gzip pickle of (format version, source, count, tables); a country file's
    tables are (chunk index, names, then per-chunk lists of first addresses as integers, name
    indexes and prefix lengths). Names are "US:United States" for countries, "01:Private ..."
    and the like for reserved or unknown space.

    Args:
        path: the ``.dat.gz`` file.
        ipv6: whether the file must hold IPv6 networks too.

    Returns:
        ``(countries, firsts, name_ids, prefixes)``: the country code of each name (null where
        it is not a two-letter code), and per network its first address, name index and prefix.

    Raises:
        ConfigError: the file is missing, damaged, or not a country file of a known format.
    """
    try:
        with gzip.open(path) as data:
            file_format, source, _, tables = pickle.load(data)
        if (
            file_format not in _IP_DATABASE_VERSIONS
            or source.get("asn")
            or not source["country"]
            or (ipv6 and not source.get("ipv6"))
        ):
            raise ValueError(f"format {file_format} {source}")
        _, names, firsts, name_ids, prefixes = tables
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the IP database {path} cannot be read: {exc}") from None
    codes = [entry.split(":", 1)[0] for entry in names]
    countries = pl.Series([c if len(c) == 2 and c.isalpha() else None for c in codes])
    flat = (list(chain.from_iterable(column)) for column in (firsts, name_ids, prefixes))
    return countries, *flat


def read_ip_database() -> pl.DataFrame:
    """The IPv4 networks of the bundled database, sorted: ``first``, ``last`` (addresses as
    integers) and ``country`` (two letters; null for reserved, private or unknown space).

    Raises:
        ConfigError: the package or its file is missing, or the file is of an unknown format.
    """
    path = _database_file(IP_DATABASE)
    countries, firsts, name_ids, prefixes = _read_country_file(path, ipv6=False)
    prefix = pl.Series(prefixes, dtype=pl.UInt32)
    first = pl.Series("first", firsts, dtype=pl.UInt32)
    country = countries.gather(pl.Series(name_ids))
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


def read_ip6_database() -> pl.DataFrame:
    """The IPv6 networks of the bundled IPv4+IPv6 database, sorted by first address.

    Polars has no 128-bit integer, so each address is two UInt64 halves: ``first_hi``,
    ``first_lo``, ``last_hi``, ``last_lo``; then ``prefix`` (UInt8) and ``country`` (two
    letters; null for reserved or unknown space). The file also holds the IPv4 networks (as
    integers below 2**32, the same as the IPv4 file's); they are left to ``read_ip_database``.

    Raises:
        ConfigError: the package or its file is missing, the file is of an unknown format, or
            its networks are not sorted, aligned CIDR blocks that do not overlap.
    """
    path = _database_file(IP6_DATABASE)
    countries, firsts, name_ids, prefixes = _read_country_file(path, ipv6=True)
    start = bisect_left(firsts, 1 << 32)  # sorted: the IPv6 networks come after the IPv4 ones
    firsts = firsts[start:]
    mask_hi = {p: (1 << max(64 - p, 0)) - 1 for p in range(129)}  # host bits in each half
    mask_lo = {p: (1 << min(128 - p, 64)) - 1 for p in range(129)}
    prefix = pl.col("prefix")
    table = pl.DataFrame(
        {
            "first_hi": pl.Series([f >> 64 for f in firsts], dtype=pl.UInt64),
            "first_lo": pl.Series([f & _LOW64 for f in firsts], dtype=pl.UInt64),
            "prefix": pl.Series(prefixes[start:], dtype=pl.UInt8),
            "country": countries.gather(pl.Series(name_ids[start:])).cast(pl.Categorical),
        }
    )
    if table.height == 0 or not table.get_column("prefix").is_between(0, 128).all():
        raise ConfigError(f"the IP database {path} holds no IPv6 networks or a bad prefix")
    table = table.with_columns(
        prefix.replace_strict(mask_hi, return_dtype=pl.UInt64).alias("_mask_hi"),
        prefix.replace_strict(mask_lo, return_dtype=pl.UInt64).alias("_mask_lo"),
    ).with_columns(
        (pl.col("first_hi") | pl.col("_mask_hi")).alias("last_hi"),
        (pl.col("first_lo") | pl.col("_mask_lo")).alias("last_lo"),
        (
            ((pl.col("first_hi") & pl.col("_mask_hi")) == 0)
            & ((pl.col("first_lo") & pl.col("_mask_lo")) == 0)
        ).alias("_aligned"),
    )
    if not _sorted_and_disjoint(table) or not table.get_column("_aligned").all():
        raise ConfigError(f"the IP database {path} has overlapping or misaligned IPv6 networks")
    return table.select(_IP6_COLUMNS).set_sorted("first_hi")


def _sorted_and_disjoint(table: pl.DataFrame) -> bool:
    """Whether each network of an IPv6 table starts after the one before it ends (comparing
    the (hi, lo) pairs lexicographically)."""
    previous_hi = pl.col("last_hi").shift(1)
    after = (pl.col("first_hi") > previous_hi) | (
        (pl.col("first_hi") == previous_hi) & (pl.col("first_lo") > pl.col("last_lo").shift(1))
    )
    return bool(table.select(after.fill_null(True).all()).item())


def _cached_table(
    kind: str,
    database: tuple[str, str],
    table_format: int,
    read: Callable[[], pl.DataFrame],
    columns: tuple[str, ...],
    cache_dir: Path | None,
) -> pl.DataFrame:
    """``read()``, kept in ``cache_dir`` (None: not kept) as the Arrow file ``<kind>-<key>.arrow``,
    the key naming the table's format and the database file's package version, size and time.

    The cache is only a shortcut: a file that cannot be read, or does not hold a table of
    ``columns`` sorted by the first, is rebuilt; where nothing can be written the table is read
    from the package each time. Files of the same kind with another key are removed when a new
    one is written.

    Raises:
        ConfigError: as ``read`` does, when the package's file has to be read.
    """
    source = _database_file(database)
    if cache_dir is None:
        return read()
    try:
        stat = source.stat()
        key = f"v{table_format}-{version(database[0])}-{stat.st_size}-{stat.st_mtime_ns}"
    except (OSError, PackageNotFoundError):
        return read()
    folder = Path(cache_dir)
    cached = folder / f"{kind}-{key}.arrow"
    try:
        table = pl.read_ipc(cached)
        if tuple(table.columns) == columns and table.height and table[columns[0]].is_sorted():
            return table.set_sorted(columns[0])
    except (OSError, pl.exceptions.PolarsError):
        pass
    table = read()
    try:
        with replacing(cached) as out:
            table.write_ipc(out)
        for stale in folder.glob(f"{kind}-*.arrow"):  # of other versions
            if stale != cached:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only place: no cache, same answers
    return table


@cache
def ip_networks(cache_dir: Path | None = None) -> pl.DataFrame:
    """``read_ip_database``, kept in ``cache_dir`` (Q1's ``GEO_CACHE``; None: not kept) as an
    Arrow file named for the database file's package version, size and time, so later runs read
    it in milliseconds instead of unpickling the package's half a million networks. The cache is
    only a shortcut: if it cannot be read or written the database is read from the package."""
    columns = ("first", "last", "country")
    return _cached_table(
        "ip_networks", IP_DATABASE, _IP_TABLE_FORMAT, read_ip_database, columns, cache_dir
    )


@cache
def ip6_networks(cache_dir: Path | None = None) -> pl.DataFrame:
    """``read_ip6_database``, kept in ``cache_dir`` as ``ip_networks`` keeps the IPv4 table
    (file ``ip6_networks-<key>.arrow``)."""
    return _cached_table(
        "ip6_networks", IP6_DATABASE, _IP6_TABLE_FORMAT, read_ip6_database, _IP6_COLUMNS, cache_dir
    )


def _ipv4_values(addresses: pl.Series) -> pl.Series:
    """Each dotted-quad IPv4 address (octets 0-255, leading zeros read as decimal) as a UInt32;
    null for anything else."""
    octets = addresses.str.split(".")
    numbers = octets.list.eval(pl.element().str.to_integer(strict=False).cast(pl.UInt32))
    well_formed = addresses.str.contains(_IPV4).fill_null(False) & (
        numbers.list.max().fill_null(256) <= 255
    )
    return pl.select(
        pl.when(well_formed).then(
            sum(numbers.list.get(i, null_on_oob=True) * (1 << (24 - 8 * i)) for i in range(4))
        )
    ).to_series()


def _u64(value: int) -> pl.Expr:
    """``value`` as a UInt64 literal (so arithmetic with UInt64 columns stays UInt64)."""
    return pl.lit(value, pl.UInt64)


def _dotted_value(dotted: pl.Expr) -> pl.Expr:
    """The value of an (already validated) dotted-quad IPv4 address as UInt64; null stays null."""
    octets = dotted.str.split(".")
    return pl.sum_horizontal(
        octets.list.get(i).str.to_integer().cast(pl.UInt64) * _u64(1 << (24 - 8 * i))
        for i in range(4)
    )


def parse_ipv6(addresses: pl.Series) -> pl.DataFrame:
    """Each IPv6 literal in ``addresses`` as two UInt64 halves, all at once.

    Accepts what RFC 4291 (2.2) does, as Python's ``ipaddress.IPv6Address`` does: eight groups
    of one to four hex digits in any case, at most one ``::`` standing for one or more zero
    groups, and an IPv4 address (no leading zeros) as the last 32 bits. Not IPv6 literals:
    anything else, including a zone (``fe80::1%eth0``), brackets (``[::1]``) and spaces.

    Args:
        addresses: strings (or nulls).

    Returns:
        A frame as long as ``addresses``: ``hi`` and ``lo`` (UInt64, the address's high and low
        64 bits), both null where the text is not an IPv6 literal.
    """
    text = pl.col("text")
    tail = text.str.extract(_IPV4_TAIL, 1)
    body = pl.when(tail.is_not_null()).then(text.str.replace(r"[0-9.]+$", "0:0")).otherwise(text)
    marked = (
        body.str.replace_all("::", f":{_GAP}:", literal=True)
        .str.replace(f"^:{_GAP}", _GAP)
        .str.replace(f"{_GAP}:$", _GAP)
    )
    frame = pl.DataFrame({"text": addresses.cast(pl.String)}).select(
        text.str.contains(_IPV6_TEXT).fill_null(False).alias("candidate"),
        marked.str.split(":").alias("groups"),
        _dotted_value(tail).fill_null(0).alias("v4"),
    )
    groups = pl.col("groups")
    is_gap = groups.list.eval(pl.element() == _GAP)
    frame = frame.with_columns(
        groups.list.len().cast(pl.Int32).alias("count"),
        is_gap.list.sum().alias("gaps"),
        groups.list.eval(pl.element().str.contains(_HEXTET)).list.all().alias("hextets"),
        groups.list.eval(pl.element().str.to_integer(base=16, strict=False)).alias("words"),
    ).with_columns(
        pl.when(pl.col("gaps") == 1)
        .then(is_gap.list.arg_max().cast(pl.Int32))
        .otherwise(8)
        .alias("gap_at"),
    )
    count, gaps = pl.col("count"), pl.col("gaps")
    valid = (
        pl.col("candidate")
        & pl.col("hextets")
        & (((gaps == 0) & (count == 8)) | ((gaps == 1) & (count <= 8)))
    )
    halves = [
        pl.sum_horizontal(_word(p) * _u64(1 << (16 * (3 - p % 4))) for p in range(half, half + 4))
        for half in (0, 4)
    ]
    return frame.select(
        pl.when(valid).then(halves[0]).alias("hi"),
        pl.when(valid).then(halves[1] + pl.col("v4")).alias("lo"),
    )


def _word(position: int) -> pl.Expr:
    """The 16-bit group at ``position`` (0-7) of a parsed address as UInt64: from ``words``,
    or 0 where ``::`` (``gap_at``, filling ``9 - count`` groups) covers it. For ``parse_ipv6``."""
    gap_at, count = pl.col("gap_at"), pl.col("count")
    source = (
        pl.when(position < gap_at)
        .then(position)
        .when(position < gap_at + 9 - count)
        .then(None)
        .otherwise(position - 8 + count)
    )
    return pl.col("words").list.get(source, null_on_oob=True).fill_null(0).cast(pl.UInt64)


def _high_half_range(cidr: str) -> tuple[int, int]:
    """The first and last high halves of an IPv6 network of prefix /64 or shorter."""
    network = ipaddress.IPv6Network(cidr)
    if network.prefixlen > 64:
        raise ValueError(f"{cidr}: only prefixes up to /64 are decided by the high half")
    return int(network.network_address) >> 64, int(network.broadcast_address) >> 64


def _ipv6_may_have_country(hi: pl.Expr) -> pl.Expr:
    """Whether an IPv6 address, by its high half, is in space that can have a country:
    ``IPV6_COUNTRY_SPACE`` outside ``IPV6_NO_COUNTRY``."""

    def within(cidr: str) -> pl.Expr:
        first, last = _high_half_range(cidr)
        return hi.is_between(_u64(first), _u64(last))

    reserved = pl.any_horizontal(within(cidr) for cidr in IPV6_NO_COUNTRY)
    return within(IPV6_COUNTRY_SPACE) & ~reserved


def _ipv4_lookup(values: pl.Series, cache_dir: Path | None) -> pl.Series:
    """The country of each IPv4 address (UInt32; null: none to look up) from ``ip_networks``."""
    if not values.is_not_null().any():
        return pl.Series("country", [None] * len(values), dtype=pl.String)
    networks = ip_networks(cache_dir)
    row = networks.get_column("first").search_sorted(values.fill_null(0), side="right")
    row = row.cast(pl.Int64) - 1
    found = networks.select(pl.all().gather(row.clip(0)))
    inside = (row >= 0) & (values <= found.get_column("last")).fill_null(False)
    country = found.get_column("country").cast(pl.String)
    return pl.select(pl.when(inside).then(country).alias("country")).to_series()


def _ipv6_lookup(hi: pl.Series, lo: pl.Series, cache_dir: Path | None) -> pl.Series:
    """The country of each IPv6 address (as UInt64 halves; null: none to look up), from
    ``ip6_networks``, null outside the space that can have one (``_ipv6_may_have_country``).

    Exact, in two vectorised steps, because the networks are CIDR blocks that do not overlap:
    one of /64 or shorter covers every low half of the high halves it spans, so it is found by
    a sorted search on ``hi`` alone (the last network starting at or below ``hi``); one longer
    than /64 lies within a single high half, so it is found by joining on ``hi`` and testing
    ``lo`` against its range (a few hundred such networks, at most a few per high half).
    """
    if not hi.is_not_null().any():
        return pl.Series("country", [None] * len(hi), dtype=pl.String)
    networks = ip6_networks(cache_dir)
    row = networks.get_column("first_hi").search_sorted(hi.fill_null(0), side="right")
    row = row.cast(pl.Int64) - 1
    found = networks.select(pl.all().gather(row.clip(0)))
    wide = (row >= 0) & (found.get_column("prefix") <= 64) & (hi <= found.get_column("last_hi"))
    country = pl.select(
        pl.when(wide.fill_null(False)).then(found.get_column("country").cast(pl.String))
    ).to_series()
    narrow = networks.filter(pl.col("prefix") > 64).select(
        pl.col("first_hi").alias("hi"),
        "first_lo",
        "last_lo",
        pl.col("country").cast(pl.String),
    )
    queries = pl.DataFrame({"hi": hi, "lo": lo}).with_row_index("row")
    hits = queries.join(narrow, on="hi").filter(
        pl.col("lo").is_between(pl.col("first_lo"), pl.col("last_lo"))
    )
    country = country.scatter(hits.get_column("row"), hits.get_column("country"))
    may_have = _ipv6_may_have_country(pl.col("hi")).fill_null(False)
    return (
        queries.with_columns(country=country)
        .select(pl.when(may_have).then(pl.col("country")).alias("country"))
        .to_series()
    )


def ip_countries(addresses: pl.Series, cache_dir: Path | None = None) -> pl.Series:
    """The country of each public IP address from the bundled databases (their tables kept in
    ``cache_dir``, see ``ip_networks``), all at once.

    IPv4 is dotted-quad; IPv6 is read by ``parse_ipv6``, and an IPv4-mapped IPv6 address
    (``::ffff:1.2.3.4``, ``::ffff:102:304``) is looked up as its IPv4 address. Null for anything
    else: not an address, private or reserved (IPv6: see ``IPV6_NO_COUNTRY``), or in no network
    of the database. Each table is loaded only if the batch holds an address of its family.

    Raises:
        ConfigError: a database needed is missing or unreadable.
    """
    text = addresses.cast(pl.String)
    if not text.str.contains(":", literal=True).any():  # IPv4 only (the NASA log): no IPv6 work
        return _ipv4_lookup(_ipv4_values(text), cache_dir).alias("country")
    v6 = parse_ipv6(text)
    mapped = v6.select(
        (pl.col("hi") == 0) & pl.col("lo").is_between(_MAPPED, _MAPPED + (1 << 32) - 1)
    ).to_series()
    v4 = pl.select(
        pl.coalesce(
            _ipv4_values(text),
            pl.when(mapped).then((v6.get_column("lo") & _LOW32).cast(pl.UInt32)),
        )
    ).to_series()
    is_v6 = ~mapped.fill_null(True)  # mapped is null where the text is not IPv6
    by_v4 = _ipv4_lookup(v4, cache_dir)
    hi = pl.select(pl.when(is_v6).then(v6.get_column("hi"))).to_series()
    by_v6 = _ipv6_lookup(hi, v6.get_column("lo"), cache_dir)
    return pl.select(pl.coalesce(by_v4, by_v6).alias("country")).to_series()


def ip_country(address: str) -> str | None:
    """``ip_countries`` for one address."""
    return ip_countries(pl.Series([address], dtype=pl.String)).item()
