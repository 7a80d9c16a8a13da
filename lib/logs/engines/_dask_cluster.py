"""The Dask cluster Q1's ``dask`` engine runs on: a scheduler named by its address, or a
``LocalCluster`` of this machine started for the run and closed after it.

A LocalCluster has one single-threaded worker process per core (one partition per process at a
time: the memory bound), polars limited to one thread in each, and each process kept on a CPU of
its own (``lib.logs.engines.cpu_pinning``) when the workers take every CPU. Workers of a real
cluster need this package installed and read access to the logs under the same paths.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from lib.logs.engines.engine import worker_count
from lib.logs.errors import EngineError

CONNECT_TIMEOUT = "10s"  # to reach a named scheduler, and for it to have a worker


def local_cluster(workers: int | None = None, pin: bool | None = None):
    """The LocalCluster the dask engine starts: one single-threaded worker process per core
    (``workers`` to choose), each partition on one core. With ``pin`` each worker is kept on a
    CPU of its own (``lib.logs.engines.cpu_pinning``); by default only when the workers take every
    CPU this process may use, since fewer are better left free to go where the machine is idle.
    Close it (or use ``with``) when done."""
    import dask
    from distributed import LocalCluster

    from lib.logs.engines.cpu_pinning import PinToCpu, fills

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
def client(scheduler: str | None, workers: int | None = None) -> Iterator:
    """A Dask client of the scheduler at ``scheduler`` (EngineError if it cannot be reached), or
    of a LocalCluster of ``workers`` processes, closed on exit. Either way it has a worker."""
    from distributed import Client

    if scheduler:
        try:
            connected = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with connected:
            _wait_for_a_worker(connected, scheduler)
            yield connected
        return
    with local_cluster(workers) as cluster, Client(cluster) as connected:
        _wait_for_a_worker(connected, connected.scheduler.address)
        yield connected


def _wait_for_a_worker(connected, scheduler: str) -> None:
    try:
        connected.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise EngineError(
            f"the Dask scheduler at {scheduler} has no workers (waited {CONNECT_TIMEOUT}); "
            "start some with: dask worker <scheduler address>"
        ) from None


def workers_and_slots(connected) -> tuple[int, int]:
    """How many workers the client's cluster has, and how many tasks they run at once (their
    threads, summed)."""
    found = connected.scheduler_info(n_workers=-1)["workers"].values()
    return len(found), sum(worker.get("nthreads", 1) for worker in found)


def task_slots(scheduler: str | None, workers: int | None = None) -> int:
    """How many tasks the cluster runs at once: asked of the scheduler at ``scheduler``, or
    ``workers`` (default one per CPU) for the single-threaded workers of a LocalCluster."""
    if not scheduler:
        return worker_count(workers)
    with client(scheduler) as connected:
        return workers_and_slots(connected)[1]


def dashboard(connected) -> str | None:
    """The cluster's dashboard URL, or None when it has none (bokeh missing or disabled)."""
    try:
        return connected.dashboard_link
    except Exception:  # noqa: BLE001 - any failure means: no dashboard to show
        return None
