"""Carrying out a Q1 plan (``lib.logs.engines.plan``): its pieces summarised in this process or on
a Dask cluster, and merged.

Both engines run the same function on every piece,
``lib.logs.counting.summary.summarize_partition``, and merge with the same ``PartitionMerger``, so
they give the same answers. A Dask task returns counts only (a few MB), which the client merges as
they arrive. Country attribution runs afterwards, once, on the merged host counts.

Memory per Dask worker is bounded by one partition in flight, read in blocks of
``lib.logs.reading.blocks.BLOCK_BYTES`` (8 MiB decompressed), plus the count tables of the hosts
that partition holds; it does not grow with the number or size of the files.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TextIO

from lib.errors import ProjectError
from lib.logs.counting.summary import (
    LogSummary,
    PartitionMerger,
    Window,
    summarize_files,
    summarize_partition,
)
from lib.logs.engines.dask_cluster import client, dashboard, workers_and_slots
from lib.logs.engines.plan import Plan
from lib.logs.errors import EngineError
from lib.logs.reading.blocks import BLOCK_BYTES
from lib.logs.reading.partitions import Partition

Progress = Callable[[str], None]  # told one line of news at a time


@dataclass(frozen=True)
class EngineRun:
    """How a summary was computed."""

    engine: str  # "local" or "dask"
    partitions: int
    workers: int  # threads (local) or Dask worker processes
    scheduler: str | None  # a scheduler address, "LocalCluster", or None for local
    dashboard: str | None  # the Dask dashboard's URL, when there is one
    seconds: float


def execute(
    plan: Plan,
    window: Window,
    block_bytes: int = BLOCK_BYTES,
    progress: Progress | None = None,
) -> tuple[LogSummary, EngineRun]:
    """Summarise what ``plan`` reads, the way it says. ``progress`` is told, one line at a time,
    where a Dask run is (its cluster and dashboard, then each finished piece). Raises
    LogReadError or EngineError."""
    began = time.perf_counter()
    if plan.engine == "local":
        choices = dict(plan.choices)
        summary = summarize_files(list(plan.files), window, block_bytes, plan.workers, choices)
        run = EngineRun("local", len(plan.files), plan.slots, None, None, 0.0)
    else:
        summary, run = _on_dask(plan, window, block_bytes, progress)
    return summary, replace(run, seconds=round(time.perf_counter() - began, 3))


def _on_dask(
    plan: Plan, window: Window, block_bytes: int, progress: Progress | None
) -> tuple[LogSummary, EngineRun]:
    from distributed import as_completed

    merger = PartitionMerger()
    with client(plan.scheduler, plan.workers) as connected:
        count, _ = workers_and_slots(connected)
        link = dashboard(connected)
        if progress:
            where = plan.scheduler or f"a LocalCluster on {os.cpu_count()} cores"
            progress(
                f"Dask: {len(plan.pieces)} partitions on {count} workers of {where}; "
                f"dashboard {link or 'not available'}"
            )
        futures = {
            connected.submit(
                summarize_partition,
                part,
                window,
                block_bytes,
                choice=plan.choice_for(part.path),
                pure=False,
            ): part
            for part in plan.pieces
        }
        done = 0
        try:
            for future in as_completed(futures):
                part = futures[future]
                merger.add(part, _result(future, part))
                future.release()
                done += 1
                if progress:
                    progress(f"[{done}/{len(plan.pieces)}] {part}")
        finally:
            connected.cancel(list(futures))
    name = plan.scheduler or "LocalCluster"
    return merger.result(), EngineRun("dask", len(plan.pieces), count, name, link, 0.0)


def _result(future, part: Partition) -> LogSummary:
    """A task's summary; the project's own errors pass through, the cluster's are explained."""
    try:
        return future.result()
    except ProjectError:
        raise
    except Exception as exc:  # KilledWorker, CommClosedError...: the cluster failed, not the data
        raise EngineError(f"the Dask task for {part} failed: {type(exc).__name__}: {exc}") from exc


def print_progress(out: TextIO = sys.stdout) -> Progress:
    """A ``progress`` callback that prints each line (flushed, so a notebook shows it live)."""

    def report(line: str) -> None:
        print(line, file=out, flush=True)

    return report
