"""Keep each worker process of a local Dask cluster on one CPU of its own.

A LocalCluster here runs one single-threaded worker process per core. Left to the kernel, each
worker's threads (its task thread and polars' pool thread) wander between the cores, and a task
runs 5-15% slower than on a core it keeps (measured: two months parsed side by side, July
1.40 s free vs 1.22 s pinned). ``PinToCpu`` pins every thread of worker ``i`` to the ``i``-th CPU
this process may use (round robin when there are more workers than CPUs); threads started later
inherit it. Where the platform cannot set affinities (not Linux) it does nothing.
"""

from __future__ import annotations

import os

from distributed import WorkerPlugin

_TASKS = "/proc/self/task"  # one entry per thread of this process


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, sorted (empty where the platform does not tell)."""
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter else []


def cpu_for(name: object, cpus: list[int]) -> int | None:
    """The CPU for the worker called ``name`` (a LocalCluster numbers its workers 0, 1, ...), or
    None when the name is not a number or there is no CPU to choose from."""
    try:
        index = int(str(name))
    except ValueError:
        return None
    return cpus[index % len(cpus)] if cpus and index >= 0 else None


def pin_process(cpu: int) -> None:
    """Pin every thread of this process to ``cpu`` (a thread started meanwhile is caught by the
    second pass; later ones inherit the affinity of the thread that starts them)."""
    for _ in range(2):
        for tid in os.listdir(_TASKS):
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except ProcessLookupError:  # the thread ended meanwhile
                pass


class PinToCpu(WorkerPlugin):
    """A worker plugin: on start, pin the worker process to its CPU (see the module's doc)."""

    name = "pin-to-cpu"

    def __init__(self, cpus: list[int] | None = None):
        self.cpus = allowed_cpus() if cpus is None else list(cpus)

    def setup(self, worker) -> None:
        cpu = cpu_for(worker.name, self.cpus)
        if cpu is not None and hasattr(os, "sched_setaffinity") and os.path.isdir(_TASKS):
            pin_process(cpu)
