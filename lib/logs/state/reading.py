"""Reading the new text of one log for a state directory: from an offset to the end, in blocks
of whole lines parsed with polars, counted per hour (``lib.logs.counting.hourly``), handed out
in chunks of about ``CHUNK_BYTES`` so that each can be committed with the offset it ends at.

A plain file's last line without a newline may still be being written: it is left for a later
run (the offset stops before it). A compressed file is finished: its last line is read whole.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from lib.logs.counting.hourly import hourly_tables, no_tables, stack_tables
from lib.logs.counting.summary import MAX_EXAMPLES
from lib.logs.filters import RequestFilter
from lib.logs.parsing.formats import FormatChoice
from lib.logs.parsing.rejections import rejected_reasons
from lib.logs.parsing.second_chances import parse_with
from lib.logs.reading.blocks import BLOCK_BYTES, iter_blocks, text_length
from lib.logs.reading.lines import block_to_lines
from lib.logs.reading.partitions import Partition, open_partition
from lib.logs.state.files import Step
from lib.logs.window import Window

CHUNK_BYTES = 256 * 1024 * 1024  # text read between two commits
IN_FLIGHT = 2  # blocks parsed side by side


@dataclass(frozen=True)
class Chunk:
    """What a stretch of one log's text holds: its hourly tables (a block's rows after
    another's: an hour and key may have several rows, which the state adds up as it takes them)
    and what belongs to the file."""

    tables: dict[str, pl.DataFrame]
    end: int  # the text offset it ends at (after a newline, or the end of a finished file)
    lines: int
    rejected: int
    filtered: int  # requests the run's filters leave out
    reasons: dict[str, int]  # rejected lines per reason
    examples: pl.DataFrame  # line_no, line: the first rejected lines, numbered in the file
    formats: dict[str, int]  # requests per format
    header: str | None  # the format's header line in force at ``end``
    added_up: bool = False  # one block's tables: an hour and key on one row already


@dataclass(frozen=True)
class _Parsed:
    """One block parsed and counted (``_parse``)."""

    tables: dict[str, pl.DataFrame] | None  # None: no request counted
    lines: int
    rejected: int
    filtered: int
    reasons: dict[str, int]
    examples: pl.DataFrame  # line_no, line: its first rejected lines
    formats: dict[str, int]


def _parse(block: bytes, choice: FormatChoice, first_line: int, only: RequestFilter) -> _Parsed:
    """A block's lines (numbered from ``first_line``) parsed as ``choice`` says and counted
    per hour as ``only`` says. A pure function of its arguments: blocks are parsed side by
    side."""
    lines = block_to_lines(block)
    requests, rejected, formats = parse_with(choice, lines, first_line, request_parts=True)
    filtered = 0
    if only.active and requests.height:
        kept = only.keep(requests, Window.whole())
        filtered, requests = requests.height - kept.height, kept
    reasons = {}
    if rejected.height:
        found = rejected_reasons(rejected, choice.primary.pattern or None)
        reasons = {reason: int(count) for reason, count in found.iter_rows()}
    return _Parsed(
        hourly_tables(requests) if requests.height else None,
        lines.len(),
        rejected.height,
        filtered,
        reasons,
        rejected.select("line_no", "line").head(MAX_EXAMPLES),
        formats,
    )


def _line_count(block: bytes) -> int:
    """How many lines ``lib.logs.reading.lines.block_to_lines`` splits ``block`` into."""
    if not block:
        return 0
    return block.count(b"\n") + (not block.endswith(b"\n"))


class _Chunking:
    """Parsed blocks, in order, gathered into a chunk."""

    def __init__(self, header: str | None) -> None:
        self.header = header  # the format's header line in force after the last block
        self._clear()

    def _clear(self) -> None:
        self._tables: list[dict[str, pl.DataFrame]] = []
        self._lines = self._rejected = self._filtered = self.bytes = 0
        self._reasons: dict[str, int] = {}
        self._examples: list[pl.DataFrame] = []
        self._formats: dict[str, int] = {}

    def add(self, parsed: _Parsed, size: int, header: str | None) -> None:
        if parsed.tables is not None:
            self._tables.append(parsed.tables)
        for reason, count in parsed.reasons.items():
            self._reasons[reason] = self._reasons.get(reason, 0) + count
        if parsed.rejected and sum(f.height for f in self._examples) < MAX_EXAMPLES:
            self._examples.append(parsed.examples)
        for name, count in parsed.formats.items():
            self._formats[name] = self._formats.get(name, 0) + count
        self._lines += parsed.lines
        self._rejected += parsed.rejected
        self._filtered += parsed.filtered
        self.bytes += size
        self.header = header

    def take(self, end: int) -> Chunk:
        tables = stack_tables(self._tables) if self._tables else dict(no_tables())
        examples = (
            pl.concat(self._examples).head(MAX_EXAMPLES)
            if self._examples
            else pl.DataFrame(schema={"line_no": pl.UInt64, "line": pl.String})
        )
        chunk = Chunk(
            tables, end, self._lines, self._rejected, self._filtered, self._reasons,
            examples, self._formats, self.header, added_up=len(self._tables) <= 1,
        )  # fmt: skip
        self._clear()
        return chunk


def read_new(
    step: Step,
    choice: FormatChoice,
    only: RequestFilter,
    lines_before: int = 0,
    header: str | None = None,
    block_bytes: int = BLOCK_BYTES,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[Chunk]:
    """The chunks of ``step``'s file from ``step.start`` on, read as ``choice`` says (with the
    format ``header`` declared in force there); lines numbered after ``lines_before``; requests
    counted as ``only`` says. Blocks are parsed side by side, ``IN_FLIGHT`` at a time, and
    gathered in order. Raises LogReadError."""
    if header is not None:
        choice = choice.after(header.encode())
    chunking = _Chunking(header)
    offset, next_line = step.start, lines_before + 1
    waiting: deque = deque()  # (future, text length, header after the block), in order
    part = Partition(step.seen.path, start=step.start)
    with open_partition(part) as stream, ThreadPoolExecutor(IN_FLIGHT) as pool:
        for block in iter_blocks(stream, block_bytes, name=step.seen.path):
            if step.seen.plain and not block.endswith(b"\n"):
                block = block[: block.rfind(b"\n") + 1]  # a line still being written: later
                if not block:
                    break
            job = pool.submit(_parse, block, choice, next_line, only)
            header = choice.header_line(block) or header
            waiting.append((job, text_length(block), len(block), header))
            next_line += _line_count(block)
            choice = choice.after(block)
            while len(waiting) > IN_FLIGHT:
                offset = _gather(waiting.popleft(), chunking, offset)
                if chunking.bytes >= chunk_bytes:
                    yield chunking.take(offset)
        while waiting:
            offset = _gather(waiting.popleft(), chunking, offset)
            if chunking.bytes >= chunk_bytes:
                yield chunking.take(offset)
    if chunking.bytes or offset == step.start:
        yield chunking.take(offset)


def _gather(waiting: tuple, chunking: _Chunking, offset: int) -> int:
    """A parsed block into ``chunking``; the text offset after it."""
    job, length, size, header = waiting
    chunking.add(job.result(), size, header)
    return offset + length
