"""The local engine: one process, the plan's files (and streams) one after another, each read by
a ``PieceReader`` (``lib.logs.engines.pipeline``) on a pool of a thread per core. The compiled
accelerator counts what it can with the GIL released and polars parses the rest, so the cores
stay busy on any format.

``start`` begins reading and counting the first file at once: a command makes the plan and
starts the engine before it loads polars and the rest of Q1, which takes one core 0.15-0.3 s
(``python -m lib.logs``, ``bench/q1.py``); the file is read meanwhile, and ``run`` carries on
from there. Imports no polars.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from lib.logs.engines.engine import EngineRun, Progress, worker_count
from lib.logs.engines.pipeline import PieceReader
from lib.logs.engines.plan import Plan
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.reading.blocks import BLOCK_BYTES
from lib.logs.reading.partitions import Partition
from lib.logs.window import Window

if TYPE_CHECKING:  # for the annotations only: importing it loads polars
    from lib.logs.counting.summary import LogSummary


class LocalEngine:
    """Reads a plan's files in this process (see the module's doc)."""

    name = "local"

    def __init__(self, plan: Plan, window: Window, block_bytes: int = BLOCK_BYTES) -> None:
        self.plan = plan
        self.window = window
        self._block_bytes = block_bytes
        self._pool: ThreadPoolExecutor | None = None
        self._first: PieceReader | None = None  # started before run

    def start(self) -> LocalEngine:
        """Begin reading and counting the first file (needs no polars); returns the engine."""
        if self._first is None and self.plan.pieces:
            self._first = self._reader(self.plan.pieces[0]).start()
        return self

    def run(self, progress: Progress | None = None) -> tuple[LogSummary, EngineRun]:
        """Summarise every file of the plan, in order (``progress`` is not told anything: a
        local run has no news worth a line). Raises LogReadError. Closes the engine."""
        from lib.logs.counting.summary import PartitionMerger  # loads polars

        began = time.perf_counter()
        merger = PartitionMerger()
        try:
            for index, part in enumerate(self.plan.pieces):
                reader = self._first if index == 0 and self._first else self._reader(part)
                merger.add(part, reader.summary())
        finally:
            self.close()
        seconds = round(time.perf_counter() - began, 3)
        run = EngineRun("local", len(self.plan.files), self.plan.slots, None, None, seconds)
        return merger.result(), run

    def close(self) -> None:
        """Stop a reader still running and the pool's threads; let the plan's streams go."""
        if self._first is not None:
            self._first.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for stream in self.plan.streams:
            stream.close()

    def _reader(self, part: Partition) -> PieceReader:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.plan.slots, thread_name_prefix="q1-count")
        choice = self.plan.choice_for(part.path)
        stream = self.plan.stream_for(part.path)
        return PieceReader(
            part, self.window, choice, self._block_bytes, self._pool, self.plan.slots, stream
        )


def summarize_log(
    path: str | Path,
    window: Window,
    block_bytes: int = BLOCK_BYTES,
    workers: int | None = None,
    choice: FormatChoice | None = None,
) -> LogSummary:
    """One log (plain, gzip, bzip2, xz or zstd) summarised by the local engine, read as
    ``choice`` says (default: Common, with the other registered formats as second chances), on
    ``workers`` threads (default: one per CPU). For a notebook's own questions and tests;
    ``lib.logs.q1.run_q1`` plans a run and detects the format. Raises LogReadError."""
    choice = choice or FormatChoice.of(FORMATS["common"])
    threads = worker_count(workers)
    plan = Plan(
        files=(Path(path),),
        engine="local",
        pieces=(Partition(str(path)),),
        workers=threads,
        scheduler=None,
        slots=threads,
        choices=((str(path), choice),),
        named=str(path),
    )
    return LocalEngine(plan, window, block_bytes).run()[0]
