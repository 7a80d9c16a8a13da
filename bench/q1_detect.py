"""How long Q1 takes to choose each file's format (``lib.logs.engines.plan.choose_format``: its
first 64 KiB read, the registered formats tried), for every variant of the deployment corpus
(``tests/support/log_corpus.py``), against the Common Log Format's in the same run.

    python bench/q1_detect.py [--rounds 5] [--json OUT]

Each variant's log is written plain into a temporary folder, polars loaded first (as a run has
it by then, for the formats it needs), each detection run once to warm, then ``--rounds`` times;
the best counts. Prints the CPU, a table (variant, the format chosen, best milliseconds, over
Common's), the slowest, and whether it is under the target of 50 ms a file; then the figures as
JSON (also written to ``--json``). Variants whose client only the operator can name (they are
refused without options) are timed with their ``--format``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.support and bench, when run as a script

import polars  # noqa: E402, F401 - loaded before timing, as a run has it

from bench.q1_compare import cpu_model  # noqa: E402
from lib.logs.engines.plan import choose_format  # noqa: E402
from tests.support.log_corpus import VARIANTS, write_log  # noqa: E402

TARGET_MS = 50.0
BASELINE = "apache_common"


def best_ms(path: Path, requested: str, rounds: int) -> tuple[float, str]:
    chosen = choose_format(path, requested).primary.name  # warm: compiled patterns, imports
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        choose_format(path, requested)
        times.append(time.perf_counter() - start)
    return min(times) * 1000, chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, variant in VARIANTS.items():
            path = write_log(variant, Path(folder) / f"{name}.log")
            options = dict(zip(variant.options[::2], variant.options[1::2], strict=True))
            ms, chosen = best_ms(path, options.get("--format", "auto"), args.rounds)
            rows[name] = {"format": chosen, "ms": round(ms, 2)}
    base = rows[BASELINE]["ms"]
    print(f"CPU: {cpu_model()}; best of {args.rounds}")
    print("| variant | format | ms | over common |\n|---|---|---:|---:|")
    for name, row in rows.items():
        row["over_common"] = round(row["ms"] / base, 2)
        print(f"| {name} | {row['format']} | {row['ms']:.1f} | {row['over_common']:.2f} |")
    slowest = max(rows, key=lambda name: rows[name]["ms"])
    worst = rows[slowest]["ms"]
    print(f"slowest: {slowest}, {worst:.1f} ms ({'under' if worst < TARGET_MS else 'OVER'} "
          f"the target of {TARGET_MS:.0f} ms a file)")  # fmt: skip
    figures = {"cpu": cpu_model(), "rounds": args.rounds, "variants": rows, "slowest": slowest}
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
