"""Reading one piece of a log (a whole file, a range of it: ``lib.logs.reading.partitions``, or
a stream the plan opened: ``lib.logs.reading.streams``), the way both engines do: its blocks of
whole lines, each counted by the compiled accelerator of the piece's format where there is one
(``lib.logs.parsing.accelerators``: C, the GIL released), and what that leaves (a few damaged
lines, or whole blocks of another format) parsed with polars; the blocks' summaries kept in
order (``lib.logs.counting``).

``PieceReader`` reads in one of two ways:

- with a thread pool (the local engine): ``start`` begins at once, before polars is even
  loaded. A thread of its own reads (and decompresses) the blocks and hands each to the pool,
  which counts it; the lines a block needs polars for wait, in order, until ``summary`` is
  called, which loads polars, lets the pool's threads parse every later block with much for
  polars (a whole block of another format, many left-over lines), and parses the rest (the few
  lines the accelerator left over) as it takes them, those of consecutive blocks at once
  (``lib.logs.counting.counted.Runs``).
  Memory stays bounded: at most ``in_flight`` blocks are being counted or waiting to be taken,
  and reading pauses while the text waiting for polars is over ``MAX_WAITING_BYTES`` (which
  the blocks being counted may pass by a block each);
- without one (a Dask task): ``summary`` reads every block in its own thread.

Either way the summary is the same as polars alone gives (the differential tests hold it to
that). This module imports no polars.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from lib.logs.parsing import accelerators
from lib.logs.parsing.accelerators import Counted
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.reading.blocks import BLOCK_BYTES, iter_blocks
from lib.logs.reading.partitions import Partition, open_partition
from lib.logs.reading.streams import StreamInput
from lib.logs.window import Window

if TYPE_CHECKING:  # for the annotations only: importing them loads polars
    from lib.logs.counting.counted import Runs
    from lib.logs.counting.summary import BlockSequence, LogSummary

MAX_WAITING_BYTES = 64 * 1024 * 1024  # text waiting for polars before reading pauses
POOL_PARSES_BYTES = 256 * 1024  # a block's text for polars the pool parses itself
_END = None  # what the reading thread puts after the last block


class _Failed:
    """What the reading thread puts when the piece cannot be read (a damaged file)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


Waiting = Counted | bytes  # a block's left-over lines, or a whole block, for polars


