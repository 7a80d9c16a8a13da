"""Who a request's client is: the rule an operator gives (``ClientRule``).

Behind a load balancer or a proxy the server logs the proxy as its peer (``%h``,
``$remote_addr``), and the client's address only in a forwarding header. The rule says which
logged field is the client:

- ``remote`` (the default): the peer's address, as the server logged it. A format that logs no
  peer address but a forwarding header (``%{X-Forwarded-For}i`` in its place) takes the client
  from that header, as ``forwarded`` does.
- ``forwarded``: from X-Forwarded-For, the way nginx's realip module (``real_ip_recursive on``)
  and Apache's mod_remoteip read it. The addresses the request came through are the header's
  list, left to right, then the peer's address; walking them from the right, every trusted proxy
  (``trusted``: networks, by default private, loopback, link-local and shared address space,
  where load balancers live) is passed over, and the first address that is not one is the
  client. An entry that is not an address (``unknown``, ``-``, an obfuscated name) ends the walk:
  the client is then the last address passed over, never a value a client could have made up.
  When every address is a trusted proxy, the client is the leftmost. Lines of a format that logs
  no X-Forwarded-For keep their peer's address.
- ``real_ip``: from a header that names one address (X-Real-IP, CF-Connecting-IP,
  True-Client-IP), when it holds one; else the peer's address.

Plain data, checked when a run is planned (``lib.logs.engines.plan``); the addresses are worked
out per distinct chain by ``lib.logs.parsing.client_address``. Imports no polars.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from lib.errors import ConfigError
from lib.logs.parsing.roles import FORWARDING_ROLES

CLIENTS = {  # the rule -> the role its field has (lib.logs.parsing.roles)
    "remote": "host",
    "forwarded": "forwarded_for",
    "real_ip": "real_ip",
}
TRUSTED_PROXIES = (  # where load balancers and proxies live, unless told otherwise
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
)


@dataclass(frozen=True)
class ClientRule:
    """Which logged field is a request's client (see the module's doc)."""

    client: str = "remote"  # a key of CLIENTS
    trusted: tuple[str, ...] = TRUSTED_PROXIES  # networks, for ``forwarded``

    @property
    def role(self) -> str:
        """The role of the field the client is read from."""
        return CLIENTS[self.client]

    def source(self, roles: tuple[str, ...]) -> str:
        """The role the client is read from for a format whose fields have ``roles``: the
        rule's, where the format logs it; else the peer's address; for a format that logs no
        peer's address, its forwarding header (and ``host`` for one that logs no client at
        all: it reads no request)."""
        if self.role in roles:
            return self.role
        forwarding = [role for role in FORWARDING_ROLES if role in roles]
        return forwarding[0] if forwarding and "host" not in roles else "host"


def client_rule(client: str = "remote", trusted: str | Sequence[str] | None = None) -> ClientRule:
    """The rule ``client`` (``remote``, ``forwarded`` or ``real_ip``) with ``trusted`` proxies:
    networks or addresses, a list or one comma-separated string; None or empty: the default
    ``TRUSTED_PROXIES``. Raises ConfigError for an unknown rule or a network that is not one."""
    if client not in CLIENTS:
        raise ConfigError(f"client must be one of {', '.join(CLIENTS)}, got {client!r}")
    items = trusted.split(",") if isinstance(trusted, str) else list(trusted or ())
    networks = []
    for item in (text.strip() for text in items):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(f"trusted proxies: {item!r} is not an address or network") from None
    return ClientRule(client, tuple(networks) or TRUSTED_PROXIES)
