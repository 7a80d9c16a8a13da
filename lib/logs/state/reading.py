"""Reading the new text of one log for a state directory: from an offset to the end, in blocks
of whole lines parsed with polars, counted per hour (``lib.logs.counting.hourly``), handed out
in chunks of about ``CHUNK_BYTES`` so that each can be committed with the offset it ends at.

A plain file's last line without a newline may still be being written: it is left for a later
run (the offset stops before it). A compressed file is finished: its last line is read whole.
"""

from __future__ import annotations

from collections.abc import Iterator
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


class _Chunking:
    """Blocks parsed and counted, gathered into a chunk."""

    def __init__(self, choice: FormatChoice, only: RequestFilter, first_line: int) -> None:
        self.choice = choice
        self._only = only
        self._whole = Window.whole()
        self.next_line = first_line
        self._clear()

    def _clear(self) -> None:
        self._tables: list[dict[str, pl.DataFrame]] = []
        self._lines = self._rejected = self._filtered = self.bytes = 0
        self._reasons: dict[str, int] = {}
        self._examples: list[pl.DataFrame] = []
        self._formats: dict[str, int] = {}

    def add(self, block: bytes) -> None:
        lines = block_to_lines(block)
        requests, rejected, formats = parse_with(
            self.choice, lines, self.next_line, request_parts=True
        )
        if self._only.active and requests.height:
            kept = self._only.keep(requests, self._whole)
            self._filtered += requests.height - kept.height
            requests = kept
        if requests.height:
            self._tables.append(hourly_tables(requests))
        if rejected.height:
            reasons = rejected_reasons(rejected, self.choice.primary.pattern or None)
            for reason, count in reasons.iter_rows():
                self._reasons[reason] = self._reasons.get(reason, 0) + int(count)
            if sum(frame.height for frame in self._examples) < MAX_EXAMPLES:
                self._examples.append(rejected.select("line_no", "line").head(MAX_EXAMPLES))
        for name, count in formats.items():
            self._formats[name] = self._formats.get(name, 0) + count
        self._lines += lines.len()
        self._rejected += rejected.height
        self.bytes += len(block)
        self.next_line += lines.len()
        self.header = self.choice.header_line(block) or self.header
        self.choice = self.choice.after(block)

    def take(self, end: int) -> Chunk:
        tables = stack_tables(self._tables) if self._tables else dict(no_tables())
        examples = (
            pl.concat(self._examples).head(MAX_EXAMPLES)
            if self._examples
            else pl.DataFrame(schema={"line_no": pl.UInt64, "line": pl.String})
        )
        chunk = Chunk(
            tables, end, self._lines, self._rejected, self._filtered, self._reasons,
            examples, self._formats, self.header,
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
    counted as ``only`` says. Raises LogReadError."""
    if header is not None:
        choice = choice.after(header.encode())
    chunking = _Chunking(choice, only, lines_before + 1)
    chunking.header = header
    offset = step.start
    part = Partition(step.seen.path, start=step.start)
    with open_partition(part) as stream:
        for block in iter_blocks(stream, block_bytes, name=step.seen.path):
            if step.seen.plain and not block.endswith(b"\n"):
                block = block[: block.rfind(b"\n") + 1]  # a line still being written: later
                if not block:
                    break
            chunking.add(block)
            offset += text_length(block)
            if chunking.bytes >= chunk_bytes:
                yield chunking.take(offset)
    if chunking.bytes or offset == step.start:
        yield chunking.take(offset)
