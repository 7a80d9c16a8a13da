"""Access logs as blocks of whole lines: a file or a stream opened as text whatever its
compression (plain, gzip, bzip2, xz or zstd) and its encoding (UTF-8, or UTF-16 and UTF-32 read
as UTF-8), told by content, not name, read in blocks that end at a newline, with
memory bounded by the block size whatever the file's. Anything else (an archive, an executable,
binary data, a directory) is a one-line LogReadError that says what it is
(``lib.logs.reading._compression``).

Imports no polars, so a run can start reading before the table library is loaded
(``lib.logs.engines.local``); ``lib.logs.reading.lines`` splits the blocks into lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from isal import igzip, isal_zlib

from lib.logs.errors import LogReadError
from lib.logs.reading._compression import DECODED, HEAD_BYTES, not_a_log, open_decoded, sniff
from lib.logs.reading._compression import GZIP_MAGIC as GZIP_MAGIC
from lib.logs.reading._transcoding import ENCODINGS, open_transcoded

BLOCK_BYTES = 8 * 1024 * 1024  # decompressed bytes parsed at once: bounds memory per batch
READ_BYTES = 1024 * 1024  # decompression step (larger reads are slower with isal)
MAX_LINE_BYTES = 1024 * 1024  # a longer line (and one over a block) is cut: rejected, not kept


def open_log(path: str | Path, name: str | None = None) -> BinaryIO:
    """Open a log file for binary reading of its text (``open_text``: decompressed if it is
    gzip, bzip2, xz or zstd, read as UTF-8 if it is UTF-16 or UTF-32, told by its first bytes,
    not its name).

    Args:
        path: the file.
        name: how messages name it (default: ``path``), e.g. a partition of it.

    Returns:
        A binary stream of the text; an empty file is an empty log.

    Raises:
        LogReadError: it cannot be opened (missing, a directory), or ``open_text`` refuses it.
    """
    path = Path(path)
    name = str(path) if name is None else name
    try:
        raw = path.open("rb")
    except IsADirectoryError:
        raise LogReadError(directory_message(name)) from None
    except OSError as exc:
        raise LogReadError(f"cannot open log {name}: {exc.strerror}") from None
    return open_text(raw, name)


def open_text(raw: BinaryIO, name: str) -> BinaryIO:
    """The text of a log opened for binary reading at its start (a file, or a stream):
    decompressed if it is gzip (ISA-L), bzip2, xz or zstd, and read as UTF-8 if it (or what its
    compression holds) is UTF-16 or UTF-32, all told by the first bytes.

    Args:
        raw: a buffered binary stream (``peek`` shows its first ``HEAD_BYTES`` whole).
        name: how messages name it.

    Raises:
        LogReadError: it is not a text log (an archive, an executable, binary data or a
            compression not read, outside or inside its compression), or its compressed stream
            is damaged where it starts.
    """
    kind = sniff(raw.peek(HEAD_BYTES)[:HEAD_BYTES])  # type: ignore[attr-defined]
    if kind == "text":
        return raw
    if kind in ENCODINGS:
        return open_transcoded(raw, kind)
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
    if inner in ENCODINGS:
        return open_transcoded(stream, inner)
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
    return f"{_CUT_START}{length:,}{_CUT_END}".encode()


_CUT_START, _CUT_END = "\x00[a line of ", " bytes without a newline, longer than any log line]"
_CUT = re.compile(re.escape(_CUT_START.encode()) + rb"([0-9,]+)" + re.escape(_CUT_END.encode()))


def text_length(block: bytes) -> int:
    """How many bytes of the text a block of ``iter_blocks`` stands for: its length, with each
    line too long to keep (``cut_line``) counted as it was."""
    if _CUT_START.encode() not in block:
        return len(block)
    lengths = [int(found.replace(b",", b"")) for found in _CUT.findall(block)]
    return len(block) + sum(length - len(cut_line(length)) for length in lengths)
