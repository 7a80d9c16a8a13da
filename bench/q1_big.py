"""Q1's throughput on a large plain log (about 2 GB): lib's engines against awk, per core.

    python bench/q1_big.py [--gb 2] [--rounds 2] [--keep]

Writes ``out/bench/big.log`` from the synthetic month's text repeated (plain, so that no
decompression hides the parsing; removed at the end unless ``--keep``), then runs each contender
in a fresh process, in turns:

- ``awk``:   ``awk '{c[$1]++}'`` over the file, one process, one core (requests per host);
- ``local``, ``dask``: ``bench/q1.py --engine local|dask`` (the dask engine on a LocalCluster of
  one single-threaded worker per core), all three answers with offline countries;
- ``auto``:  ``bench/q1.py`` with the default engine, which says which one it took.

For each: wall seconds, CPU seconds (user and system, every process of the tree), peak memory of
the whole tree summed (sampled every 20 ms: Dask's workers are processes of their own), MB/s of
wall time, and MB per CPU second, the throughput per core. Prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from q1_compare import cpu_model, synthetic_month  # noqa: E402  (bench/ is sys.path[0])

BIG = ROOT / "out" / "bench" / "big.log"


def write_big(gigabytes: float) -> int:
    """Write ``BIG`` (the month's text, repeated to about ``gigabytes``); its size in bytes."""
    from lib.logs.reading.blocks import READ_BYTES, open_log

    month = synthetic_month("common")
    target = int(gigabytes * 1e9)
    if BIG.exists() and BIG.stat().st_size >= target:
        return BIG.stat().st_size
    print(f"writing {target / 1e9:.1f} GB into {BIG} ...", flush=True)
    with open_log(month) as stream:
        text = b"".join(iter(lambda: stream.read(READ_BYTES), b""))
    with BIG.open("wb") as out:
        written = 0
        while written < target:
            out.write(text)
            written += len(text)
    return written


def measure(command: str) -> dict[str, float]:
    """Run ``command``: wall s, CPU s of the tree, peak summed RSS (MB)."""
    started = time.perf_counter()
    proc = psutil.Popen(["bash", "-c", command], stdout=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        rss = 0
        try:
            for member in [proc, *proc.children(recursive=True)]:
                try:
                    rss += member.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, rss / 2**20)
        time.sleep(0.02)
    out = proc.stdout.read()
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {command}")
    return {"wall_s": wall, "peak_mb": peak, "stdout": out}


def cpu_seconds() -> float:
    """User and system seconds of every finished child so far."""
    times = os.times()
    return times.children_user + times.children_system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep out/bench/big.log")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} CPUs)", flush=True)
    size = write_big(args.gb)
    q = shlex.quote(str(BIG))
    py = f"{shlex.quote(sys.executable)} {ROOT}/bench/q1.py {q}"
    contenders = {
        "awk": f"awk '{{c[$1]++}} END {{for (h in c) n++; print n}}' {q}",
        "local": f"{py} --engine local",
        "dask": f"{py} --engine dask",
        "auto": f"{py} --engine auto",
    }
    subprocess.run(["cat", str(BIG)], stdout=subprocess.DEVNULL, check=True)  # page cache
    runs: dict[str, list[dict]] = {name: [] for name in contenders}
    try:
        for round_no in range(args.rounds):
            for name, command in contenders.items():
                before = cpu_seconds()
                run = measure(command)
                run["cpu_s"] = cpu_seconds() - before
                runs[name].append(run)
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            BIG.unlink(missing_ok=True)
    mb = size / 1e6
    table = {}
    for name, done in runs.items():
        wall = statistics.median(r["wall_s"] for r in done)
        cpu = statistics.median(r["cpu_s"] for r in done)
        table[name] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "peak_mb": round(max(r["peak_mb"] for r in done)),
            "mb_per_s": round(mb / wall, 1),
            "mb_per_cpu_s": round(mb / cpu, 1),
        }
    chose = json.loads(runs["auto"][0]["stdout"]).get("engine")
    print(f"\nCPU: {cpu_model()}; input {mb:,.0f} MB plain; auto chose {chose}")
    print(
        f"{'contender':<9} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'MB/s':>7} {'MB/CPU s':>9}"
    )
    for name, row in table.items():
        print(
            f"{name:<9} {row['wall_s']:>7.2f} {row['cpu_s']:>7.2f} {row['peak_mb']:>8} "
            f"{row['mb_per_s']:>7.1f} {row['mb_per_cpu_s']:>9.1f}"
        )
    best = min(("local", "dask"), key=lambda name: table[name]["wall_s"])
    print(f"faster engine here: {best}; auto took {chose}")
    print(
        "per core, lib/awk (MB per CPU second): "
        + ", ".join(
            f"{name} {table[name]['mb_per_cpu_s'] / table['awk']['mb_per_cpu_s']:.2f}"
            for name in ("local", "dask", "auto")
        )
    )
    print(json.dumps({"cpu": cpu_model(), "mb": round(mb), "auto_chose": chose, "runs": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
