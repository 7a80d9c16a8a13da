"""The partitions a Q1 run's files (``lib.logs.reading.paths``) are cut into.

A *partition* is the unit of parallel work: a whole file, or the lines that *start* inside a
byte range ``[start, end)`` of it. Every line starts in exactly one range, so a line that
straddles a boundary (damaged or not) is read once, by the partition it starts in. A plain file's
ranges are of its bytes, cut by ``plan_partitions``. A compressed file cannot be entered in the
middle: its ranges are of the decompressed text, and a range inflates (without parsing) all the
text before it. ``balance`` cuts a gzip file that way only when the file is more than one
worker's share of the work, so that a few big files still keep every worker busy; a zstd file
too (it decodes as fast). A bzip2 or xz file is read whole, by one worker (``CUT_KINDS``).
"""

from __future__ import annotations

import heapq
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib

from lib.errors import ConfigError
from lib.logs.errors import LogReadError
from lib.logs.reading._compression import (
    HEAD_BYTES,
    READ,
    not_a_log,
    sniff,
    stated_text_size,
)
from lib.logs.reading._transcoding import ENCODINGS
from lib.logs.reading.blocks import (
    GZIP_MAGIC,
    READ_BYTES,
    directory_message,
    open_log,
    open_text,
)
from lib.logs.reading.streams import StreamInput

PARTITION_BYTES = 64 * 1024 * 1024  # plain files are cut into ranges of this size
MIN_RANGE_BYTES = PARTITION_BYTES // 4  # no gzip range is cut shorter (two parse blocks)
INFLATE_SHARE = 0.18  # of the work on a gzip log, the inflating (ISA-L): 0.22 s of a 1.2 s task
_GZIP_RATIO = 4  # a gzip log holds about this many times its size in text
# Text per byte of file when the file does not say: about 2/3 of a synthetic month's ratio, as
# for gzip (gzip -1 5.7; bzip2 -9 14.2, xz -6 12.3, zstd -3 7.9).
_TEXT_RATIO = {"gzip": _GZIP_RATIO, "bzip2": 10, "xz": 8, "zstd": 5}
# A compressed file's work per byte of text, against gzip's (ISA-L), in a one-thread task; its
# weight is its text times this (measured on a synthetic month: docs/benchmarks.md).
WORK_PER_TEXT_BYTE = {"gzip": 1.0, "zstd": 1.0, "xz": 1.6, "bzip2": 3.7}
# The kinds ``balance`` may cut into ranges of their text. Each range decodes the text before
# it, which pays when decoding is a small share of the work, as ISA-L's inflating is
# (INFLATE_SHARE) and zstd's decoding (measured as fast). bzip2 and xz files are read whole.
CUT_KINDS = ("gzip", "zstd")


@dataclass(frozen=True, order=True)
class Partition:
    """The lines of ``path`` that start in ``[start, end)``; ``end`` None means to the end. For
    a compressed file (``packed``: gzip, bzip2, xz or zstd) the offsets are into its text.

    ``weight`` is about how much work it is, in bytes of gzip text read (a gzip range counts
    the text it inflates to get to its start as well; a bzip2 or xz file costs more per byte);
    it orders the work. ``cuttable`` False keeps ``balance`` from cutting a packed file into
    ranges (bzip2 and xz files are read whole). ``weight``, ``packed`` and ``cuttable``
    are not part of the partition's identity."""

    path: str
    start: int = 0
    end: int | None = None
    weight: int = field(default=0, compare=False)
    packed: bool = field(default=False, compare=False)
    cuttable: bool = field(default=True, compare=False)

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None

    def __str__(self) -> str:
        end = "" if self.end is None else self.end
        return self.path if self.whole else f"{self.path}[{self.start}:{end}]"


def is_gzip(path: str | Path) -> bool:
    """True when the file starts with the gzip magic number (its name does not matter)."""
    try:
        with open(path, "rb") as raw:
            return raw.read(2) == GZIP_MAGIC
    except OSError as exc:
        raise LogReadError(f"cannot open log {path}: {exc.strerror}") from None


