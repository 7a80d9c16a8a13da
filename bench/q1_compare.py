"""Benchmark Q1 against baselines measured in the same run, alternating so that any drift in the
machine's speed hits every contender alike.

    python bench/q1_compare.py [--log LOG] [--rounds 3] [--skip-naive]

Without ``--log`` it generates (once, cached under out/bench/) the full-size synthetic August log:
1,569,898 lines, gzip. Contenders, each a fresh process:

- ``floor``: ``gzip -dc LOG > /dev/null``, the cost of reading the input at all;
- ``awk``:   ``gzip -dc LOG | awk`` counting requests per host in an array;
- ``naive``: ``bench/naive_q1.py``, per-line ``re.search`` into pandas (the original approach);
- ``lib``:   ``bench/q1.py``, the three answers through lib with offline attribution.

Prints a table of median wall seconds, peak memory (max RSS of the process tree) and the ratios
the targets are stated in, then the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(command: str) -> tuple[float, float]:
    """Run ``command`` with bash; return (wall seconds, peak RSS in MB of the process tree)."""
    started = time.perf_counter()
    proc = subprocess.Popen(["bash", "-c", command], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {command}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-naive", action="store_true", help="the naive run takes ~10 s")
    args = parser.parse_args()

    log = args.log
    if log is None:
        from lib.logs.synthetic import SYNTHETIC_LINES, generate_log

        log = ROOT / "out" / "bench" / "synthetic_aug95.log.gz"
        if not log.exists():
            print(f"generating {SYNTHETIC_LINES:,} synthetic lines into {log} ...", flush=True)
            generate_log(log)
    q = shlex.quote(str(log))
    py = shlex.quote(sys.executable)
    contenders = {
        "floor": f"gzip -dc {q} > /dev/null",
        "awk": f"gzip -dc {q} | awk '{{c[$1]++}} END {{for (h in c) n++; print n}}'",
        "naive": f"{py} {ROOT}/bench/naive_q1.py {q}",
        "lib": f"{py} {ROOT}/bench/q1.py {q}",
    }
    if args.skip_naive:
        del contenders["naive"]
    measure(contenders["floor"])  # warm the page cache
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for round_no in range(args.rounds):
        for name, command in contenders.items():
            runs[name].append(measure(command))
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)

    wall = {n: statistics.median(t for t, _ in r) for n, r in runs.items()}
    peak = {n: max(m for _, m in r) for n, r in runs.items()}
    ratios = {
        "naive_over_lib": wall["naive"] / wall["lib"] if "naive" in wall else None,
        "lib_over_awk": wall["lib"] / wall["awk"],
        "lib_over_floor": wall["lib"] / wall["floor"],
    }
    print(f"\ninput: {log} ({log.stat().st_size / 1e6:.1f} MB)")
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'contender':<8} {'median s':>9} {'peak MB':>8}")
    for name in contenders:
        print(f"{name:<8} {wall[name]:>9.3f} {peak[name]:>8.0f}")
    print("ratios (targets: naive/lib >= 8, lib/awk <= 1.6, lib/floor <= 2, lib peak < 500 MB):")
    for key, value in ratios.items():
        if value is not None:
            print(f"  {key:<15} {value:6.2f}")
    per_round = [
        {name: round(runs[name][i][0], 3) for name in contenders} for i in range(args.rounds)
    ]
    print(
        "each round (wall s; ratios within the round, so a drift in the machine's speed cancels):"
    )
    for i, r in enumerate(per_round, 1):
        naive = f"naive/lib {r['naive'] / r['lib']:5.2f}  " if "naive" in r else ""
        times = " ".join(f"{n} {t:.3f}" for n, t in r.items())
        ratios_now = f"lib/awk {r['lib'] / r['awk']:.2f}  lib/floor {r['lib'] / r['floor']:.2f}"
        print(f"  {i}: {times}  | {naive}{ratios_now}")
    answer = subprocess.run(
        ["bash", "-c", contenders["lib"]], capture_output=True, text=True, check=True
    ).stdout
    report = {"wall_s": wall, "peak_mb": peak, "ratios": ratios, "rounds": args.rounds}
    print(json.dumps({**report, "per_round_wall_s": per_round}))
    print("lib answers:", answer.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
