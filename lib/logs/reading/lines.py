"""Reading access logs into lines: the blocks of whole lines ``lib.logs.reading.blocks`` reads
(from plain, gzip, bzip2, xz or zstd files) split into one string per line for a format's parser
(``lib.logs.parsing.formats``), and parsed.

Bytes that are not UTF-8 are read as U+FFFD, and so is the control byte 0x1F (the block splitter
uses it internally). Memory is bounded by the block size, whatever the file's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from lib.logs.parsing.formats import PARSED_SCHEMA, parse_lines
from lib.logs.reading.blocks import BLOCK_BYTES, iter_blocks, open_log

_SEPARATOR = "\x1f"  # the batch reader's column separator; no field may contain it
_REPLACEMENT = "\ufffd".encode()
# polars' CSV reader takes a buffer whose first bytes are a zlib or zstd magic number for a
# compressed stream, and fails on it ("corrupt deflate stream" for a log line `x^...`): such a
# block is read behind a filler line. Both magics start with one of these bytes (gzip's, 0x1f,
# is the separator's and replaced before).
_COMPRESSION_LEADS = b"(x"


def block_to_lines(block: bytes) -> pl.Series:
    """Split a block into one string per line (one per newline, plus an unterminated last line;
    a line's trailing carriage return dropped); undecodable bytes become U+FFFD.

    The CSV reader keeps empty lines (as nulls, made "" here) and never joins or splits lines
    with no quote character and a separator that never occurs; a property test holds it to that.
    """
    if not block:
        return pl.Series("line", [], dtype=pl.String)
    if _SEPARATOR.encode() in block:
        block = block.replace(_SEPARATOR.encode(), _REPLACEMENT)
    filler = block[0] in _COMPRESSION_LEADS  # (no byte-order mark then, which only leads)
    frame = pl.read_csv(
        b"-\n" + block if filler else block,
        has_header=False,
        separator=_SEPARATOR,
        quote_char=None,
        encoding="utf8-lossy",
        new_columns=["line"],
        infer_schema=False,
        truncate_ragged_lines=True,
    )
    lines = frame.get_column("line").fill_null("")
    return lines.slice(1) if filler else lines


def iter_parsed(
    path: str | Path, block_bytes: int = BLOCK_BYTES, request_parts: bool = False
) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
    """Stream a log as ``(lines, requests, rejected)`` per block (memory bounded by the block)."""
    line_no = 1
    with open_log(path) as stream:
        for block in iter_blocks(stream, block_bytes, name=str(path)):
            lines = block_to_lines(block)
            good, rejected = parse_lines(lines, line_no, request_parts)
            line_no += lines.len()
            yield lines.len(), good, rejected


def read_log(path: str | Path, request_parts: bool = True):
    """Read a whole log into a pandas DataFrame for exploration (the rejected lines are dropped;
    use ``lib.logs.counting.summary.summarize_log`` for their count). Times are UTC;
    ``utc_offset`` keeps the zone the server wrote."""
    frames = [good for _, good, _ in iter_parsed(path, request_parts=request_parts)]
    if not frames:
        return pl.DataFrame(schema=PARSED_SCHEMA).to_pandas()
    return pl.concat(frames).to_pandas()
