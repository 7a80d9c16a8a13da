"""Reading access logs: plain, gzip, bzip2, xz or zstd files (told by content, not name), in
blocks of whole lines, split into one string per line for a format's parser
(``lib.logs.formats``). Anything else (an archive, an executable, binary data, a directory) is a
one-line LogReadError that says what it is (``lib.logs.compression``).

Bytes that are not UTF-8 are read as U+FFFD, and so is the control byte 0x1F (the block splitter
uses it internally). Memory is bounded by the block size, whatever the file's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl
from isal import igzip, isal_zlib

from lib.logs.compression import DECODED, HEAD_BYTES, not_a_log, open_decoded, sniff
from lib.logs.compression import GZIP_MAGIC as GZIP_MAGIC
from lib.logs.errors import LogReadError
from lib.logs.formats import PARSED_SCHEMA, parse_lines

BLOCK_BYTES = 8 * 1024 * 1024  # decompressed bytes parsed at once: bounds memory per batch
READ_BYTES = 1024 * 1024  # decompression step (larger reads are slower with isal)
MAX_LINE_BYTES = 1024 * 1024  # a longer line (and one over a block) is cut: rejected, not kept
_SEPARATOR = "\x1f"  # the batch reader's column separator; no field may contain it
_REPLACEMENT = "\ufffd".encode()
# polars' CSV reader takes a buffer whose first bytes are a zlib or zstd magic number for a
# compressed stream, and fails on it ("corrupt deflate stream" for a log line `x^...`): such a
# block is read behind a filler line. Both magics start with one of these bytes (gzip's, 0x1f,
# is the separator's and replaced before).
_COMPRESSION_LEADS = b"(x"


def open_log(path: str | Path, name: str | None = None) -> BinaryIO:
    """Open a log for binary reading of its text: decompressed if it is gzip (ISA-L), bzip2, xz
    or zstd, told by its first bytes, not its name.

    Args:
        path: the file.
        name: how messages name it (default: ``path``), e.g. a partition of it.

    Returns:
        A binary stream of the text; an empty file is an empty log.

    Raises:
        LogReadError: it cannot be opened (missing, a directory); it is not a text log (an
            archive, an executable, binary data or a compression not read, outside or inside
            its compression); or its compressed stream is damaged where it starts.
    """
    path = Path(path)
    name = str(path) if name is None else name
    try:
        raw = path.open("rb")
    except IsADirectoryError:
        raise LogReadError(directory_message(name)) from None
    except OSError as exc:
        raise LogReadError(f"cannot open log {name}: {exc.strerror}") from None
    kind = sniff(raw.peek(HEAD_BYTES)[:HEAD_BYTES])
    if kind == "text":
        return raw
    if kind == "gzip":
        stream: BinaryIO = igzip.IGzipFile(fileobj=raw, mode="rb")
    elif kind in DECODED:
        stream = open_decoded(raw, kind)
    else:
        raw.close()
        raise LogReadError(not_a_log(name, kind))
    try:
        inner = sniff(stream.peek(HEAD_BYTES)[:HEAD_BYTES])  # type: ignore[attr-defined]
    except (EOFError, OSError, isal_zlib.error) as exc:
        stream.close()
        raise LogReadError(f"{name} is damaged or truncated: {exc}") from None
    if inner != "text":
        stream.close()
        raise LogReadError(not_a_log(name, inner, outer=kind))
    return stream


def directory_message(name: str) -> str:
    """Why a directory given as a log is refused, and what to name instead."""
    return f"{name} is a directory: name its files, e.g. '{Path(name) / '*.log'}'"


def iter_blocks(
    stream: BinaryIO,
    block_bytes: int = BLOCK_BYTES,
    name: str = "log",
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[bytes]:
    """Yield blocks of about ``block_bytes`` holding whole lines (each block ends with a newline,
    but maybe the last one). A line longer than ``max_line`` or a block, whichever is more (no
    log line is nearly that long: servers cap a request line at 8-64 KiB), is not kept: it is
    skipped to its end and stands as one line saying so (``cut_line``), which no format reads,
    so it is counted as a rejected line and memory stays bounded whatever the input. A line
    shorter than that limit is always kept; one longer than the limit and a block is never.
    Raise LogReadError if the stream is damaged or truncated."""
    limit = max(block_bytes, max_line)
    pieces: list[bytes] = []  # read, not yet yielded: joined once per block (a single copy)
    held = 0  # their length
    skipped: int | None = None  # bytes of an over-long line skipped so far
    while True:
        try:
            piece = stream.read(min(READ_BYTES, block_bytes))
        except (EOFError, OSError, isal_zlib.error) as exc:
            raise LogReadError(f"{name} is damaged or truncated: {exc}") from None
        ended = not piece
        if skipped is not None:
            end = piece.find(b"\n")
            if not ended and end < 0:
                skipped += len(piece)
                continue
            pieces.append(cut_line(skipped + max(end, 0)) + (b"" if ended else b"\n"))
            held += len(pieces[-1])
            piece, skipped = piece[end + 1 :], None
        if piece:
            pieces.append(piece)
            held += len(piece)
        if not ended and held < block_bytes:
            continue
        block, pieces = (pieces, []) if ended else _split_after_last_newline(pieces)
        if block:
            yield b"".join(block)
        held = sum(map(len, pieces))
        if held >= limit:  # that much without a newline: not a log line
            skipped = held
            pieces, held = [], 0
        if ended:
            return


def _split_after_last_newline(pieces: list[bytes]) -> tuple[list, list[bytes]]:
    """``pieces`` cut after their last newline: (what comes up to it, as views where a piece is
    cut; what follows it). Nothing before if no piece holds a newline."""
    for index in range(len(pieces) - 1, -1, -1):
        end = pieces[index].rfind(b"\n") + 1
        if end:
            piece = pieces[index]
            head = piece if end == len(piece) else memoryview(piece)[:end]
            rest = [piece[end:]] if end < len(piece) else []
            return [*pieces[:index], head], rest + pieces[index + 1 :]
    return [], pieces


def cut_line(length: int) -> bytes:
    """What stands for a line of ``length`` bytes that was too long to keep: text no log format
    reads (it starts with a NUL byte and holds no time)."""
    return f"\x00[a line of {length:,} bytes without a newline, longer than any log line]".encode()


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
    use ``lib.logs.summary.summarize_log`` for their count). Times are UTC; ``utc_offset`` keeps
    the zone the server wrote."""
    frames = [good for _, good, _ in iter_parsed(path, request_parts=request_parts)]
    if not frames:
        return pl.DataFrame(schema=PARSED_SCHEMA).to_pandas()
    return pl.concat(frames).to_pandas()