def log_kind(path: str | Path) -> str:
    """What a log file is, by its first bytes (its name does not matter).

    Returns:
        ``text``, ``gzip``, ``bzip2``, ``xz``, ``zstd``, or an encoding the text is read from
        (``utf-16-le``, ...: ``lib.logs.reading._transcoding.ENCODINGS``).

    Raises:
        LogReadError: it cannot be opened, or it is not a log (an archive, an executable, binary
            data, a compression not read): the one-line message says which.
    """
    try:
        with open(path, "rb") as raw:
            head = raw.read(HEAD_BYTES)
    except IsADirectoryError:
        raise LogReadError(directory_message(str(path))) from None
    except OSError as exc:
        raise LogReadError(f"cannot open log {path}: {exc.strerror}") from None
    kind = sniff(head)
    if kind not in READ:
        raise LogReadError(not_a_log(str(path), kind))
    return kind


def plan_partitions(
    paths: Iterable[str | Path],
    partition_bytes: int = PARTITION_BYTES,
    whole: Iterable[str | Path] = (),
) -> list[Partition]:
    """One whole partition per compressed file (``balance`` may cut gzip and zstd ones) and per
    UTF-16 or UTF-32 file, and ranges of ``partition_bytes`` for plain files; one that cannot be
    cut for each file of ``whole`` (a format its header lines declare: a range would not know
    the header in force at its start).

    Raises ConfigError (``partition_bytes`` not positive) or LogReadError (a file that cannot be
    opened or is not a log; a compressed file's contents are checked when it is read)."""
    if partition_bytes < 1:
        raise ConfigError(f"partition_bytes must be positive, got {partition_bytes}")
    parts: list[Partition] = []
    uncut = {str(path) for path in whole}
    for path in paths:
        kind = log_kind(path)
        size = Path(path).stat().st_size
        if str(path) in uncut:
            packed = kind not in ("text", *ENCODINGS)
            weight = round(WORK_PER_TEXT_BYTE[kind] * text_bytes(path, kind)) if packed else size
            parts.append(
                Partition(str(path), weight=weight, packed=kind != "text", cuttable=False)
            )
        elif kind in ENCODINGS:  # its ranges would be of its UTF-8 text: read whole
            parts.append(Partition(str(path), weight=size, packed=True, cuttable=False))
        elif kind != "text":
            weight = round(WORK_PER_TEXT_BYTE[kind] * text_bytes(path, kind))
            cuttable = kind in CUT_KINDS
            parts.append(Partition(str(path), weight=weight, packed=True, cuttable=cuttable))
        elif size <= partition_bytes:
            parts.append(Partition(str(path), weight=size))
        else:
            for start in range(0, size, partition_bytes):
                end = min(start + partition_bytes, size)
                parts.append(Partition(str(path), start, end, weight=end - start))
    return parts


def text_bytes(path: str | Path, kind: str = "gzip") -> int:
    """About how many bytes of text a log of ``kind`` (what ``log_kind`` says it is) holds.

    A plain file's size. For a compressed file, what the file states when that is plausible
    (from its size to 100 times it): a gzip file's trailer count (the last member's, modulo 4
    GiB), the sizes an xz file's last stream lists in its index, a zstd file's first frame's
    content size. Else a typical ratio of its size for its kind (bzip2 states no size).
    Raises LogReadError if the file cannot be read.
    """
    size = Path(path).stat().st_size
    if kind not in _TEXT_RATIO:
        return size
    try:
        with open(path, "rb") as raw:
            counted = stated_text_size(raw, kind, size)
    except OSError as exc:
        raise LogReadError(f"cannot open log {path}: {exc.strerror}") from None
    if counted is not None and size <= counted <= size * 100:
        return counted
    return size * _TEXT_RATIO[kind]


def balance(
    parts: list[Partition], workers: int, min_bytes: int = MIN_RANGE_BYTES
) -> list[Partition]:
    """Cut each whole gzip (or zstd: ``CUT_KINDS``) partition that is more than one worker's
    share of the work into ranges of its text, so that ``workers`` finish about together. Other
    partitions are kept.

    Cutting costs: the range ``[a, b)`` inflates ``b`` bytes and parses ``b - a``, which adds to
    the work to share; the share is found again from the cut plan a few times, and the plan that
    ``workers`` would finish first, taking the biggest pieces first, is kept.
    """
    if workers < 2:
        return parts
    best, best_time = parts, finish_time(parts, workers)
    share = sum(p.weight for p in parts) / workers
    for _ in range(4):
        plan = [
            piece
            for part in parts
            for piece in (_cut(part, share, min_bytes) if part.weight > share else [part])
        ]
        if (time := finish_time(plan, workers)) < best_time:
            best, best_time = plan, time
        share = sum(p.weight for p in plan) / workers
    return best


