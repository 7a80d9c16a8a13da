"""Baseline (a): the naive way, as the original script did it: per-line ``re.search`` into a
pandas DataFrame, ``to_datetime``, ``value_counts``. Prints the total and the window's top 10.

    python bench/naive_q1.py LOG
"""

import gzip
import re
import sys

import pandas as pd

PATTERN = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(.*)" (\d{3}) (\S+)$')


def main(path: str) -> None:
    rows = []
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            match = PATTERN.search(line.rstrip("\n"))
            if match:
                rows.append(match.groups())
    frame = pd.DataFrame(rows, columns=["host", "time", "request", "status", "bytes"])
    frame["time"] = pd.to_datetime(frame["time"], format="%d/%b/%Y:%H:%M:%S %z", errors="coerce")
    start = pd.Timestamp("1995-08-18T00:00:00-04:00")
    end = pd.Timestamp("1995-08-21T00:00:00-04:00")
    window = frame[(frame["time"] >= start) & (frame["time"] < end)]
    print(len(frame))
    print(window["host"].value_counts().head(10).to_string())
    print(frame["host"].value_counts().head(1).to_string())


if __name__ == "__main__":
    main(sys.argv[1])
