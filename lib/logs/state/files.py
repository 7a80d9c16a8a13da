"""Which input files hold text a state directory has not read yet, and from where.

A *log* is a text the state has read part of: known by a hash of its first bytes (``HEAD_BYTES``
of its text, decompressed, or fewer while it is shorter) and the offset read so far (up to a
newline), with the file it was last read from (device, inode, size, time). A file is matched to
a log by its content, not its name:

- its first bytes hash as a log's: the same log. It may have been renamed (``access.log`` to
  ``access.log.1``), compressed (``access.log.1.gz``: its text is the same) or copied (the copy of
  ``copytruncate``); what follows the offset is new. Several files holding one log (the
  ``access.log.1`` still there beside its ``.gz``) are read once, from the likeliest one.
- no log matches: a new log, read from its start. When it is where a log was read before, in
  the same file (device and inode), the file was truncated or replaced: the state says so.

A compressed file matched to a log is opened only when it may hold more than was read: not when
it is the file last read, unchanged, nor when its stated text size (gzip's trailer, xz's index,
zstd's header) is the offset. Pure functions, but for ``look_at``, which reads a file's head.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from lib.logs.errors import LogReadError
from lib.logs.reading._compression import stated_text_size
from lib.logs.reading.blocks import open_log
from lib.logs.reading.partitions import log_kind

HEAD_BYTES = 4096  # of a log's text, hashed to know it by
_STATED_MODULO = {"gzip": 1 << 32}  # gzip's trailer states the size modulo 4 GiB


@dataclass(frozen=True)
class Seen:
    """An input file as a run finds it."""

    path: str
    kind: str  # lib.logs.reading.partitions.log_kind: text, gzip, ...
    dev: int
    inode: int
    size: int  # on disk
    mtime_ns: int
    head: bytes  # the first HEAD_BYTES of its text (fewer if it is shorter)
    stated: int | None = None  # a compressed file's text size, as it states it

    @property
    def plain(self) -> bool:
        return self.kind == "text"

    @property
    def same_file(self) -> tuple[int, int, int, int]:
        return (self.dev, self.inode, self.size, self.mtime_ns)


@dataclass(frozen=True)
class Known:
    """A log the state has read part of."""

    id: int
    path: str  # the file it was last read from
    dev: int
    inode: int
    size: int
    mtime_ns: int
    head_len: int
    head_hash: str
    offset: int  # text read, up to the end of a line
    lines: int  # lines read
    header: str | None = None  # the format's header line in force at the offset (W3C)

    @property
    def same_file(self) -> tuple[int, int, int, int]:
        return (self.dev, self.inode, self.size, self.mtime_ns)


@dataclass(frozen=True)
class Step:
    """What a run does with one input file: read its text from ``start`` as (the rest of)
    ``known`` (None: a new log), or not at all (``skip`` says why); ``note`` is what the state
    records about it (a rotation, a truncation)."""

    seen: Seen
    known: Known | None
    start: int = 0
    skip: str | None = None
    note: str | None = None
    duplicate: bool = False  # another file holds the same log and is read for it


def head_hash(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def look_at(path: str | Path) -> Seen:
    """``path`` as it is now: its identity and the head of its text. Raises LogReadError."""
    path = str(path)
    kind = log_kind(path)
    try:
        info = os.stat(path)
        with open_log(path) as text:
            head = text.read(HEAD_BYTES)
        stated = None
        if kind != "text":
            with open(path, "rb") as raw:
                stated = stated_text_size(raw, kind, info.st_size)
    except OSError as exc:
        raise LogReadError(f"cannot read log {path}: {exc.strerror or exc}") from None
    return Seen(path, kind, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, head, stated)


def _matches(seen: Seen, by_head: dict[int, dict[str, Known]]) -> Known | None:
    """The log whose first bytes ``seen`` starts with (the longest such head), if any."""
    for length in sorted(by_head, reverse=True):
        if len(seen.head) >= length and (
            found := by_head[length].get(head_hash(seen.head[:length]))
        ):
            return found
    return None


def _likeliest(files: list[Seen], known: Known) -> Seen:
    """Of files holding one log, the one to read it from: the file it was read from, else a
    plain one (a compressed copy may be being written), else the largest."""
    return min(
        files,
        key=lambda s: ((s.dev, s.inode) != (known.dev, known.inode), not s.plain, -s.size, s.path),
    )


def plan_steps(seen: list[Seen], known: list[Known]) -> list[Step]:
    """What to do with each of ``seen`` (see the module's doc), in their order."""
    by_head: dict[int, dict[str, Known]] = {}
    for log in known:
        by_head.setdefault(log.head_len, {})[log.head_hash] = log
    matched: dict[int, list[Seen]] = {}
    for file in seen:
        if (log := _matches(file, by_head)) is not None:
            matched.setdefault(log.id, []).append(file)
    by_id = {log.id: log for log in known}
    chosen = {by_id[i].id: _likeliest(files, by_id[i]) for i, files in matched.items()}
    by_place = {(log.dev, log.inode): log for log in known}
    steps = []
    for file in seen:
        log = next((by_id[i] for i, files in matched.items() if file in files), None)
        if log is None:
            steps.append(_new(file, by_place.get((file.dev, file.inode))))
        elif chosen[log.id] is not file:
            said = f"the same log as {chosen[log.id].path}"
            steps.append(Step(file, log, skip=said, duplicate=True))
        else:
            steps.append(_continued(file, log))
    return steps


def _new(file: Seen, was: Known | None) -> Step:
    if was is not None and was.path == file.path:
        note = f"{file.path} was truncated or replaced since it was read: read from its start"
        return Step(file, None, note=note)
    return Step(file, None)


def _continued(file: Seen, log: Known) -> Step:
    """``file`` holds ``log``: read what follows its offset, if anything may."""
    step = Step(file, log, start=log.offset)
    if log.path != file.path:
        step = replace(step, note=f"{log.path} is now {file.path} (renamed or compressed)")
    if file.plain:
        if file.size < log.offset:  # shorter than what was read, yet it starts the same
            note = f"{file.path} is shorter than what was read of it: read from its start"
            return Step(file, None, note=note)
        if file.size == log.offset:
            return replace(step, skip="nothing new")
        return step
    if file.same_file == log.same_file:
        return replace(step, skip="nothing new (unchanged since read)")
    if file.stated is not None and file.stated == log.offset % _STATED_MODULO.get(
        file.kind, 1 << 64
    ):
        return replace(step, skip="nothing new (its stated size is what was read)")
    return step
