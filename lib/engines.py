"""Where Q1's log summaries are computed: in this process, or on a Dask cluster.

- ``local``: the files one after another in this process, each decompressed by this thread while
  its blocks are parsed on a thread per core. The default for small inputs.
- ``dask``: one task per partition (``lib.log_inputs``; a gzip file bigger than a worker's
  share of the work is cut into ranges of its text by ``balance``) on a Dask cluster: the
  scheduler named by the ``scheduler`` argument or ``DASK_SCHEDULER_ADDRESS``, else a
  ``LocalCluster`` of one single-threaded worker process per core, each kept on a CPU of its own.
  Workers need this package installed and read access to the files under the same paths.
- ``auto``: ``dask`` when a scheduler address is set, or when the input is at least
  ``AUTO_DASK_BYTES`` on disk and has more than one partition; ``local`` otherwise.

Both engines run the same function on every piece, ``lib.log_summary.summarize_partition``, and
merge with the same ``PartitionMerger``, so they give the same answers. A task returns counts
only (a few MB), which the client merges as they arrive. Country attribution runs afterwards, once,
on the merged host counts: each distinct host is looked up once, by the client, with its one DNS
cache on disk.

Memory per Dask worker is bounded by one partition in flight, read in blocks of
``lib.access_log.BLOCK_BYTES`` (8 MiB decompressed), plus the count tables of the hosts that
partition holds; it does not grow with the number or size of the files.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from lib.access_log import BLOCK_BYTES
from lib.config import dask_scheduler_address
from lib.errors import ConfigError, EngineError, ProjectError
from lib.log_inputs import PARTITION_BYTES, Partition, balance, input_bytes, plan_partitions
from lib.log_summary import (
    LogSummary,
    PartitionMerger,
    Window,
    summarize_files,
    summarize_partition,
    worker_count,
)

ENGINES = ("auto", "local", "dask")
AUTO_DASK_BYTES = 1 << 30  # 1 GiB of input files, compressed or not
CONNECT_TIMEOUT = "10s"  # to reach a named scheduler, and for it to have a worker

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


def choose_engine(engine: str, paths: list[Path], partitions: int, scheduler: str | None) -> str:
    """Resolve ``auto`` to ``local`` or ``dask``; raise ConfigError for an unknown engine."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    if scheduler or (partitions > 1 and input_bytes(paths) >= AUTO_DASK_BYTES):
        return "dask"
    return "local"


