"""A token bucket: at most ``rate`` events a second on average, bursts up to ``burst``; and one
per client, for the most recently seen clients."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    """Thread-safe: ``allow()`` takes a token if there is one (``clock`` injectable for tests)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._last = burst, clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


class ClientBuckets:
    """A TokenBucket per client, the ``max_clients`` most recently seen (least recently seen
    dropped first), so one client's flood spends only its own budget, in bounded memory. IPv6
    clients are taken per /64 (one host's worth of addresses)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        TokenBucket(rate, burst, clock)  # the same checks, once
        self.rate, self.burst, self.max_clients, self._clock = rate, burst, max_clients, clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Take a token from ``client``'s bucket (a new client starts with a full one)."""
        key = client_key(client)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
                if len(self._buckets) > self.max_clients:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
        return bucket.allow()

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(address: str) -> str:
    """The rate-limited unit an address belongs to: an IPv4 address, an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))
