"""Benchmark Q1 on two months of logs: the local engine against Dask with one and two workers,
alternating in one run so that drift in the machine's speed hits every contender alike.

    python bench/q1_dask.py [--rounds 3] [--logs LOG ...]

Without ``--logs`` it generates (once, cached under out/bench/) two full-size synthetic months,
gzip: July 1995 (1,891,714 lines) and August 1995 (1,569,898 lines, the file q1_compare uses).
Each contender runs in a fresh process with offline attribution (no DNS):

- ``local``: ``engine="local"``, this process (decompression on one thread, parsing on a thread
  per core);
- ``dask1``, ``dask2``: ``engine="dask"`` on ``lib.logs.engines._dask_cluster.local_cluster`` with
1 or 2
  single-threaded worker processes, each pinned to a CPU of its own (so ``dask1`` is one core's
  worth of Dask, ``dask2`` two).

For Dask it reports the cluster's start-up apart from the run, because a production cluster is
already up; ``cold`` is the two together. ``engine`` is the parsing alone (``run`` less the
country attribution and the set-up that every engine shares). ``again`` is the same run once
more in the same process, as on a cluster that has run Q1 before (its workers have imported the
parser; the first run on new workers pays that, about 0.1 s). Peak memory is the max RSS of
each process (the client, and every worker, read inside the worker). Prints a table, then JSON
(also written to out/bench/q1_dask.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTENDERS = ("local", "dask1", "dask2")
JULY_LINES = 1_891_714


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(result) -> str:
    """A fingerprint of every answer (the engine's own report left out)."""
    from lib.logs.q1 import answers

    data = answers(result)
    data.pop("engine")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def child(contender: str, logs: list[str]) -> dict:
    """Run one contender in this process and describe the run."""
    from contextlib import ExitStack

    from lib.config import project_path
    from lib.logs.q1 import run_q1
    from lib.logs.settings import load_settings

    geo_cache = project_path(load_settings().geo_cache)
    began = time.perf_counter()
    with ExitStack() as stack:
        scheduler, client = None, None
        if contender != "local":
            from distributed import Client

            from lib.logs.engines._dask_cluster import local_cluster

            n = int(contender[-1])
            cluster = stack.enter_context(local_cluster(workers=n, pin=True))
            client = stack.enter_context(Client(cluster))
            client.wait_for_workers(n)
            scheduler = cluster.scheduler_address
        started = time.perf_counter()
        engine = "local" if scheduler is None else "dask"
        result = run_q1(
            logs, use_dns=False, engine=engine, scheduler=scheduler, geo_cache=geo_cache
        )
        run = time.perf_counter() - started
        again_began = time.perf_counter()  # the same again: the workers have run Q1 before
        repeat = run_q1(
            logs, use_dns=False, engine=engine, scheduler=scheduler, geo_cache=geo_cache
        )
        again = time.perf_counter() - again_began
        digest = _digest(result)
        workers_mb = sorted(client.run(_peak_mb).values()) if client else []
    return {
        "start": started - began,
        "run": run,
        "engine": result.engine.seconds,
        "again": again,
        "digest": digest if digest == _digest(repeat) else "differs",
        "client_mb": _peak_mb(),
        "workers_mb": workers_mb,
        "partitions": result.engine.partitions,
    }


def _worker_peaks(runs: list[dict]) -> list[int]:
    """Each worker's largest peak over the rounds (workers sorted by peak within a round)."""
    peaks = [r.get("workers_mb", []) for r in runs]
    return [round(max(p[i] for p in peaks)) for i in range(min(map(len, peaks)))]


def _measure(contender: str, logs: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", contender, *logs]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _default_logs() -> list[str]:
    from lib.logs.datasets.synthetic import SYNTHETIC_LINES, generate_log

    bench = ROOT / "out" / "bench"
    wanted = [
        (bench / "synthetic_jul95.log.gz", JULY_LINES, 1907, (1995, 7)),
        (bench / "synthetic_aug95.log.gz", SYNTHETIC_LINES, 1995, (1995, 8)),
    ]
    for path, lines, seed, month in wanted:
        if not path.exists():
            print(f"generating {lines:,} synthetic lines into {path} ...", flush=True)
            generate_log(path, lines=lines, seed=seed, month=month)
    return [str(path) for path, *_ in wanted]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--logs", nargs="+")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        print(json.dumps(child(args.child, rest)))
        return 0

    from lib.output import write_json

    logs = args.logs or _default_logs()
    subprocess.run(["cat", *logs], check=True, stdout=subprocess.DEVNULL)  # warm the page cache
    runs: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    for round_no in range(args.rounds):
        order = CONTENDERS if round_no % 2 == 0 else tuple(reversed(CONTENDERS))
        for name in order:
            runs[name].append(_measure(name, logs))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    digests = {r["digest"] for rs in runs.values() for r in rs}
    table = {
        name: {
            "run_s": round(median(name, "run"), 3),
            "engine_s": round(median(name, "engine"), 3),
            "again_s": round(median(name, "again"), 3),
            "start_s": round(median(name, "start"), 3),
            "cold_s": round(statistics.median(r["start"] + r["run"] for r in runs[name]), 3),
            "client_peak_mb": round(max(r["client_mb"] for r in runs[name])),
            "worker_peak_mb": _worker_peaks(runs[name]),
        }
        for name in CONTENDERS
    }
    local, one, two = (table[n]["run_s"] for n in CONTENDERS)
    e_local, e_one, e_two = (table[n]["engine_s"] for n in CONTENDERS)
    a_local, a_one, a_two = (table[n]["again_s"] for n in CONTENDERS)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "logs": logs,
        "rounds": args.rounds,
        "identical_answers": len(digests) == 1,
        "table": table,
        "speedup_dask2_over_dask1": round(one / two, 2),
        "scaling_efficiency": round(one / two / 2, 2),
        "dask2_over_local": round(local / two, 2),
        "dask2_cold_over_local": round(local / table["dask2"]["cold_s"], 2),
        "engine_only": {
            "speedup_dask2_over_dask1": round(e_one / e_two, 2),
            "dask2_over_local": round(e_local / e_two, 2),
        },
        "second_run": {
            "speedup_dask2_over_dask1": round(a_one / a_two, 2),
            "dask2_over_local": round(a_local / a_two, 2),
        },
        "partitions": runs["dask2"][0]["partitions"],
    }
    head = f"{'contender':<9} {'run s':>7} {'engine s':>9} {'again s':>8} {'start s':>8}"
    head += f" {'cold s':>7} {'client MB':>10}"
    print(f"{head}  workers MB")
    for name, row in table.items():
        print(
            f"{name:<9} {row['run_s']:>7.2f} {row['engine_s']:>9.2f} {row['again_s']:>8.2f} "
            f"{row['start_s']:>8.2f} {row['cold_s']:>7.2f} "
            f"{row['client_peak_mb']:>10}  {row['worker_peak_mb']}"
        )
    print(
        f"dask2 vs dask1 {report['speedup_dask2_over_dask1']}x (efficiency "
        f"{report['scaling_efficiency']:.0%}); dask2 vs local {report['dask2_over_local']}x warm, "
        f"{report['dask2_cold_over_local']}x with start-up; parsing alone (engine s): "
        f"{report['engine_only']['speedup_dask2_over_dask1']}x and "
        f"{report['engine_only']['dask2_over_local']}x; run again on the same cluster: "
        f"{report['second_run']['speedup_dask2_over_dask1']}x and "
        f"{report['second_run']['dask2_over_local']}x; identical answers: "
        f"{report['identical_answers']}"
    )
    per_round = [
        {
            "dask2_over_dask1": round(runs["dask1"][i]["run"] / runs["dask2"][i]["run"], 2),
            "dask2_over_local": round(runs["local"][i]["run"] / runs["dask2"][i]["run"], 2),
            "engine_dask2_over_dask1": round(
                runs["dask1"][i]["engine"] / runs["dask2"][i]["engine"], 2
            ),
            "again_dask2_over_dask1": round(
                runs["dask1"][i]["again"] / runs["dask2"][i]["again"], 2
            ),
        }
        for i in range(args.rounds)
    ]
    report["per_round"] = per_round
    print("each round (ratios within the round, so a drift in the machine's speed cancels):")
    for i, r in enumerate(per_round, 1):
        print(
            f"  {i}: dask2 vs dask1 {r['dask2_over_dask1']:.2f}x (parsing alone "
            f"{r['engine_dask2_over_dask1']:.2f}x; run again {r['again_dask2_over_dask1']:.2f}x); "
            f"dask2 vs local {r['dask2_over_local']:.2f}x"
        )
    write_json(ROOT / "out" / "bench" / "q1_dask.json", report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
