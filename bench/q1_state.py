"""Benchmark Q1 over time (``lib.logs.state``): what a state directory costs and saves.

    python bench/q1_state.py [--log LOG] [--rounds 5] [--firsts 3] [--months 12]

Without ``--log`` it takes the synthetic August month (``make data``'s, 1,569,898 lines) as a
plain ``access.log`` under out/bench/state/. In one process, in this order:

- ``plain``: the month answered the usual way (``run_q1``, no state): the baseline;
- ``first``: the month read into a new state directory and answered from it; the median of
  ``--firsts`` such runs, each into a directory made anew (the ratios' denominator: one run
  of it varied by a fifth on a shared VM);
- ``second``: the same after the log grew by 1% of the month (its last lines written again):
  the run reads only those; the median of ``--rounds``, the log growing by 1% each round;
- ``nothing``: a run with nothing new (the median of as many);
- window queries over a year of hourly state: the month's state copied into ``--months``
  consecutive months (each table's rows shifted, in SQL), then windows answered from it (the
  state's summary, and the whole answers with offline attribution), each the median of
  ``--rounds``.

Prints the CPU, the figures and their ratios, the state's size per million requests, and the
figures as JSON. Offline attribution only (no DNS). Exits 1 if the state's answers for the
whole month differ from the plain run's, or if the year's top hosts are not the month's with
``--months`` times the requests (the year state is then not the month copied).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from bench.q1_compare import cpu_model  # noqa: E402
from lib.logs.filters import RequestFilter  # noqa: E402
from lib.logs.parsing.clients import ClientRule  # noqa: E402
from lib.logs.q1 import answer_state, answer_summary, answers, run_q1  # noqa: E402
from lib.logs.reading.blocks import open_log  # noqa: E402
from lib.logs.state.grains import (  # noqa: E402
    STORED,
    VISITOR_DAYS,
    grains_of,
    level_counts,
    table_name,
    totals,
)
from lib.logs.state.periods import floor, following  # noqa: E402
from lib.logs.state.runs import (  # noqa: E402
    open_state,
    plan_inputs,
    state_summary,
    state_window,
)
from lib.logs.state.store import ROLLED, STATE_FILE  # noqa: E402

OUT = ROOT / "out" / "bench" / "state"
SYNTHETIC = ROOT / "data" / "synthetic" / "NASA_access_log_Aug95.synthetic.gz"
RULE, ONLY = ClientRule(), RequestFilter()
ANSWERING = {"use_dns": False, "max_rejected": 0.05}
READ_ONLY_KEYS = {"input", "engine", "filters", "rejected_examples"}
# windows asked of the year's state: (label, start, end)
WINDOWS = [
    ("whole state", None, None),
    ("8.5 months, cut at both ends", "1995-09-03T05:00:00+00:00", "1996-05-20T17:00:00+00:00"),
    ("3 days (the NASA question)", "1995-08-18T04:00:00+00:00", "1995-08-21T04:00:00+00:00"),
    ("one hour", "1995-08-18T14:00:00+00:00", "1995-08-18T15:00:00+00:00"),
]


def _timed(call):
    began = time.perf_counter()
    value = call()
    return time.perf_counter() - began, value


def _state_run(state_dir: Path, log: Path, window=None):
    window = window or state_window(None, None, ONLY)
    with open_state(state_dir, "auto", RULE, ONLY) as state:
        return answer_state(state, str(log), window, "auto", RULE, **ANSWERING)


def _grow(log: Path, count: int) -> int:
    """Append the log's last ``count`` lines again; the bytes appended."""
    lines = log.read_bytes().splitlines(keepends=True)
    more = b"".join(lines[-count:])
    with log.open("ab") as out:
        out.write(more)
    return len(more)


def _year(month_dir: Path, year_dir: Path, months: int) -> None:
    """``month_dir``'s state copied into ``months`` consecutive months (its hourly rows
    shifted), the coarser grains (holding every hour) and the visitors' day counts made again
    from them, in SQL."""
    import duckdb

    shutil.rmtree(year_dir, ignore_errors=True)
    shutil.copytree(month_dir, year_dir)
    db = duckdb.connect(str(year_dir / STATE_FILE))
    db.execute("SET TimeZone = 'UTC'")
    shifted = {"hour", "day", "first", "last"}
    for name, table in STORED.items():
        columns = [row[0] for row in db.execute(f"DESCRIBE {name}").fetchall()]
        listed = ", ".join(f"{c} + to_months(k)" if c in shifted else f'"{c}"' for c in columns)
        db.execute(f"INSERT INTO {name} SELECT {listed} FROM {name}, range(1, {months}) t(k)")
        types = {row[0]: row[1] for row in db.execute(f"DESCRIBE {name}").fetchall()}
        keys = ", ".join(f'"{k}"' for k in table.keys)
        for grain in grains_of(name)[:-1]:  # the coarser grains (year, month, day)
            target = table_name(name, grain)
            period = f"date_trunc('{grain}', hour) AS hour"
            db.execute(f"DELETE FROM {target}")
            if table.is_set:
                db.execute(f"INSERT INTO {target} SELECT DISTINCT {period}, {keys} FROM {name}")
            else:
                db.execute(
                    f"INSERT INTO {target} SELECT {period}, {keys}, {totals(table, types)} "
                    f"FROM {name} GROUP BY ALL"
                )
    ((last,),) = db.execute("SELECT max(hour) FROM hours").fetchall()
    rolled = following(floor(last, "day"), "day")  # the coarser grains hold every hour
    db.execute("DELETE FROM meta WHERE key = ?", [ROLLED])
    db.execute("INSERT INTO meta VALUES (?, ?)", [ROLLED, rolled.isoformat()])
    db.execute(f"DELETE FROM {VISITOR_DAYS}")
    source = "SELECT DISTINCT day, visitor FROM visitors"
    db.execute(f"INSERT INTO {VISITOR_DAYS} {level_counts(source)}")
    db.execute("CHECKPOINT")
    db.close()