def finish_time(parts: list[Partition], workers: int) -> int:
    """When ``workers`` would be done with ``parts`` (in units of weight), each taking the
    biggest piece left whenever it is free, as the dask engine submits them."""
    free = [0] * max(1, workers)
    for part in sorted(parts, key=lambda p: p.weight, reverse=True):
        heapq.heapreplace(free, free[0] + part.weight)
    return max(free)


def _cut(part: Partition, share: float, min_bytes: int) -> list[Partition]:
    """A whole cuttable partition cut into ranges costing ``share`` each, or the least a range can
    cost (inflating the file up to its end) if that is more. They are cut from the end, so the
    later, the shorter; none is shorter than ``min_bytes`` but the first, which is what is left.
    The last runs to the end of the file, whatever its real size."""
    if not (part.packed and part.whole and part.cuttable):
        return [part]
    cost = max(share, INFLATE_SHARE * part.weight + (1 - INFLATE_SHARE) * min_bytes)
    starts: list[int] = []
    end = part.weight
    while (start := int(end - (cost - INFLATE_SHARE * end) / (1 - INFLATE_SHARE))) >= min_bytes:
        starts.append(start)
        end = start
    bounds = [0, *reversed(starts)]
    pieces = []
    for begin, stop in zip(bounds, [*bounds[1:], None], strict=True):
        length = (part.weight if stop is None else stop) - begin
        pieces.append(
            replace(part, start=begin, end=stop, weight=round(INFLATE_SHARE * begin + length))
        )
    return pieces


def input_bytes(paths: Iterable[str | Path]) -> int:
    """The files' sizes on disk, added up (compressed size for a compressed file)."""
    return sum(Path(p).stat().st_size for p in paths)


class _LineRange:
    """A read-only binary stream of the lines that start in ``[start, end)`` of ``raw`` (a plain
    file, or a compressed file's text); ``end`` None means to the end."""

    def __init__(self, raw: BinaryIO, start: int, end: int | None):
        self._raw = raw
        if start > 0:  # skip the rest of a line that began before the range
            _advance(raw, start - 1)
            raw.readline()
        self._left = math.inf if end is None else max(0, end - raw.tell())

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        piece = self._raw.read(-1 if want == math.inf else want)
        self._left = self._left - len(piece) if piece else 0
        if self._left == 0 and piece and not piece.endswith(b"\n"):
            piece += self._raw.readline()  # finish the last line that starts in the range
        return piece

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _LineRange:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _advance(stream: BinaryIO, offset: int) -> None:
    """Move ``stream`` forward to ``offset``: a plain file (``open_text`` gives it back as it was
    opened) seeks there; any other text, decompressed or transcoded, is read up to it in large
    steps (gzip's own ``seek`` reads 8 KiB at a time; the others cannot seek)."""
    if type(stream) is io.BufferedReader:
        stream.seek(offset)
        return
    left = offset - stream.tell()
    while left > 0 and (piece := stream.read(min(READ_BYTES, left))):
        left -= len(piece)


def open_partition(part: Partition, stream: StreamInput | None = None) -> BinaryIO:
    """Open a partition for binary reading of its text (decompressed, transcoded), from its file
    or, when it is a stream (standard input, a pipe), from ``stream``, the one the plan opened
    for it (``lib.logs.reading.streams``: a stream is one whole partition, read once). Raises
    LogReadError."""
    if stream is not None:
        if not part.whole:
            raise ValueError(f"a stream is read whole, not as {part}")
        return open_text(stream.take(), str(part))
    text = open_log(part.path, name=str(part))
    if part.whole:
        return text
    try:
        return _LineRange(text, part.start, part.end)  # type: ignore[return-value]
    except (EOFError, OSError, isal_zlib.error) as exc:
        text.close()
        raise LogReadError(f"{part} is damaged or truncated: {exc}") from None
