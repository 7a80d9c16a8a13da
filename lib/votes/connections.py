"""Which connections a kiosk server process keeps, so that no client can take the kiosk: at most
``per_client`` for one client (an IPv4 address, an IPv6 /64: ``lib.votes.rate_limit.client_key``)
and ``total`` in all, the total shared fairly.

A connection that would go over a cap takes the place of a connection that is waiting (for its
next request, or for the rest of one), never of one whose request is being answered:

- over ``per_client``: the client's own connection that has waited longest since it last did
  something goes (a client's newest connection is the one it wants answered);
- over ``total``: the longest-waiting connection of the client holding the most goes, if that
  client holds more than the newcomer's client (so every client keeps at least as many as the
  newcomer's, and a flood from many addresses costs each address its excess, not anyone else
  their share); if none holds more, the newcomer's client gives up its own;
- the newcomer is refused only when no connection it may take the place of is waiting.

Pure bookkeeping, one per server process, used from its event loop (not thread-safe); a
connection is any hashable the caller closes when told.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from lib.votes.rate_limit import client_key

TOTAL, PER_CLIENT = "total", "per_client"  # the caps, as lib.votes.metrics names them


@dataclass(frozen=True)
class Admission:
    """What to do with a new connection: keep it or not (``admitted``); ``closing``, a
    connection to close to make room for it; ``cap``, the cap that was met (None: none)."""

    admitted: bool
    closing: Hashable | None = None
    cap: str | None = None


class ConnectionCaps:
    """The connections of one server process, by client, each client's in the order they last
    did something (the longest waiting first)."""

    def __init__(self, total: int, per_client: int):
        if not 1 <= per_client <= total:
            raise ValueError(f"caps need 1 <= per_client <= total, got {per_client}, {total}")
        self.total, self.per_client = total, per_client
        self._clients: dict[str, OrderedDict[Hashable, None]] = {}
        self._client_of: dict[Hashable, str] = {}
        self._busy: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._client_of)

    def held(self, address: str) -> int:
        """How many connections the client of ``address`` holds."""
        return len(self._clients.get(client_key(address), ()))

    def admit(self, connection: Hashable, address: str) -> Admission:
        """Take in ``connection`` from ``address`` if the caps allow, making room as the module
        says: the connection to close (already forgotten here) and the cap met, if any."""
        key = client_key(address)
        mine = self._clients.get(key, OrderedDict())
        closing, cap = None, None
        if len(mine) >= self.per_client:
            cap, closing = PER_CLIENT, self._waiting(mine)
        elif len(self) >= self.total:
            cap, closing = TOTAL, self._waiting(self._largest(key, len(mine)) or mine)
        if cap is not None and closing is None:
            return Admission(False, None, cap)
        if closing is not None:
            self.release(closing)
        self._clients.setdefault(key, mine)[connection] = None
        self._client_of[connection] = key
        return Admission(True, closing, cap)

    def busy(self, connection: Hashable) -> None:
        """``connection``'s request is complete and being answered: it is not to be closed."""
        if connection in self._client_of:
            self._busy.add(connection)

    def waiting(self, connection: Hashable) -> None:
        """``connection`` was answered and waits again: the last to go of its client's."""
        self._busy.discard(connection)
        key = self._client_of.get(connection)
        if key is not None:
            self._clients[key].move_to_end(connection)

    def release(self, connection: Hashable) -> None:
        """Forget ``connection`` (closed); forgetting one twice is harmless."""
        key = self._client_of.pop(connection, None)
        self._busy.discard(connection)
        if key is not None:
            mine = self._clients[key]
            mine.pop(connection, None)
            if not mine:
                del self._clients[key]

    def _waiting(self, connections: OrderedDict[Hashable, None]) -> Hashable | None:
        """The connection of ``connections`` that has waited longest, not being answered."""
        return next((c for c in connections if c not in self._busy), None)

    def _largest(self, newcomer: str, holds: int) -> OrderedDict[Hashable, None] | None:
        """The connections of the client holding the most, if it holds more than ``holds``
        and is not ``newcomer``'s client."""
        key, most = max(self._clients.items(), key=lambda item: len(item[1]))
        return most if key != newcomer and len(most) > holds else None
