"""Logs read from a stream rather than a file: standard input (``-``), a named pipe (FIFO), a
character device, ``/dev/stdin``, a process substitution (``<(zcat a.gz)``, ``/dev/fd/63``).

A stream can be read once, and a run reads its start twice: planning looks at it (what it is,
the lines detection reads: ``lib.logs.engines.plan``) before the engine reads it all. A
``StreamInput`` holds the stream and the head planning read from it. ``sample`` gives a reader
from the start that keeps what it takes from the stream; ``take`` gives the one reader of the
whole stream: the kept head, then the rest as it comes, nothing more kept. So detection and the
engine read the same bytes, in memory bounded by the head (what planning read: its 64 KiB of
text, compressed; up to a bzip2 block) and the reader's buffers; nothing is spooled anywhere.

Streams are opened at the edge (``open_stream``: by ``lib.logs.engines.plan.make_plan``, which
is handed standard input by the command) and handed down explicitly (``Plan.streams``, then
``lib.logs.reading.partitions.open_partition``); a ``Partition`` stays plain data and names
its stream (``<stdin>``, or the path given). Imports no polars.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from lib.errors import ConfigError
from lib.logs.errors import LogReadError

STDIN_ARG = "-"  # how a command line (and log_path) names standard input
STDIN = "<stdin>"  # its name in a run: the plan's files, results.json, messages, examples
_BUFFER_BYTES = 64 * 1024  # a reader's buffer (at least the head that tells what a log is)


def is_stream(path: str | Path) -> bool:
    """Whether ``path`` names a stream: ``<stdin>``, a FIFO or a character device (what a
    process substitution or ``/dev/stdin`` is too). False for a name that is not there."""
    if str(path) == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


class StreamInput:
    """A log read from a stream, once (see the module's doc).

    Args:
        name: how the run names it (``<stdin>``, or its path as given).
        raw: the stream, opened for binary reading, nothing read from it yet.
        owned: close ``raw`` when done (a pipe the plan opened); standard input is the
            caller's.
    """

    def __init__(self, name: str, raw: BinaryIO, owned: bool = True) -> None:
        self.name = name
        self._raw = raw
        self._owned = owned
        self._head = bytearray()  # what the samples read from the stream
        self._taken = False
        self._closed = False

    def sample(self) -> BinaryIO:
        """A reader from the stream's start for planning; what it reads is kept for ``take``.
        Raises LogReadError once the stream is taken."""
        if self._taken or self._closed:
            raise LogReadError(f"{self.name} is being read already: a stream can be read once")
        return io.BufferedReader(_Sample(self), _BUFFER_BYTES)

    def take(self) -> BinaryIO:
        """The one reader of the whole stream: the head the samples kept, then the rest.
        Closing it closes the stream. Raises LogReadError when called again."""
        if self._taken:
            raise LogReadError(f"{self.name} was read already: a stream can be read once")
        if self._closed:
            raise LogReadError(f"{self.name} was closed before it was read")
        self._taken = True
        return io.BufferedReader(_Whole(self), _BUFFER_BYTES)

    def identity(self) -> tuple[int, int] | None:
        """The stream's device and inode (the same pipe named twice has one), if it has any."""
        try:
            found = os.fstat(self._raw.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):  # no file descriptor (a test's)
            return None
        return found.st_dev, found.st_ino

    def close(self) -> None:
        """Let the stream go (closed if it is ``owned``); reading it after is an error."""
        if not self._closed:
            self._closed = True
            self._head = bytearray()
            if self._owned:
                self._raw.close()

    def _read(self, buffer: memoryview) -> int:
        """Fill ``buffer`` from the stream (less only at its end): a pipe gives what its writer
        has written, a file gives what is asked; readers see a stream as they see a file."""
        filled = 0
        while filled < len(buffer):
            count = self._raw.readinto(buffer[filled:])  # type: ignore[attr-defined]
            if not count:
                break
            filled += count
        return filled


class _Sample(io.RawIOBase):
    """A planning reader: the head kept so far, then the stream, what it reads kept."""

    def __init__(self, source: StreamInput) -> None:
        self._source = source
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        source, view = self._source, memoryview(buffer).cast("B")
        head = source._head
        if self._at < len(head):
            count = min(len(view), len(head) - self._at)
            view[:count] = head[self._at : self._at + count]
        else:
            if source._taken or source._closed:
                raise LogReadError(f"{source.name} is being read already: it can be read once")
            count = source._read(view)
            head += view[:count]
        self._at += count
        return count


class _Whole(io.RawIOBase):
    """The engine's reader: the kept head (let go once read), then the stream itself."""

    def __init__(self, source: StreamInput) -> None:
        self._source = source
        self._head = source._head
        source._head = bytearray()
        self._at = 0
        self._position = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._at < len(self._head):
            count = min(len(view), len(self._head) - self._at)
            view[:count] = self._head[self._at : self._at + count]
            self._at += count
            if self._at == len(self._head):
                self._head, self._at = bytearray(), 0
        else:
            count = self._source._read(view)
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def open_stream(path: Path, stdin: BinaryIO | None = None) -> StreamInput:
    """The stream ``path`` names (``is_stream``): standard input (``<stdin>``: ``stdin``, which
    the command hands down), or a pipe or device opened here (a FIFO waits for its writer).

    Raises ConfigError (standard input named with none handed down: only a command reads it)
    or LogReadError (the pipe cannot be opened)."""
    if str(path) == STDIN:
        if stdin is None:
            raise ConfigError(
                f"{STDIN_ARG!r} names standard input, which only the command line reads: "
                "name a file"
            )
        return StreamInput(STDIN, stdin, owned=False)
    try:
        raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the StreamInput
    except OSError as exc:
        raise LogReadError(f"cannot open log {path}: {exc.strerror}") from None
    return StreamInput(str(path), raw)


def check_distinct(streams: Iterable[StreamInput]) -> None:
    """Raise ConfigError when two names are one stream (``-`` and ``/dev/stdin`` on the same
    pipe): the first would read it all, the second nothing."""
    seen: dict[tuple[int, int], str] = {}
    for stream in streams:
        identity = stream.identity()
        if identity is None:
            continue
        if identity in seen:
            raise ConfigError(
                f"{seen[identity]} and {stream.name} are the same stream, which can be read "
                "once: name it once"
            )
        seen[identity] = stream.name
