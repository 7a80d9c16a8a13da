"""Capped exponential backoff for reconnecting: the kiosk's publisher and the worker use it."""

from __future__ import annotations


class Backoff:
    """Delays of ``first``, doubling up to ``cap``, until ``reset`` (call it once a connection
    has done its work again, so that the next outage starts from ``first``)."""

    def __init__(self, first: float = 0.5, cap: float = 10.0):
        if not 0 < first <= cap:
            raise ValueError(f"backoff needs 0 < first <= cap, got {first} and {cap}")
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        """The delay to wait now; the one after is twice as long, up to ``cap``."""
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first
