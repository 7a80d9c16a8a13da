"""Planning a Q1 run: which files, cut into which pieces, read by which engine. One step that
returns a ``Plan``; ``lib.logs.engines.execute`` carries it out.

- ``local``: the files one after another in this process, each decompressed by one thread while
  its blocks are parsed on a thread per core. The default for small inputs.
- ``dask``: one task per piece on a Dask cluster (``lib.logs.cluster``): a plain file is cut into
  byte ranges, a gzip or zstd file more than one task slot's share of the work into ranges of its
  text (``lib.logs.inputs.balance``), a bzip2 or xz file is one piece; the biggest pieces go first.
- ``auto``: ``dask`` when a scheduler address is given, or when the input is at least
  ``AUTO_DASK_BYTES`` on disk and has more than one partition; ``local`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lib.errors import ConfigError
from lib.logs.cluster import task_slots
from lib.logs.inputs import (
    PARTITION_BYTES,
    Partition,
    balance,
    input_bytes,
    plan_partitions,
    resolve_paths,
)
from lib.logs.summary import worker_count

ENGINES = ("auto", "local", "dask")
AUTO_DASK_BYTES = 1 << 30  # 1 GiB of input files, compressed or not


@dataclass(frozen=True)
class Plan:
    """What a run reads and where."""

    files: tuple[Path, ...]  # absolute, distinct, sorted
    engine: str  # "local" or "dask"
    pieces: tuple[Partition, ...]  # what is read, in the order it is handed out
    workers: int | None  # local threads or LocalCluster processes (None: a cluster's own)
    scheduler: str | None  # the Dask scheduler's address; None: this process or a LocalCluster
    slots: int  # pieces read at once


def choose_engine(engine: str, paths: list[Path], partitions: int, scheduler: str | None) -> str:
    """Resolve ``auto`` to ``local`` or ``dask``; raise ConfigError for an unknown engine."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    if scheduler or (partitions > 1 and input_bytes(paths) >= AUTO_DASK_BYTES):
        return "dask"
    return "local"


def make_plan(
    log_path: str | Path | Iterable[str | Path],
    engine: str = "auto",
    scheduler: str | None = None,
    workers: int | None = None,
    partition_bytes: int = PARTITION_BYTES,
    base: Path | None = None,
) -> Plan:
    """Plan reading ``log_path`` (a file, a glob or a list; relative to ``base``, default the
    working directory).

    Args:
        engine: ``auto``, ``local`` or ``dask``.
        scheduler: a Dask scheduler's address (Q1's ``DASK_SCHEDULER_ADDRESS``); asked how many
            tasks it runs at once. None: the dask engine starts a LocalCluster.
        workers: local threads, or LocalCluster worker processes (default: the CPU count).
        partition_bytes: the byte range a Dask task reads from a plain file; a gzip or zstd
            file is cut into ranges no shorter than a quarter of it.

    Raises ConfigError (no such file, unknown engine), LogReadError or EngineError.
    """
    files = resolve_paths(log_path, base)
    parts = plan_partitions(files, partition_bytes)
    chosen = choose_engine(engine, files, len(parts), scheduler)
    if chosen == "local":
        threads = worker_count(workers)
        whole = tuple(Partition(str(path)) for path in files)
        return Plan(tuple(files), "local", whole, threads, None, threads)
    slots = task_slots(scheduler, workers)
    pieces = balance(parts, slots, max(1, partition_bytes // 4))
    # Largest first: a big piece started last would leave the other workers idle at the end.
    biggest_first = sorted(pieces, key=lambda part: part.weight, reverse=True)
    count = None if scheduler else worker_count(workers)
    return Plan(tuple(files), "dask", tuple(biggest_first), count, scheduler, slots)
