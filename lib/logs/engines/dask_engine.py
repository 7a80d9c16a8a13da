"""The dask engine: a plan's pieces summarised on a Dask cluster
(``lib.logs.engines._dask_cluster``: a scheduler named by its address, or a LocalCluster started
for the run), each task reading its piece as the local engine reads a file
(``lib.logs.engines.pipeline``) in its one thread and returning counts only (a few MB), which
this process merges as they arrive.

Memory per Dask worker is bounded by one piece in flight, read in blocks of
``lib.logs.reading.blocks.BLOCK_BYTES`` (8 MiB decompressed), plus the count tables of the
hosts that piece holds; it does not grow with the number or size of the files. Imports no
polars (nor Dask, until it runs).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from lib.errors import ConfigError, ProjectError
from lib.logs.engines._dask_cluster import client, dashboard, workers_and_slots
from lib.logs.engines.engine import EngineRun, Progress
from lib.logs.engines.pipeline import read_piece
from lib.logs.engines.plan import Plan, dask_refuses_stream
from lib.logs.errors import EngineError
from lib.logs.reading.blocks import BLOCK_BYTES
from lib.logs.reading.partitions import Partition
from lib.logs.window import Window

if TYPE_CHECKING:  # for the annotations only: importing it loads polars
    from lib.logs.counting.summary import LogSummary


class DaskEngine:
    """Reads a plan's pieces on a Dask cluster (see the module's doc)."""

    name = "dask"

    def __init__(self, plan: Plan, window: Window, block_bytes: int = BLOCK_BYTES) -> None:
        if plan.streams:  # make_plan refuses them for this engine already
            raise ConfigError(dask_refuses_stream(plan.streams[0].name))
        self.plan = plan
        self.window = window
        self._block_bytes = block_bytes

    def start(self) -> DaskEngine:
        """Nothing starts before ``run``: the cluster is reached then."""
        return self

    def run(self, progress: Progress | None = None) -> tuple[LogSummary, EngineRun]:
        """Summarise every piece on the cluster; ``progress`` is told the cluster and its
        dashboard, then each finished piece. Raises LogReadError (a piece a worker cannot
        read) or EngineError (the cluster failed)."""
        from distributed import as_completed

        from lib.logs.counting.summary import PartitionMerger  # loads polars

        began = time.perf_counter()
        plan = self.plan
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
                    read_piece,
                    part,
                    self.window,
                    plan.choice_for(part.path),
                    self._block_bytes,
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
        seconds = round(time.perf_counter() - began, 3)
        name = plan.scheduler or "LocalCluster"
        return merger.result(), EngineRun("dask", len(plan.pieces), count, name, link, seconds)

    def close(self) -> None:
        """Nothing outlives ``run`` (its client and any LocalCluster close with it)."""


def _result(future, part: Partition) -> LogSummary:
    """A task's summary; the project's own errors pass through, the cluster's are explained."""
    try:
        return future.result()
    except ProjectError:
        raise
    except Exception as exc:  # KilledWorker, CommClosedError...: the cluster failed, not the data
        raise EngineError(f"the Dask task for {part} failed: {type(exc).__name__}: {exc}") from exc
