"""Keep each worker process of a local Dask cluster on one CPU of its own.

A LocalCluster here runs one single-threaded worker process per core. Left to the kernel, each
worker's threads (its task thread and polars' pool thread) wander between the cores, and a task
runs 5-15% slower than on a core it keeps (measured: two months parsed side by side, July
1.40 s free vs 1.22 s pinned). ``PinToCpu`` pins every thread of worker ``i`` to the ``i``-th CPU
this process may use (round robin when there are more workers than CPUs); threads started later
inherit it. Where the platform cannot set affinities (not Linux) it does nothing.
``lib.logs.engines._dask_cluster.local_cluster`` pins when its workers take every CPU (``fills``).

On a cluster of your own, ``dask worker <scheduler> --nworkers N --nthreads 1 --name <host>
--preload lib.logs.engines.cpu_pinning`` pins each of the N worker processes the same way
(``dask_setup``).
"""

from __future__ import annotations

import os
import re

from distributed import WorkerPlugin

_TASKS = "/proc/self/task"  # one entry per thread of this process
_NUMBERED = re.compile(r"(?:^|-)([0-9]+)$")  # "3", "w-3"; not "tcp://10.0.0.5:40123"


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, sorted (empty where the platform does not tell)."""
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter else []


def fills(workers: int, cpus: list[int] | None = None) -> bool:
    """Whether ``workers`` processes take every CPU of ``cpus`` (default: this process's), so
    that pinning costs them nothing: with fewer, pinned workers could not move to a free CPU
    when another program is busy on theirs."""
    cpus = allowed_cpus() if cpus is None else cpus
    return bool(cpus) and workers >= len(cpus)


def cpu_for(name: object, cpus: list[int]) -> int | None:
    """The CPU for the worker called ``name``, by its number: a LocalCluster calls its workers 0,
    1, ..., ``dask worker --name w --nworkers N`` calls them w-0, w-1, ... None for any other
    name (an address, say) or when there is no CPU to choose from."""
    number = _NUMBERED.search(str(name))
    return cpus[int(number.group(1)) % len(cpus)] if number and cpus else None


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


def dask_setup(worker) -> None:
    """Called by ``dask worker --preload lib.logs.engines.cpu_pinning`` in each worker process it
    starts."""
    PinToCpu().setup(worker)
