"""A log as a table of its requests, for exploration: every field its format has, the request
line cut into method, path and protocol. Q1's answers do not go this way (they count in one
pass, ``lib.logs.engines``); this is for a notebook's questions of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from lib.logs.parsing.fields import PARSED_SCHEMA
from lib.logs.parsing.formats import FORMATS, LogFormat
from lib.logs.reading.blocks import BLOCK_BYTES, iter_blocks, open_log
from lib.logs.reading.lines import block_to_lines


def iter_parsed(
    path: str | Path,
    block_bytes: int = BLOCK_BYTES,
    request_parts: bool = False,
    fmt: LogFormat | None = None,
) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
    """Stream a log read as ``fmt`` (default: Common) as ``(lines, requests, rejected)`` per
    block (memory bounded by the block)."""
    fmt = fmt or FORMATS["common"]
    line_no = 1
    with open_log(path) as stream:
        for block in iter_blocks(stream, block_bytes, name=str(path)):
            lines = block_to_lines(block)
            good, rejected = fmt.parse_lines(lines, line_no, request_parts)
            line_no += lines.len()
            yield lines.len(), good, rejected


def read_log(path: str | Path, request_parts: bool = True):
    """Read a whole log into a pandas DataFrame for exploration (the rejected lines are dropped;
    ``lib.logs.engines.local.summarize_log`` counts them). Times are UTC;
    ``utc_offset`` keeps the zone the server wrote."""
    frames = [good for _, good, _ in iter_parsed(path, request_parts=request_parts)]
    if not frames:
        return pl.DataFrame(schema=PARSED_SCHEMA).to_pandas()
    return pl.concat(frames).to_pandas()
