"""Which CPU a local Dask worker is kept on, and that pinning catches every thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lib.logs.engines.cpu_pinning import allowed_cpus, cpu_for, fills

linux_only = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or not os.path.isdir("/proc/self/task"),
    reason="CPU affinity is set through Linux's sched_setaffinity and /proc",
)


def test_workers_take_the_allowed_cpus_in_turn():
    assert [cpu_for(i, [2, 5]) for i in range(5)] == [2, 5, 2, 5, 2]
    assert cpu_for("1", [2, 5]) == 5  # a name that is a number, as text
    assert [cpu_for(f"node7-{i}", [2, 5]) for i in range(3)] == [2, 5, 2]  # dask worker --name


def test_no_cpu_for_a_name_without_a_number_or_without_cpus():
    assert cpu_for("tcp://10.0.0.5:40123", [0, 1]) is None  # the default name: an address
    assert cpu_for("worker-a", [0, 1]) is None
    assert cpu_for(None, [0, 1]) is None
    assert cpu_for(0, []) is None


def test_workers_fill_the_cpus_when_there_is_one_per_cpu_or_more():
    assert fills(2, [0, 1]) and fills(3, [0, 1])
    assert not fills(1, [0, 1])  # one CPU left free: pinning could keep a worker off it
    assert not fills(1, [])  # the platform does not tell


@linux_only
def test_allowed_cpus_are_this_process_s():
    assert allowed_cpus() == sorted(os.sched_getaffinity(0))


_CHILD = """
import json, os, sys, threading
from lib.logs.engines.cpu_pinning import pin_process
stop = threading.Event()
before = threading.Thread(target=stop.wait)  # a thread that exists when the process is pinned
before.start()
pin_process(int(sys.argv[1]))
after = threading.Thread(target=stop.wait)  # one started afterwards
after.start()
seen = {tid: sorted(os.sched_getaffinity(int(tid))) for tid in os.listdir("/proc/self/task")}
stop.set()
print(json.dumps(seen))
"""


@linux_only
def test_pinning_reaches_every_thread_of_the_process():
    cpu = allowed_cpus()[-1]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cpu)], check=True, capture_output=True, text=True
    )
    seen = json.loads(out.stdout)
    assert len(seen) >= 3  # the main thread and the two others
    assert all(cpus == [cpu] for cpus in seen.values())