def _size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--log", type=Path, help="a log to use instead of the synthetic month")
    cli.add_argument("--rounds", type=int, default=5)
    cli.add_argument("--firsts", type=int, default=3)
    cli.add_argument("--months", type=int, default=12)
    args = cli.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "access.log"
    source = args.log or SYNTHETIC
    if not source.exists():
        print(f"error: no log at {source}: run make data first", file=sys.stderr)
        return 1
    with open_log(source) as text, log.open("wb") as out:
        shutil.copyfileobj(text, out)
    state_dir, year_dir = OUT / "month.state", OUT / "year.state"
    shutil.rmtree(state_dir, ignore_errors=True)
    print(f"CPU: {cpu_model()}; log: {source} ({log.stat().st_size:,} bytes of text)")

    plain_s, plain = _timed(lambda: run_q1(str(log), use_dns=False, window_only=False))
    firsts = []
    for _ in range(max(1, args.firsts)):  # the last one's state is grown below
        shutil.rmtree(state_dir, ignore_errors=True)
        took, (first, first_read) = _timed(lambda: _state_run(state_dir, log))
        firsts.append(took)
    first_s = statistics.median(firsts)
    ours, theirs = answers(first), answers(plain)
    differ = [k for k in theirs.keys() - READ_ONLY_KEYS - {"window"} if ours[k] != theirs[k]]
    requests = ours["total_requests"]
    size = _size(state_dir)
    seconds, nothings = [], []
    for _ in range(args.rounds):  # each round: the log grows by 1% again
        grown = _grow(log, max(1, ours["lines"] // 100))
        took, (_, second_read) = _timed(lambda: _state_run(state_dir, log))
        seconds.append(took)
        took, (latest, nothing_read) = _timed(lambda: _state_run(state_dir, log))
        nothings.append(took)
    second_s, nothing_s = statistics.median(seconds), statistics.median(nothings)
    rows = [
        ("plain run (no state)", plain_s, ""),
        ("first run into a state", first_s, f"= {first_s / plain_s:.2f}x the plain run "
         f"(median of {len(firsts)}: {', '.join(f'{t:.3f}' for t in firsts)} s)"),
        ("second run, log grown 1%", second_s, f"= {second_s / first_s:.1%} of the first "
         f"({second_read.text_bytes:,} bytes read; {grown:,} appended)"),
        ("a run with nothing new", nothing_s, f"= {nothing_s / first_s:.1%} of the first "
         f"({nothing_read.text_bytes:,} bytes read)"),
    ]  # fmt: skip
    for label, seconds, said in rows:
        print(f"{label + ':':28} {seconds:7.3f} s  {said}")
    per_request = size / requests
    print(f"state size: {size / 1e6:.1f} MB for {requests:,} requests = {per_request:.1f} "
          f"bytes a request ({per_request:.0f} MB per million)")  # fmt: skip

    _year(state_dir, year_dir, args.months)
    year_size = _size(year_dir)
    windows = []
    with open_state(year_dir, "auto", RULE, ONLY) as state:
        plan = plan_inputs(str(log), "auto", RULE)
        for label, start, end in WINDOWS:
            window = state_window(start, end, ONLY)
            summaries, whole = [], []
            for _ in range(args.rounds):
                took, (places, summary) = _timed(lambda w=window: state_summary(state, w))
                summaries.append(took)
                took, answered = _timed(lambda s=summary, p=places, w=window: answer_summary(
                    s, first.engine, plan, w, places=p, **ANSWERING))  # fmt: skip
                whole.append(summaries[-1] + took)
            if start is None and end is None:
                year_hosts = answered.top_hosts.select("host", pl.col("requests").cast(pl.Int64))
            windows.append({
                "window": label,
                "requests": summary.requests,
                "summary_ms": round(statistics.median(summaries) * 1000, 1),
                "answers_ms": round(statistics.median(whole) * 1000, 1),
            })  # fmt: skip
    (year_requests,) = [w["requests"] for w in windows if w["window"] == "whole state"]
    print(f"\nwindows over {args.months} months of hourly state ({year_requests:,} requests, "
          f"{year_size / 1e6:.0f} MB), median of {args.rounds}:")  # fmt: skip
    print(f"{'window':32} {'requests':>12} {'summary ms':>11} {'answers ms':>11}")
    for row in windows:
        print(f"{row['window']:32} {row['requests']:>12,} {row['summary_ms']:>11} "
              f"{row['answers_ms']:>11}")  # fmt: skip
    figures = {
        "cpu": cpu_model(),
        "plain_s": round(plain_s, 3),
        "first_s": round(first_s, 3),
        "firsts_s": [round(t, 3) for t in firsts],
        "second_s": round(second_s, 3),
        "nothing_s": round(nothing_s, 3),
        "second_share_of_first": round(second_s / first_s, 4),
        "state_bytes_per_request": round(size / requests, 1),
        "year_state_bytes": year_size,
        "windows": windows,
        "answers_differ": differ,
    }
    print(json.dumps(figures, indent=2))
    # the year is the month copied: each host's requests over it are the month's, times months
    month_hosts = latest.top_hosts.select("host", pl.col("requests").cast(pl.Int64) * args.months)
    if not year_hosts.equals(month_hosts):
        print(f"error: the year's top hosts are not the month's times {args.months}: the year "
              "state is not the month copied", file=sys.stderr)  # fmt: skip
        return 1
    if differ:
        print(f"error: the state's answers differ from the plain run's: {differ}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
