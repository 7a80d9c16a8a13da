"""Blocks of whole lines (``lib.logs.reading.blocks``: plain, gzip, bzip2, xz or zstd files)
split into one string per line: the batches a format's parser reads.

Bytes that are not UTF-8 are read as U+FFFD, and so is the control byte 0x1F (the block splitter
uses it internally). Memory is bounded by the block size, whatever the file's.
"""

from __future__ import annotations

import polars as pl

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
