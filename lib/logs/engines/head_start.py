"""A command's head start on its log: a Common or Combined file read and counted in C while the
process is still importing polars and planning, which takes one core 0.15-0.3 s and left the
other idle.

A command that knows its one log file and its window before it imports the rest of Q1
(``python -m lib.logs``, ``bench/q1.py``) calls ``begin``; the local engine ``claim``s the work
when it comes to read that file and carries on from the counts (the lines the C parser left
over still go through polars then, under their line numbers, as on the ordinary path). The
format is guessed from the first block by the C parser itself: Combined if it reads most of
those lines, else Common, else no head start. Anything that does not match the plan (another
file, window, block size or format, the Dask engine) or that went wrong (a damaged file, a
block mostly in another format, too many left-over lines to hold) leaves the head start
unused: it is stopped and the file read again the ordinary way, so the answers never depend
on it.

Imports no polars: that is the point.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lib.logs.reading.blocks import BLOCK_BYTES, iter_blocks, open_log
from lib.logs.window import Window

try:
    from lib.logs.parsing import _clf
except ImportError:  # built without a C compiler: no head start
    _clf = None

SAMPLE_BYTES = 64 * 1024  # of the first block, what the format is guessed by
MAX_LEFT_OVER_BYTES = 64 * 1024 * 1024  # left-over lines held before giving up


@dataclass(frozen=True)
class Counted:
    """What the C parser made of one block: its lines, the bytes sent by the lines it counted,
    the indices and text of the lines it left over, and whether the block ends with a newline."""

    lines: int
    fast_bytes: int
    indices: list[int]
    raw: list[bytes]
    terminated: bool


class GaveUp(Exception):
    """The head start stopped before the end of the file (see the module's docstring)."""


_END = None  # what the thread puts after the last block


class HeadStart:
    """Reads and counts one log in a thread of its own (and a pool of counting threads),
    handing each block's ``Counted`` over in order as it is done."""

    def __init__(self, path: Path, window: Window, workers: int, block_bytes: int) -> None:
        self.path = path
        self.block_bytes = block_bytes
        self.identity = _identity(path)
        self.window = window
        self.parser: str | None = None  # once ``guessed`` is set: None if neither format
        self.counter = None  # the _clf.Counter, once guessed
        self.guessed = threading.Event()
        self._micros = window.micros()
        self._workers = workers
        self._stop = threading.Event()
        self._counted: queue.SimpleQueue = queue.SimpleQueue()
        self._usable = False  # read to the end without giving up
        self._thread = threading.Thread(target=self._run, name="q1-head-start", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading (at the next block) and wait for the thread."""
        self._stop.set()
        self._thread.join()

    def counted(self) -> Iterator[Counted]:
        """Each block's ``Counted``, in order, as the thread gets them done; raises GaveUp if it
        stops before the end of the file or the file changed meanwhile."""
        while (block := self._counted.get()) is not _END:
            yield block
        self._thread.join()
        if not self._usable or _identity(self.path) != self.identity:
            raise GaveUp(str(self.path))

    def _run(self) -> None:
        try:
            with open_log(self.path) as stream:
                blocks = iter_blocks(stream, self.block_bytes, name=str(self.path))
                self._usable = self._count(blocks)
        except Exception:  # noqa: BLE001 - the ordinary path reads it again, says what is wrong
            self._usable = False
        finally:
            self.guessed.set()
            self._counted.put(_END)

    def _count(self, blocks: Iterator[bytes]) -> bool:
        first = next(blocks, None)
        self.parser = None if first is None else guess_parser(first, *self._micros)
        if self.parser is None:
            return False
        self.counter = _clf.Counter(self.parser == "combined", *self._micros)
        self.guessed.set()
        held = 0  # bytes of left-over lines handed over
        pending: deque = deque()
        with ThreadPoolExecutor(self._workers, thread_name_prefix="q1-head-count") as pool:
            for block in itertools.chain([first], blocks):
                if self._stop.is_set():
                    return False
                pending.append((pool.submit(self.counter.add, block), block.endswith(b"\n")))
                while len(pending) > self._workers:
                    if (held := self._hand_over(*pending.popleft(), held)) < 0:
                        return False
            while pending:
                if (held := self._hand_over(*pending.popleft(), held)) < 0:
                    return False
        return not self._stop.is_set()

    def _hand_over(self, future: Future, terminated: bool, held: int) -> int:
        """Hand a counted block over; the bytes of left-over lines handed over so far, or -1 to
        give up."""
        lines, fast_bytes, indices, raw = future.result()
        if indices is None:  # mostly another format: the ordinary path reads it with polars
            return -1
        held += sum(map(len, raw))
        if held > MAX_LEFT_OVER_BYTES:
            return -1
        self._counted.put(Counted(lines, fast_bytes, indices, raw, terminated))
        return held


def guess_parser(block: bytes, start_micros: int, end_micros: int) -> str | None:
    """``combined`` or ``common``, whichever the C parser reads most of the first lines of
    ``block`` as (Combined first: a Combined line is not a Common one); None for neither."""
    end = block.rfind(b"\n", 0, SAMPLE_BYTES) + 1
    sample = block[:end] if end else block[:SAMPLE_BYTES]
    for parser in ("combined", "common"):
        counter = _clf.Counter(parser == "combined", start_micros, end_micros)
        lines, _, indices, _ = counter.add(sample)
        if lines and indices is not None:  # (None: mostly left over)
            return parser
    return None


_started: HeadStart | None = None
_lock = threading.Lock()


def begin(
    logs: list[str],
    window: Window,
    engine: str,
    workers: int | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> bool:
    """Start reading a command's ``logs`` for ``window`` in the background, when that is one
    regular file read by the ``local`` engine (the one ``auto`` took) with the compiled parser
    built; True if it started. ``workers``: counting threads (default: one per CPU).
    At most one head start is kept: a second replaces the first."""
    global _started
    path = Path(logs[0]) if len(logs) == 1 else None
    if _clf is None or engine != "local" or path is None or not path.is_file():
        return False
    with _lock:
        if _started is not None:
            _started.stop()
        _started = HeadStart(path, window, max(1, workers or os.cpu_count() or 1), block_bytes)
    return True


def claim(path: str | Path, window: Window, parser: str, block_bytes: int) -> HeadStart | None:
    """The head start reading ``path`` over ``window`` as ``parser`` in blocks of
    ``block_bytes``, to take its ``counted`` blocks and its ``counter`` from; None when there is
    none that matches (one that does not is stopped and dropped). Taken once."""
    global _started
    with _lock:
        head, _started = _started, None
    if head is None:
        return None
    same = (
        head.identity is not None
        and _identity(Path(path)) == head.identity
        and head.window == window
        and block_bytes == head.block_bytes
    )
    if same:
        head.guessed.wait()
    if not same or head.parser != parser:
        head.stop()
        return None
    return head


def cancel() -> None:
    """Stop and drop a head start nobody claimed."""
    global _started
    with _lock:
        head, _started = _started, None
    if head is not None:
        head.stop()


def _identity(path: Path) -> tuple[int, ...] | None:
    """What tells a file from another, and from itself once rewritten: device, inode, size,
    modification time; None if it cannot be read."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
