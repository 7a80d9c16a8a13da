"""Reading lines as a ``FormatChoice`` says: its primary format first, then each line that one
rejects tried with the other registered formats in turn (a server whose configuration changed
mid-file), counting the requests per format; each format's requests with their client as the
choice's rule says (``lib.logs.parsing.client_address``). Lines keep their numbers throughout.
"""

from __future__ import annotations

import polars as pl

from lib.logs.parsing.client_address import with_client
from lib.logs.parsing.fields import REJECTED_SCHEMA
from lib.logs.parsing.formats import FormatChoice, LogFormat

_FEW = 512  # rejected lines checked one by one for another format's shape before parsing them


def parse_with(
    choice: FormatChoice, lines: pl.Series, first_line_no: int = 1, request_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """``(requests, rejected, requests per format name)`` of a batch of lines numbered from
    ``first_line_no``; both frames in line order."""
    requests, rejected = choice.primary.parse_lines(lines, first_line_no, request_parts)
    requests = with_client(requests, choice.primary.roles, choice.client)
    counts = {choice.primary.name: requests.height} if requests.height else {}
    found = [requests]
    for fmt in choice.others:
        if rejected.is_empty():
            break
        again, rejected = _retry(fmt, rejected, request_parts, choice)
        if again.height:
            counts[fmt.name] = counts.get(fmt.name, 0) + again.height
            found.append(again)
    if len(found) > 1:
        requests = pl.concat(found, how="diagonal_relaxed").sort("line_no")
    return requests, rejected, counts


def parse_numbered(
    choice: FormatChoice, lines: pl.DataFrame, request_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """``parse_with`` for lines that keep their own numbers (``line_no``, ``line``; e.g. those
    the accelerator left over): every format, the primary too, checks a few lines for its
    shape before it parses them. With no request found, ``requests`` is empty (and has the
    columns of ``lines``)."""
    found, counts, rejected = [], {}, lines.select(*REJECTED_SCHEMA)
    for fmt in (choice.primary, *choice.others):
        if rejected.is_empty():
            break
        again, rejected = _retry(fmt, rejected, request_parts, choice)
        if again.height:
            counts[fmt.name] = again.height
            found.append(again)
    if not found:
        return lines.clear(), rejected, counts
    return pl.concat(found, how="diagonal_relaxed").sort("line_no"), rejected, counts


def _retry(
    fmt: LogFormat, rejected: pl.DataFrame, request_parts: bool, choice: FormatChoice
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse the rejected lines with ``fmt``, keeping their line numbers. A few lines (the
    usual handful of damaged ones per block) are first checked for the format's shape in
    Python, which costs microseconds where a parse costs milliseconds."""
    lines = rejected.get_column("line")
    if rejected.height <= _FEW:
        shape = fmt.shape
        if not any(shape.search(text) for text in lines.to_list()):
            return rejected.clear(), rejected
    again, still = fmt.parse_lines(lines, 0, request_parts)
    numbers = rejected.get_column("line_no")
    again = again.with_columns(numbers.gather(again.get_column("line_no")).alias("line_no"))
    again = with_client(again, fmt.roles, choice.client)
    still = still.with_columns(numbers.gather(still.get_column("line_no")).alias("line_no"))
    return again, still.select(*REJECTED_SCHEMA)
