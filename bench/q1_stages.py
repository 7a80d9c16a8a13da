"""Where a Q1 run's time goes: each stage of ``bench/q1.py``'s work timed on its own, one after
another in this one process, so that the stages do not overlap as they do in a real run (where
decompression, parsing and the IP database's loading run at once).

    python bench/q1_stages.py LOG [--format auto]

Stages, each as wall and CPU seconds (CPU counts every thread of this process):

- ``startup``:     the interpreter and every import ``bench/q1.py`` needs (timed from this
  process's start, as the kernel recorded it); a real run starts reading its log before
  polars and most of Q1 load (``lib.logs.engines.local``), so not all of it comes first;
- ``plan``:        finding the files and detecting their format (reads the first 64 KiB);
- ``decompress``:  reading the whole text (``lib.logs.reading.blocks.open_log`` in 1 MiB reads);
- ``split``:       cutting the text into blocks of whole lines (``iter_blocks``) on text
  already in memory;
- ``parse_count``: each block parsed and counted, one block after another on one thread of this
  process, as a parsing thread does it (``lib.logs.counting.counted.BlockSummaries``): for
  Common and Combined the compiled accelerator counts across the blocks and polars reads the
  lines it leaves, for other formats polars reads every block;
- ``merge``:       the counts turned into one summary (the fast path's tables into frames, and
  the blocks' summaries combined);
- ``attribute``:   countries for the hosts, offline (the IP database, loaded from its cache).

Prints one JSON object: the stages, the CPU model, and the summary's request count (which must
equal a real run's).
"""

from __future__ import annotations

import os
import time

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _since_process_start() -> float:
    """Seconds since the kernel started this process (10 ms resolution)."""
    with open("/proc/self/stat", encoding="ascii") as stat:
        started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="ascii") as uptime:
        now = float(uptime.read().split()[0])
    return now - started_ticks / _CLOCK_TICKS


_STARTUP_CPU = time.process_time()

import argparse  # noqa: E402  (the imports are what start-up measures)
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.config import project_path  # noqa: E402
from lib.logs.counting.counted import BlockSummaries  # noqa: E402
from lib.logs.counting.summary import combine  # noqa: E402
from lib.logs.engines.plan import make_plan  # noqa: E402
from lib.logs.geo.attribution import attribute  # noqa: E402
from lib.logs.parsing import accelerators  # noqa: E402
from lib.logs.parsing.formats import AUTO  # noqa: E402
from lib.logs.q1 import answer_q1  # noqa: E402,F401  (bench/q1.py's import, to count it)
from lib.logs.reading.blocks import READ_BYTES, iter_blocks, open_log  # noqa: E402
from lib.logs.settings import load_settings  # noqa: E402
from lib.logs.window import Window  # noqa: E402

STARTUP_WALL = _since_process_start()
STARTUP_CPU = time.process_time()


class Stages:
    """Wall and CPU seconds per named stage, in the order they ran."""

    def __init__(self) -> None:
        self.times: dict[str, dict[str, float]] = {
            "startup": {"wall_s": round(STARTUP_WALL, 3), "cpu_s": round(STARTUP_CPU, 3)}
        }

    def run(self, name: str, fn, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.times[name] = {
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
        }
        return out


def read_all(path: Path) -> bytes:
    with open_log(path) as stream:
        chunks = []
        while chunk := stream.read(READ_BYTES):
            chunks.append(chunk)
    return b"".join(chunks)


def split_blocks(text: bytes) -> list[bytes]:
    return list(iter_blocks(io.BytesIO(text)))


def parse_blocks(blocks: list[bytes], window: Window, choice) -> tuple[list, BlockSummaries]:
    """The blocks' summaries, and what counted them (the accelerator's counts are in it)."""
    counter = accelerators.counter(choice.primary, *window.micros())
    summaries = BlockSummaries(window, choice, counter)
    parts = []
    for block in blocks:
        counted = None if counter is None else accelerators.count(counter, block)
        parts.append(summaries.finish(block if counted is None else counted))
    return parts, summaries


def merge(parts: list, summaries: BlockSummaries) -> object:
    return combine([*parts, summaries.counts()])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--format", default=AUTO)
    args = parser.parse_args()
    stages = Stages()
    window = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
    plan = stages.run("plan", make_plan, args.log, "local", None, 1, 1 << 30, None, args.format)
    choice = plan.choice_for(str(plan.files[0]))
    text = stages.run("decompress", read_all, plan.files[0])
    blocks = stages.run("split", split_blocks, text)
    text = b""
    parts, fast = stages.run("parse_count", parse_blocks, blocks, window, choice)
    blocks = []
    summary = stages.run("merge", merge, parts, fast)
    geo_cache = project_path(load_settings().geo_cache)
    stages.run("attribute", lambda: attribute(summary.hosts, use_dns=False, geo_cache=geo_cache))
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    total = {
        "wall_s": round(sum(s["wall_s"] for s in stages.times.values()), 3),
        "cpu_s": round(sum(s["cpu_s"] for s in stages.times.values()), 3),
    }
    json.dump(
        {
            "cpu": cpu,
            "format": choice.primary.name,
            "requests": summary.requests,
            "stages": stages.times,
            "serial_total": total,
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
