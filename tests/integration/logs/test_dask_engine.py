"""Q1 on several files through the local engine and a real Dask cluster: the same answers."""

from __future__ import annotations

import bz2
import gzip
import os

import pytest
import zstandard

from lib.errors import ConfigError
from lib.logs.datasets.synthetic import generate_log
from lib.logs.engines._dask_cluster import local_cluster
from lib.logs.engines.cpu_pinning import allowed_cpus
from lib.logs.engines.engine import choose_engine
from lib.logs.engines.plan import make_plan
from lib.logs.errors import EngineError, LogReadError
from lib.logs.q1 import answers, run_q1
from lib.logs.settings import load_settings
from tests.conftest import NASA_SLICE

linux_only = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's sched_setaffinity"
)
WINDOW = {"window_start": "1995-07-30T00:00:00-04:00", "window_end": "1995-08-02T00:00:00-04:00"}


@pytest.fixture(scope="module")
def scheduler():
    """The LocalCluster the dask engine starts, with two worker processes (pinned, as they are
    by default on two CPUs), reached by address."""
    with local_cluster(workers=2, pin=True) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """A synthetic July (plain, so it is cut into byte ranges; one line in 997 truncated, so
    range edges fall inside damaged lines) and August (gzip)."""
    folder = tmp_path_factory.mktemp("months")
    july = generate_log(folder / "jul.log", lines=30_000, seed=7, month=(1995, 7))
    lines = july.read_bytes().split(b"\n")
    for i in range(500, len(lines) - 1, 997):
        lines[i] = lines[i][: 20 + i % 50]
    july.write_bytes(b"\n".join(lines))
    generate_log(folder / "aug.log.gz", lines=25_000, seed=8)
    return folder


def _logs(folder) -> list[str]:
    return sorted(str(p) for p in folder.iterdir() if not p.name.endswith(".json"))


def _answers(result) -> dict:
    data = answers(result)
    data.pop("engine")
    return data


def test_dask_gives_the_local_answers_on_several_files(months, scheduler):
    paths = _logs(months) + ([str(NASA_SLICE)] if NASA_SLICE.exists() else [])
    local = run_q1(paths, use_dns=False, engine="local", **WINDOW)
    dask = run_q1(
        list(reversed(paths)),  # order does not matter
        use_dns=False,
        engine="dask",
        scheduler=scheduler,
        partition_bytes=400_000,  # July (~3 MB) becomes several byte ranges
        **WINDOW,
    )
    assert local.engine.engine == "local" and dask.engine.engine == "dask"
    assert dask.engine.partitions > len(paths) and dask.engine.workers == 2
    a, b = _answers(local), _answers(dask)
    a["input"].pop("path"), b["input"].pop("path")
    assert a == b
    assert a["lines"] == 55_000 + (1881 if NASA_SLICE.exists() else 0)
    assert a["rejected_lines"] >= 30 and a["input"]["synthetic"] is True
    # The window spans the months' edge: both files feed the top hosts.
    assert a["window"]["requests"] > 0 and len(a["top_hosts"]) == 10
    # Each file's examples carry its own line numbers, files in name order.
    files = [e["file"] for e in a["rejected_examples"]]
    assert files == sorted(files) and set(files) <= set(paths)


def _cpus_of_every_thread() -> list[tuple[int, ...]]:
    return sorted(
        {tuple(sorted(os.sched_getaffinity(int(t)))) for t in os.listdir("/proc/self/task")}
    )


def _pinned(client) -> list[int]:
    """The CPU each worker process is kept on; fails if a worker's threads are not all on one."""
    cpus = []
    for seen in client.run(_cpus_of_every_thread).values():
        assert len(seen) == 1 and len(seen[0]) == 1, f"a worker's threads run on {seen}"
        cpus.append(seen[0][0])
    return sorted(cpus)


@linux_only
def test_each_local_worker_keeps_to_a_cpu_of_its_own(scheduler):
    from distributed import Client

    allowed = allowed_cpus()
    with Client(scheduler) as client:
        cpus = _pinned(client)
    assert set(cpus) <= set(allowed)
    assert len(set(cpus)) == min(2, len(allowed))  # two workers, two CPUs where there are two


@linux_only
@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="one CPU: one worker fills it")
def test_fewer_workers_than_cpus_are_left_free_by_default():
    from distributed import Client

    with local_cluster(workers=1) as cluster, Client(cluster) as client:
        seen = next(iter(client.run(_cpus_of_every_thread).values()))
    assert seen == [tuple(allowed_cpus())]


