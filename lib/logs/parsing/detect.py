"""Which registered format a log is in, from its first lines.

A header that declares the fields (``lib.logs.parsing.formats.HEADERS``: W3C's ``#Fields:``)
decides. Otherwise each candidate format is matched against the lines by its shape (Python's
``re``, microseconds): no format reads more lines than match its shape. When a format's
accelerator certainly reads more of them than match any other's shape, it is the answer with no
more work; else the likeliest formats parse the lines (polars) and the one that reads the most
wins, ties going to the format matched by more lines, then to the registry's order. The first
path gives the same answer as the second would: it is only taken when the second could not
answer otherwise.

Imports no polars, and loads it only on the second path: a command detects a Common or
Combined log before polars is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import HEADERS, LogFormat, candidates


def detect(sample: Sequence[str]) -> LogFormat | None:
    """The format of a log whose first lines are ``sample`` (see the module's doc); None when
    no registered format reads any of them."""
    lines = [line for line in sample if line.strip()]
    for line in lines:
        for prefix, declared in HEADERS.items():
            if line.startswith(prefix):
                return declared(line)
    formats = candidates()
    fits = {fmt.name: sum(1 for line in lines if fmt.shape.search(line)) for fmt in formats}
    ranked = sorted(formats, key=lambda fmt: -fits[fmt.name])
    if ranked and _certain(ranked[0], lines, [fits[fmt.name] for fmt in ranked[1:]]):
        return ranked[0]
    return _most_read(ranked, fits, lines)


def _certain(fmt: LogFormat, lines: list[str], others: list[int]) -> bool:
    """Whether ``fmt``'s accelerator reads more of ``lines`` than the shapes of the other
    formats match (``others``): then no other can read as many."""
    return accelerators.certainly_read(fmt, lines) > max(others, default=0)


def _most_read(
    ranked: list[LogFormat], fits: dict[str, int], lines: list[str]
) -> LogFormat | None:
    """The format that parses the most of ``lines``, trying them most-matched first."""
    import polars as pl  # only here: the first path needs none

    series = pl.Series("line", lines, dtype=pl.String)
    best, most = None, 0
    for fmt in ranked:
        if fits[fmt.name] <= most:
            break  # no format can read more lines than match its shape
        parsed = fmt.parse_lines(series)[0].height
        if parsed > most:
            best, most = fmt, parsed
    return best
