"""The busiest rows of a count table, the way every Q1 ranking orders them: most first, ties by
their key (ascending, a null key last), so a ranking is always the same.

``busiest`` picks the ``n`` rows with polars' ``top_k`` and sorts only those: a full sort of a
table of 75,000 hosts or URLs took 5-12 ms each, and a run ranks several (measured on the
synthetic August 1995 log, ``docs/benchmarks.md``); tests hold it equal to the full sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


def busiest(counts: pl.DataFrame, n: int, key: str, by: str = "requests") -> pl.DataFrame:
    """The ``n`` rows of ``counts`` with most ``by``, ties by ``key``, in that order: what
    ``counts.sort([by, key], descending=[True, False], nulls_last=True).head(n)`` gives."""
    order = {"by": [by, key], "descending": [True, False], "nulls_last": True}
    if n >= counts.height:
        return counts.sort(**order)
    return counts.top_k(max(n, 0), by=[by, key], reverse=[False, True]).sort(**order)


@dataclass(frozen=True)
class Named:
    """Which of a window's hosts the answers name or a tier after the offline ones may change:
    the ``by_requests`` busiest (the top hosts), the ``by_bytes`` busiest by bytes (the
    breakdowns), the ``unattributed`` busiest the offline tiers left that are names rather
    than IP literals (the ones DNS asks), and with ``every_unattributed`` every host the
    offline tiers left (the inferred tier reads them all). Ties go by the host's name, as the
    answers rank."""

    by_requests: int = 10
    by_bytes: int = 10
    unattributed: int = 50
    every_unattributed: bool = False

    def covers(self, other: Named) -> bool:
        """Whether the hosts named so include every host ``other`` names."""
        return (
            self.by_requests >= other.by_requests
            and self.by_bytes >= other.by_bytes
            and self.unattributed >= other.unattributed
            and (self.every_unattributed or not other.every_unattributed)
        )
