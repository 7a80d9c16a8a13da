"""Which registered format a log is in, from its first lines.

A header that declares the fields (``lib.logs.parsing.formats.HEADERS``: W3C's ``#Fields:``)
decides. When a format's accelerator certainly reads more of the lines than match the shape
of any format before it in the registry (Python's ``re``; a format nothing like the log's is
ruled out after a line or two), and at least as many as match any after it (``combined_plus``
matches every line of a format that is Combined and then fields), it is the answer with no more
work. Else each candidate format is matched against the
lines by its shape (no format reads more lines than match its shape), the likeliest parse them
(polars), and the one that reads the most wins, ties going to the format matched by more lines,
then to the registry's order. The first path gives the same answer as the second would: it is
only taken when the second could not answer otherwise.

Imports no polars, and loads it only on the second path: a command detects a Common or
Combined log before polars is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import HEADERS, LogFormat, candidates, wrapped
from lib.logs.parsing.wrappers import WRAPPERS, unwrap_line


def detect(sample: Sequence[str], unwrapped: bool = False) -> LogFormat | None:
    """The format of a log whose first lines are ``sample`` (see the module's doc); None when
    no registered format reads any of them. ``unwrapped``: the lines were taken out of a
    wrapper already (no wrapper is looked for)."""
    lines = [line for line in sample if line.strip()]
    for line in lines:
        for prefix, declared in HEADERS.items():
            if line.startswith(prefix):
                return declared(line)
    inside = None if unwrapped else _inside_wrapper(lines)
    if inside is not None:
        return inside
    formats = candidates()
    for index, fmt in enumerate(formats):
        if fmt.accelerator and _certain(fmt, lines, formats[:index], formats[index + 1 :]):
            return fmt
    fits = {fmt.name: sum(1 for line in lines if fmt.shape.search(line)) for fmt in formats}
    ranked = sorted(formats, key=lambda fmt: -fits[fmt.name])
    return _most_read(ranked, fits, lines)


def _inside_wrapper(lines: list[str]) -> LogFormat | None:
    """The format of lines most of which are inside a wrapper (``WRAPPERS``), read from the
    lines inside; None when they are not, or no format reads those."""
    for name, wrapper in WRAPPERS.items():
        shape = re.compile(wrapper.shape)
        if 2 * sum(1 for line in lines if shape.search(line)) <= len(lines):
            continue
        inner = [unwrap_line(wrapper, line) for line in lines]
        found = detect([one.line for one in inner if one.line and not one.stderr], True)
        if found is not None and found.header is None:
            return wrapped(found, name)
    return None


def _certain(
    fmt: LogFormat, lines: list[str], before: list[LogFormat], after: list[LogFormat]
) -> bool:
    """Whether ``fmt``'s accelerator reads more of ``lines`` than the shape of any format
    ``before`` it (in the registry) matches, and no fewer than any ``after`` it: then no other
    reads more, and ``_most_read`` would try ``fmt`` first (it matches at least as many lines as
    any, and comes first of those that match as many), take it, and stop there."""
    certain = accelerators.certainly_read(fmt, lines)
    return (
        certain > 0
        and all(_fewer(other, lines, certain) for other in before)
        and all(_fewer(other, lines, certain + 1) for other in after)
    )


def _fewer(fmt: LogFormat, lines: list[str], bound: int) -> bool:
    """Whether fewer than ``bound`` of ``lines`` match ``fmt``'s shape; it stops as soon as it
    knows (after one line, for a format nothing like the log's)."""
    count = 0
    for index, line in enumerate(lines):
        count += bool(fmt.shape.search(line))
        if count >= bound:
            return False
        if count + len(lines) - index - 1 < bound:
            return True
    return True


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
