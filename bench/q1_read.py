"""How fast Q1 reads a log's text, whatever its compression: a full ``iter_blocks`` pass over
each file (open, decompress, cut into blocks of whole lines; no parsing), the files in turn each
round. Prints each file's best and median seconds and MB/s of text.

    python bench/q1_read.py LOG [LOG ...] [--rounds 5]

Make the inputs from one text, e.g. ``gzip -dc month.log.gz > month.log``, then
``bzip2 -k month.log``, ``xz -k month.log``, ``zstd month.log``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from lib.logs.reading.blocks import iter_blocks, open_log


def read_seconds(path: Path) -> tuple[float, int]:
    """Seconds for one full read of ``path``'s text, and the bytes of text it holds."""
    began = time.perf_counter()
    text = 0
    with open_log(path) as stream:
        for block in iter_blocks(stream, name=str(path)):
            text += len(block)
    return time.perf_counter() - began, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    seconds: dict[Path, list[float]] = {path: [] for path in args.log}
    text: dict[Path, int] = {}
    for _ in range(args.rounds):
        for path in args.log:
            took, text[path] = read_seconds(path)
            seconds[path].append(took)
    for path in args.log:
        best, median = min(seconds[path]), statistics.median(seconds[path])
        print(
            f"{path}: {path.stat().st_size:,} bytes, {text[path]:,} of text; "
            f"best {best:.3f} s, median {median:.3f} s ({text[path] / median / 1e6:,.0f} MB/s)"
        )


if __name__ == "__main__":
    main()
