"""A format's requests with ``host`` set to the client a ``ClientRule`` says
(``lib.logs.parsing.clients``): the peer's address, the X-Forwarded-For walk, or a header's one
address. The walk runs once per distinct (header, peer) pair of a batch, in Python with
``ipaddress`` (a block has far fewer distinct chains than lines, and proxies repeat), and is
joined back; the forwarding columns are dropped once used.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import polars as pl

from lib.logs.parsing.clients import ClientRule
from lib.logs.parsing.roles import FORWARDING_ROLES


def with_client(requests: pl.DataFrame, roles: tuple[str, ...], rule: ClientRule) -> pl.DataFrame:
    """``requests`` (one format's, whose fields have ``roles``) with ``host`` the client."""
    source = rule.source(roles)
    if source != "host" and requests.height:
        pairs = requests.select(source, "host").unique()
        found = [
            _walk(logged, peer, rule.trusted) if source == "forwarded_for" else _one(logged, peer)
            for logged, peer in pairs.iter_rows()
        ]
        pairs = pairs.with_columns(pl.Series("_client", found, dtype=pl.String))
        joined = requests.join(pairs, on=[source, "host"], how="left", nulls_equal=True)
        requests = joined.with_columns(pl.col("_client").alias("host")).drop("_client")
    return requests.drop([name for name in FORWARDING_ROLES if name in requests.columns])


def _walk(header: str | None, peer: str | None, trusted: tuple[str, ...]) -> str | None:
    """The client of an X-Forwarded-For ``header`` and the ``peer``'s address: walking from
    the right past trusted proxies to the first address that is not one; the last address
    passed when an entry is not an address; the leftmost when all are trusted. With no address
    at all, the peer as logged, else the header as logged."""
    entries = [entry.strip() for entry in (header or "").split(",")] if header != "-" else []
    chain = [entry for entry in entries if entry] + ([peer] if peer else [])
    client = None
    for entry in reversed(chain):
        address = _address(entry)
        if address is None:
            break
        client = address
        if not _trusted(address, trusted):
            break
    return client or peer or header


def _one(header: str | None, peer: str | None) -> str | None:
    """The address a one-address header names, else the peer's."""
    address = _address(header.strip()) if header else None
    return address or peer or header


@lru_cache(maxsize=1 << 16)
def _address(entry: str) -> str | None:
    """``entry`` without its port and brackets if it is an IP address (``1.2.3.4:80``,
    ``[2001:db8::1]:443``), as written; None if it is not one."""
    text = entry
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return None
    return text


@lru_cache(maxsize=1 << 16)
def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks(trusted))


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in trusted)