def summarize_inputs(
    paths: list[Path],
    window: Window,
    engine: str = "auto",
    scheduler: str | None = None,
    workers: int | None = None,
    partition_bytes: int = PARTITION_BYTES,
    block_bytes: int = BLOCK_BYTES,
    progress: Progress | None = None,
) -> tuple[LogSummary, EngineRun]:
    """Summarise ``paths`` (from ``lib.log_inputs.resolve_paths``) with the chosen engine.

    Args:
        scheduler: a Dask scheduler address; default ``DASK_SCHEDULER_ADDRESS``, else a
            LocalCluster.
        workers: local threads, or LocalCluster worker processes (default: the CPU count).
        partition_bytes: the byte range a Dask task reads from a plain file; a gzip file is cut
            (``lib.log_inputs.balance``) into ranges no shorter than a quarter of it.
        progress: told, one line at a time, where the Dask run is (its cluster and dashboard,
            then each finished partition).

    Raises ConfigError, LogReadError or EngineError.
    """
    scheduler = scheduler or dask_scheduler_address()
    parts = plan_partitions(paths, partition_bytes)
    chosen = choose_engine(engine, paths, len(parts), scheduler)
    began = time.perf_counter()
    if chosen == "local":
        threads = worker_count(workers)
        summary = summarize_files(paths, window, block_bytes, threads)
        run = EngineRun("local", len(paths), threads, None, None, 0.0)
    else:
        shortest = max(1, partition_bytes // 4)
        summary, run = _summarize_on_dask(
            parts, window, scheduler, workers, block_bytes, shortest, progress
        )
    return summary, replace(run, seconds=round(time.perf_counter() - began, 3))


def _summarize_on_dask(
    parts: list[Partition],
    window: Window,
    scheduler: str | None,
    workers: int | None,
    block_bytes: int,
    shortest: int,
    progress: Progress | None,
) -> tuple[LogSummary, EngineRun]:
    from distributed import as_completed

    merger = PartitionMerger()
    with _client(scheduler, workers) as client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise EngineError(
                f"the Dask scheduler at {scheduler or client.scheduler.address} has no workers "
                f"(waited {CONNECT_TIMEOUT}); "
                "start some with: dask worker <scheduler address>"
            ) from None
        found = client.scheduler_info(n_workers=-1)["workers"].values()
        count, slots = len(found), sum(worker.get("nthreads", 1) for worker in found)
        parts = balance(parts, slots, shortest)  # gzip files bigger than a task slot's share cut
        # Largest first: a big piece started last would leave the other workers idle at the end.
        biggest_first = sorted(parts, key=lambda part: part.weight, reverse=True)
        dashboard = _dashboard(client)
        if progress:
            where = scheduler or f"a LocalCluster on {os.cpu_count()} cores"
            progress(
                f"Dask: {len(parts)} partitions on {count} workers of {where}; "
                f"dashboard {dashboard or 'not available'}"
            )
        futures = {
            client.submit(summarize_partition, part, window, block_bytes, pure=False): part
            for part in biggest_first
        }
        done = 0
        try:
            for future in as_completed(futures):
                part = futures[future]
                merger.add(part, _result(future, part))
                future.release()
                done += 1
                if progress:
                    progress(f"[{done}/{len(parts)}] {part}")
        finally:
            client.cancel(list(futures))
        name = scheduler or "LocalCluster"
    return merger.result(), EngineRun("dask", len(parts), count, name, dashboard, 0.0)


def _result(future, part: Partition) -> LogSummary:
    """A task's summary; the project's own errors pass through, the cluster's are explained."""
    try:
        return future.result()
    except ProjectError:
        raise
    except Exception as exc:  # KilledWorker, CommClosedError...: the cluster failed, not the data
        raise EngineError(f"the Dask task for {part} failed: {type(exc).__name__}: {exc}") from exc


def local_cluster(workers: int | None = None, pin: bool | None = None):
    """The LocalCluster the dask engine starts: one single-threaded worker process per core
    (``workers`` to choose), each partition on one core. With ``pin`` each worker is kept on a
    CPU of its own (``lib.cpu_pinning``); by default only when the workers take every CPU this
    process may use, since fewer are better left free to go where the machine is idle. Close it
    (or use ``with``) when done."""
    import logging

    import dask
    from distributed import LocalCluster

    from lib.cpu_pinning import PinToCpu, fills

    count = worker_count(workers)
    pin = fills(count) if pin is None else pin
    # Set before each worker process starts (it imports polars, which sizes its pool, at once).
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), "POLARS_MAX_THREADS": "1"}
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # measured: a task ran 5-10% slower with it
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(
            n_workers=count,
            threads_per_worker=1,  # one partition per process at a time: the memory bound
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            plugins={PinToCpu()} if pin else set(),
        )


@contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator:
    """A Dask client of the named scheduler, or of a LocalCluster closed on exit."""
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with local_cluster(workers) as cluster, Client(cluster) as client:
        yield client


def _dashboard(client) -> str | None:
    try:
        return client.dashboard_link
    except Exception:  # no dashboard (bokeh missing or disabled)
        return None


def print_progress(out: TextIO = sys.stdout) -> Progress:
    """A ``progress`` callback that prints each line (flushed, so a notebook shows it live)."""

    def report(line: str) -> None:
        print(line, file=out, flush=True)

    return report