@linux_only
def test_dask_worker_preloading_the_module_pins_its_processes_too(tmp_path):
    """The README's own cluster: ``dask scheduler`` and ``dask worker --nworkers 2 --name ...
    --preload lib.logs.engines.cpu_pinning``, as separate processes."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from distributed import Client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    root = str(Path(__file__).resolve().parents[3])  # the workers run this module's probe
    env = {**os.environ, "PYTHONPATH": root}
    log = (tmp_path / "cluster.log").open("w")
    started = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port)]
            + ["--dashboard-address", ":0"],
            stdout=log,
            stderr=log,
        )
    ]
    try:
        worker = [dask, "worker", address, "--nworkers", "2", "--nthreads", "1"]
        worker += ["--name", "node", "--preload", "lib.logs.engines.cpu_pinning"]
        started.append(subprocess.Popen(worker, stdout=log, stderr=log, env=env))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout="30s")
            assert len(set(_pinned(client))) == min(2, len(allowed_cpus()))
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)


def test_one_gzip_file_is_cut_across_the_workers_with_the_same_answers(
    months, tmp_path, scheduler
):
    """July (damaged lines all over) gzip-compressed, alone: two workers each take a range of its
    text; every line is read once, damaged ones counted once, answers as the local engine's."""
    packed = tmp_path / "jul.log.gz"
    packed.write_bytes(gzip.compress((months / "jul.log").read_bytes()))
    local = run_q1(str(packed), use_dns=False, engine="local", **WINDOW)
    dask = run_q1(
        str(packed),
        use_dns=False,
        engine="dask",
        scheduler=scheduler,
        partition_bytes=400_000,  # gzip ranges of 100 kB or more: July's text is about 3 MB
        **WINDOW,
    )
    assert dask.engine.partitions == 2 and local.engine.partitions == 1
    a, b = _answers(local), _answers(dask)
    assert a == b and a["rejected_lines"] >= 30


def test_bzip2_and_zstd_files_run_on_dask_with_the_local_answers(months, tmp_path, scheduler):
    """July (damaged lines all over) as zstd in two frames and August as bzip2 under a plain
    name: each is one task, read whole, and the answers are the local engine's. Alone, the zstd
    file is cut into ranges of its text across the two workers, as gzip is."""
    july = (months / "jul.log").read_bytes()
    frames = zstandard.ZstdCompressor(write_checksum=True)
    zst = tmp_path / "jul.log.zst"
    zst.write_bytes(frames.compress(july[:1_000_001]) + frames.compress(july[1_000_001:]))
    august = tmp_path / "aug.log"  # bzip2 by content, not name
    august.write_bytes(bz2.compress(gzip.decompress((months / "aug.log.gz").read_bytes())))
    for paths, pieces in (([str(zst), str(august)], 2), ([str(zst)], 2)):
        local = run_q1(paths, use_dns=False, engine="local", **WINDOW)
        dask = run_q1(
            paths,
            use_dns=False,
            engine="dask",
            scheduler=scheduler,
            partition_bytes=400_000,
            **WINDOW,
        )
        assert dask.engine.partitions == pieces and local.engine.partitions == len(paths)
        a, b = _answers(local), _answers(dask)
        assert a == b and a["rejected_lines"] >= 30
        assert a["lines"] == 30_000 + (25_000 if len(paths) == 2 else 0)


def test_a_glob_names_the_same_input_as_the_list(months, scheduler):
    listed = _logs(months)
    by_glob = run_q1(str(months / "*.log*"), use_dns=False, engine="dask", scheduler=scheduler)
    assert by_glob.files == listed


def test_a_damaged_file_fails_the_dask_run_with_its_name(tmp_path, scheduler):
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(
        gzip.compress(b'x - - [01/Aug/1995:00:00:01 -0400] "GET /" 200 1\n' * 999)[:-30]
    )
    with pytest.raises(LogReadError, match="broken.log.gz"):
        run_q1(str(broken), use_dns=False, engine="dask", scheduler=scheduler)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "lib.logs.engines._dask_cluster.CONNECT_TIMEOUT", "2s"
    )  # it waits this long, then fails
    log = tmp_path / "a.log"
    log.write_text('h - - [01/Aug/1995:00:00:01 -0400] "GET /" 200 1\n')
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_q1(str(log), use_dns=False, engine="dask", scheduler="tcp://127.0.0.1:9")


