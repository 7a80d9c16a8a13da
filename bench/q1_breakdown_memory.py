"""Q1's peak memory on a log whose every request has a URL and a query of its own, against a log
of the same length with few of them, in the same run.

    python bench/q1_breakdown_memory.py [--lines 2000000] [--rounds 1] [--keep DIR]

Two plain Combined logs of ``--lines`` lines are written (under out/bench/breakdowns/ or
``--keep``, and reused while their size is the same), both with 500 clients and 20 user agents:
*few* (1,000 URLs, no query) and *distinct* (every line its own URL and query). Q1 reads each
as a user runs it, ``python -m lib.logs LOG --no-dns --json``, a fresh process each time; the
summary keeps at most ``lib.logs.counting.caps``' numbers of URLs and queries whatever the log
holds, so the distinct log should cost a bounded amount more memory than the few one, not
memory that grows with the line count (run with two ``--lines`` to see it). (Clients and user
agents are kept exactly, as the top hosts, countries and crawlers need them: a log of millions
of distinct clients costs memory in proportion, as in any tool that ranks them.)

Prints the CPU, then per log: seconds, peak RSS (MB), the URLs' stated error and the sampling
levels; then distinct over few. Exits 1 if a total is not the line count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.q1_compare import cpu_model  # noqa: E402

LINE = (
    '10.{a}.{b}.{c} - - [01/Dec/2026:{h:02d}:{m:02d}:{s:02d} +0000] "GET {url} HTTP/1.1" 200 '
    '{size} "-" "agent/{agent}"\n'
)


def write(path: Path, lines: int, distinct: bool) -> Path:
    """A Combined log of ``lines`` lines (kept: rewritten only when its size differs)."""
    marker = path.with_suffix(".lines")
    if path.exists() and marker.exists() and marker.read_text() == str(lines):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii") as out:
        for i in range(lines):
            client = i % 500
            url = f"/item/{i}?q={i}" if distinct else f"/page/{i % 1000}"
            second = i * 86_400 // lines
            out.write(
                LINE.format(
                    a=client >> 16 & 255,
                    b=client >> 8 & 255,
                    c=client & 255,
                    h=second // 3600,
                    m=second // 60 % 60,
                    s=second % 60,
                    url=url,
                    size=i % 5000,
                    agent=i % 20,
                )  # fmt: skip
            )
    marker.write_text(str(lines))
    return path


def run(log: Path) -> tuple[float, float, dict]:
    """Q1 on ``log`` in a fresh process: (seconds, peak RSS in MB, its answers)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "lib.logs", str(log), "--no-dns", "--json"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"Q1 failed on {log}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=ROOT / "out" / "bench" / "breakdowns")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {args.lines:,} lines a log")
    logs = {
        "few": write(args.keep / f"few-{args.lines}.log", args.lines, False),
        "distinct": write(args.keep / f"urls-{args.lines}.log", args.lines, True),
    }
    best: dict[str, tuple[float, float, dict]] = {}
    for _ in range(args.rounds):
        for name, log in logs.items():
            found = run(log)
            if name not in best or found[0] < best[name][0]:
                best[name] = found
    failed = 0
    for name, (seconds, peak, data) in best.items():
        if data["total_requests"] != args.lines:
            print(f"{name}: {data['total_requests']:,} requests, not {args.lines:,}")
            failed = 1
        urls = data["urls"]
        queries = data["top_urls"][0]
        print(
            f"{name:>9}: {seconds:6.2f} s, peak {peak:7.1f} MB; URLs exact: "
            f"{urls['listed_exactly']} (error at most {urls['count_error_at_most']:,}); "
            f"busiest URL's distinct queries {queries['distinct_queries']:,} (exact: "
            f"{queries['distinct_queries_exact']})"
        )
    ratio = best["distinct"][1] / best["few"][1]
    print(f"peak memory, distinct over few: {ratio:.2f}x; time: "
          f"{best['distinct'][0] / best['few'][0]:.2f}x")  # fmt: skip
    return failed


if __name__ == "__main__":
    sys.exit(main())