class PieceReader:
    """Reads and summarises one piece (see the module's doc)."""

    def __init__(
        self,
        part: Partition,
        window: Window,
        choice: FormatChoice,
        block_bytes: int = BLOCK_BYTES,
        pool: Executor | None = None,
        in_flight: int = 1,
        stream: StreamInput | None = None,
    ) -> None:
        self.part = part
        self._stream = stream  # the plan's, when the piece is a stream (standard input, a pipe)
        self._window = window
        self._choice = choice
        self._block_bytes = block_bytes
        self._pool = pool
        self._limit = max(1, in_flight)
        self._counter = accelerators.counter_for(choice, window)
        self._finish: Callable[[Waiting], LogSummary] | None = None  # once polars is loaded
        self._taken: queue.SimpleQueue = queue.SimpleQueue()  # futures, in block order
        self._room = threading.Condition()
        self._busy = 0  # blocks handed to the pool and not yet done with
        self._waiting = 0  # bytes of text waiting for polars
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> PieceReader:
        """Begin reading in a thread of its own, when there is a pool; returns the reader."""
        if self._pool is not None and self._thread is None:
            self._thread = threading.Thread(target=self._read, name="q1-read", daemon=True)
            self._thread.start()
        return self

    def summary(self) -> LogSummary:
        """The piece's summary, its rejected examples naming the file and numbered from the
        piece's first line. Loads polars. Raises LogReadError (a damaged file)."""
        from lib.logs.counting.counted import BlockSummaries, Runs  # loads polars
        from lib.logs.counting.summary import BlockSequence, named

        blocks = BlockSummaries(self._window, self._choice, self._counter)
        self._finish = blocks.finish  # from now on the pool's threads parse whole blocks
        kept = BlockSequence()
        try:
            if self._pool is None:
                runs = Runs(blocks, kept.add, POOL_PARSES_BYTES)
                choice = self._choice
                with open_partition(self.part, self._stream) as stream:
                    for block in iter_blocks(stream, self._block_bytes, name=str(self.part)):
                        runs.put(self._count(block), choice)
                        choice = choice.after(block)
            else:
                self.start()
                runs = Runs(blocks, kept.add, POOL_PARSES_BYTES, self._release)
                while (item := self._taken.get()) is not _END:
                    if isinstance(item, _Failed):
                        raise item.error
                    self._take(item, runs, kept)
            runs.flush()
        finally:
            self.stop()
        kept.add(blocks.counts())
        return named(kept.result(), self.part)

    def stop(self) -> None:
        """Stop reading (at the next block) and wait for the reading thread."""
        with self._room:
            self._stopped = True
            self._room.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _count(self, block: bytes) -> Waiting:
        """A block through the accelerator: what it left over, or the whole block when there is
        none or it counted nothing of it."""
        counted = None if self._counter is None else accelerators.count(self._counter, block)
        return block if counted is None else counted

    def _stage(self, block: bytes, choice: FormatChoice) -> Waiting | LogSummary:
        """In the pool: count a block, and once polars is loaded parse what it left too when
        that is much (a whole block, or ``POOL_PARSES_BYTES`` of left-over lines). A few
        left-over lines are parsed where the summary is taken instead: polars on the pool's
        threads for them slowed the counting that shares those threads (measured: a Combined
        month 3% slower end to end)."""
        item = self._count(block)
        finish = self._finish
        return item if finish is None or _size(item) < POOL_PARSES_BYTES else finish(item, choice)

    def _read(self) -> None:
        """The reading thread: every block handed to the pool, its future queued in order."""
        try:
            with open_partition(self.part, self._stream) as stream:
                blocks = iter_blocks(stream, self._block_bytes, name=str(self.part))
                choice = self._choice  # the format in force where each block starts
                for block in blocks:
                    if not self._make_room():
                        return
                    future = self._pool.submit(self._stage, block, choice)  # type: ignore[union-attr]
                    future.add_done_callback(self._done)
                    self._taken.put((future, choice))
                    choice = choice.after(block)
        except BaseException as error:  # noqa: BLE001 - raised where the summary is taken
            self._taken.put(_Failed(error))
        finally:
            self._taken.put(_END)

    def _make_room(self) -> bool:
        """Wait until another block may be read; False if stopped meanwhile."""
        with self._room:
            self._room.wait_for(
                lambda: (
                    self._stopped
                    or (self._busy < self._limit and self._waiting <= MAX_WAITING_BYTES)
                )
            )
            if self._stopped:
                return False
            self._busy += 1
            return True

    def _done(self, future: Future) -> None:
        """A block counted but not finished waits for polars: its slot is free, its text held."""
        if future.cancelled() or future.exception() is not None:
            return
        item = future.result()
        if isinstance(item, (Counted, bytes)):
            with self._room:
                self._busy -= 1
                self._waiting += _size(item)
                self._room.notify_all()

    def _take(self, taken: tuple[Future, FormatChoice], runs: Runs, kept: BlockSequence) -> None:
        """A block, in order: its summary when the pool finished it, else it goes to ``runs``
        to be finished here as ``choice`` (the format in force at the block's start) says."""
        future, choice = taken
        item: Any = future.result()
        if isinstance(item, (Counted, bytes)):
            runs.put(item, choice)
            return
        runs.flush()  # the blocks before it first
        with self._room:
            self._busy -= 1
            self._room.notify_all()
        kept.add(item)

    def _release(self, items: list[Waiting]) -> None:
        """Blocks finished here: their text no longer waits."""
        with self._room:
            self._waiting -= sum(map(_size, items))
            self._room.notify_all()


def _size(item: Waiting) -> int:
    return len(item) if isinstance(item, bytes) else item.held


def read_piece(
    part: Partition,
    window: Window,
    choice: FormatChoice | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> LogSummary:
    """One piece's summary, read in this thread as ``choice`` says (default: Common, with the
    other registered formats as second chances): what a Dask task runs."""
    choice = choice or FormatChoice.of(FORMATS["common"])
    return PieceReader(part, window, choice, block_bytes).summary()
