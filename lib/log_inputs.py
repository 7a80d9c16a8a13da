"""Which files a Q1 run reads, and the partitions they are cut into.

``log_path`` may be one file, a glob (``logs/*.gz``, ``**`` allowed) or a list of either; gzip and
plain files mix freely. ``resolve_paths`` turns it into a sorted list of distinct absolute files,
so the answers do not depend on the order the files were named in. A glob skips the sidecar
markers of synthetic logs (``*.synthetic.json``): they describe logs, they are not logs.

A *partition* is the unit of parallel work: a whole file, or, for a plain file, the lines that
*start* inside a byte range ``[start, end)``. Every line starts in exactly one range, so a line
that straddles a boundary (damaged or not) is read once, by the partition it starts in. A gzip
file cannot be entered in the middle, so it is always one partition.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lib.access_log import GZIP_MAGIC, open_log
from lib.errors import ConfigError, LogReadError
from lib.synthetic_marker import MARKER_SUFFIX

PARTITION_BYTES = 64 * 1024 * 1024  # plain files are cut into ranges of this size
_GZIP_RATIO = 4  # a gzip log holds about this many times its size in text
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, order=True)
class Partition:
    """The lines of ``path`` that start in ``[start, end)``; ``end`` None means to the end.
    ``weight`` (about how many bytes of text it holds) orders the work; it is not part of the
    partition's identity."""

    path: str
    start: int = 0
    end: int | None = None
    weight: int = field(default=0, compare=False)

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None

    def __str__(self) -> str:
        return self.path if self.whole else f"{self.path}[{self.start}:{self.end}]"


def resolve_paths(
    log_path: str | Path | Iterable[str | Path], base: Path | None = None
) -> list[Path]:
    """The files ``log_path`` names, absolute, distinct and sorted.

    Relative names are taken from ``base`` (default: the working directory). Raises ConfigError
    for an empty list, a glob that matches no file, or a name that is not a file.
    """
    items = [log_path] if isinstance(log_path, (str, Path)) else list(log_path)
    if not items:
        raise ConfigError("log_path names no file (an empty list)")
    base = Path.cwd() if base is None else base
    found: set[Path] = set()
    for item in items:
        path = Path(item).expanduser()
        path = path if path.is_absolute() else base / path
        if _GLOB_CHARS.intersection(str(item)):
            matches = [
                Path(p)
                for p in glob.glob(str(path), recursive=True)
                if Path(p).is_file() and not p.endswith(MARKER_SUFFIX)
            ]
            if not matches:
                raise ConfigError(f"log_path pattern {str(item)!r} matches no file")
            found.update(m.resolve() for m in matches)
        elif path.is_file():
            found.add(path.resolve())
        else:
            raise ConfigError(f"log file not found: {item}")
    return sorted(found)


def is_gzip(path: str | Path) -> bool:
    """True when the file starts with the gzip magic number (its name does not matter)."""
    try:
        with open(path, "rb") as raw:
            return raw.read(2) == GZIP_MAGIC
    except OSError as exc:
        raise LogReadError(f"cannot open log {path}: {exc.strerror}") from None


def plan_partitions(
    paths: Iterable[str | Path], partition_bytes: int = PARTITION_BYTES
) -> list[Partition]:
    """One partition per gzip file, and ranges of ``partition_bytes`` for plain files."""
    if partition_bytes < 1:
        raise ConfigError(f"partition_bytes must be positive, got {partition_bytes}")
    parts: list[Partition] = []
    for path in paths:
        size = Path(path).stat().st_size
        if is_gzip(path):
            parts.append(Partition(str(path), weight=size * _GZIP_RATIO))
        elif size <= partition_bytes:
            parts.append(Partition(str(path), weight=size))
        else:
            for start in range(0, size, partition_bytes):
                end = min(start + partition_bytes, size)
                parts.append(Partition(str(path), start, end, weight=end - start))
    return parts


def input_bytes(paths: Iterable[str | Path]) -> int:
    """The files' sizes on disk, added up (compressed size for gzip)."""
    return sum(Path(p).stat().st_size for p in paths)


class _LineRange:
    """A read-only binary stream of the lines of a plain file that start in ``[start, end)``."""

    def __init__(self, raw: BinaryIO, start: int, end: int):
        self._raw = raw
        if start > 0:  # skip the rest of a line that began before the range
            raw.seek(start - 1)
            raw.readline()
        self._left = max(0, end - raw.tell())

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        piece = self._raw.read(size)
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


def open_partition(part: Partition) -> BinaryIO:
    """Open a partition for binary reading (decompressed if the file is gzip)."""
    if part.whole:
        return open_log(part.path)
    if is_gzip(part.path):
        raise ConfigError(f"{part}: a gzip file cannot be read from the middle")
    try:
        raw = open(part.path, "rb")
    except OSError as exc:
        raise LogReadError(f"cannot open log {part.path}: {exc.strerror}") from None
    return _LineRange(raw, part.start, part.end)  # type: ignore[return-value]