def test_a_scheduler_without_workers_is_a_clear_error(tmp_path, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr("lib.logs.engines._dask_cluster.CONNECT_TIMEOUT", "2s")
    log = tmp_path / "a.log"
    log.write_text('h - - [01/Aug/1995:00:00:01 -0400] "GET /" 200 1\n')
    with LocalCluster(n_workers=0, dashboard_address=None) as empty:
        with pytest.raises(EngineError, match="has no workers"):
            run_q1(str(log), use_dns=False, engine="dask", scheduler=empty.scheduler_address)


def test_auto_goes_to_the_scheduler_in_the_environment(months, scheduler, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", scheduler)
    monkeypatch.setenv("VOTES_QUEUE", "not a queue name!")  # Q3's settings do not concern Q1
    settings = load_settings()  # read at the edge, as the notebook's first cell does
    result = run_q1(_logs(months), use_dns=False, scheduler=settings.dask_scheduler_address)
    assert (result.engine.engine, result.engine.scheduler) == ("dask", scheduler)


def test_auto_picks_dask_for_a_scheduler_only(tmp_path):
    big = tmp_path / "big.log"
    line = b'h - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1\n'
    with big.open("wb") as out:  # 2 GiB, sparse after its first lines: once auto sent it to Dask
        out.write(line * 2000)
        out.truncate(2 << 30)
    plan = make_plan(big, engine="auto", log_format="common")
    assert (plan.engine, plan.scheduler) == ("local", None)
    assert choose_engine("auto", None) == "local"
    assert choose_engine("auto", "tcp://10.0.0.5:8786") == "dask"
    assert choose_engine("local", "tcp://10.0.0.5:8786") == "local"
    with pytest.raises(ConfigError, match="engine must be one of"):
        choose_engine("spark", None)


def test_a_worker_killed_mid_run_loses_nothing(months):
    """SIGKILL one worker process after the first partition is in: Dask reruns what it held on
    the other worker (and the nanny restarts it); the answers are the local engine's."""
    import signal

    from distributed import Client

    logs = _logs(months)
    expected = _answers(run_q1(logs, use_dns=False, engine="local", **WINDOW))
    with local_cluster(workers=2, pin=True) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)
        killed: list[int] = []

        def kill_one(line: str) -> None:
            if line.startswith("[1/") and not killed:
                killed.append(next(iter(pids.values())))
                os.kill(killed[0], signal.SIGKILL)

        result = run_q1(
            logs,
            use_dns=False,
            engine="dask",
            scheduler=cluster.scheduler_address,
            partition_bytes=100_000,  # many small tasks: some are still to run or running
            progress=kill_one,
            **WINDOW,
        )
        client.wait_for_workers(2, timeout="30s")  # the nanny started a new process
        assert killed and killed[0] not in client.run(os.getpid).values()
        if hasattr(os, "sched_setaffinity"):  # the new process keeps to its CPU as well
            assert len(set(_pinned(client))) == min(2, len(allowed_cpus()))
    got = _answers(result)
    got["input"].pop("path"), expected["input"].pop("path")
    assert got == expected


def test_new_formats_wrappers_header_blocks_and_filters_run_on_dask_as_locally(
    tmp_path, scheduler
):
    """An IIS log with three #Fields: blocks (read whole: its header must be known), a syslog-
    wrapped nginx log and an ALB log cut into byte ranges, with filters: the dask engine's
    answers are the local engine's."""
    from tests.support.log_corpus import VARIANTS, write_log

    paths = [
        str(write_log(VARIANTS[name], tmp_path / f"{name}.log"))
        for name in ("iis_three_blocks", "syslog_combined", "aws_alb")
    ]
    for filters in ({}, {"status_filter": "4xx,5xx", "exclude_clients": "186.192.81.0/24"}):
        local = run_q1(paths, use_dns=False, engine="local", **filters)
        dask = run_q1(paths, use_dns=False, engine="dask", scheduler=scheduler,
                      partition_bytes=20_000, **filters)  # fmt: skip
        assert dask.engine.partitions > len(paths)  # the plain files were cut
        a, b = _answers(local), _answers(dask)
        assert a == b and a["rejected_lines"] == 0
        assert a["total_requests"] + a["filters"]["left_out_requests"] == 3 * 1212
