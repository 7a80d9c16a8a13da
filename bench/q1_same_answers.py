"""Prove that a change to Q1 changed no answer: run one corpus of access logs through the
command line of two trees, before and after the change, and compare everything each run says.

    python bench/q1_same_answers.py --before /work/before [--after .] [--corpus out/same_answers]
                                    [--only NAME ...] [--regenerate] [--list]

The corpus (``bench/q1_corpus.py``) is built once into ``<corpus>/logs/`` and reused while it
is the same (``--regenerate`` rebuilds it): the full-size synthetic August month in Common and in
Combined format (from ``out/bench/`` when there, else from the before tree's generator), the NASA
slice (/work/shared/data/nasa_aug95_head.log; its cases are skipped, saying so, when it is
absent), a log per registered format and per custom format string of the tests, and the lines
the fast path and the second chances care about. ``--list`` prints the cases (``--only`` takes
shell patterns of their names).

Each case (a name, its logs, the other arguments, maybe an environment variable such as
``Q1_HEAD_START=0``) runs in both trees as ``python -m lib.logs LOG... ARGS --no-dns --output-dir
DIR``, two cases at a time: a fresh process of this interpreter with ``cwd`` and ``PYTHONPATH``
the tree's (checked first: a tree whose ``lib`` is not the one imported is refused), no bytecode
written into the tree, and ``GEO_CACHE`` in the corpus, one per tree (so each builds its IP
tables once, not in every run). Its output stays in ``<corpus>/runs/<before|after>/<case>/``
(``results.json``, ``stdout.txt``, ``stderr.txt``, ``exit_code.txt``). Compared, for each case:

- the exit code;
- stdout and stderr, with the corpus's path, this interpreter's prefix and the tree's path
  replaced by ``<corpus>``, ``<python>`` and ``<tree>``. Two things are left out of stderr: INFO
  log records (the product logs at WARNING and above, but the Dask cluster's INFO records, with
  ports, client ids and clock times in an order of their own, leak through when the dask engine
  runs; their count is printed), and the frames of a traceback, which name the code's files and
  lines, so move with it (the exception's line stays);
- ``results.json`` byte for byte, but for the value of each ``"seconds"`` field, replaced by
  ``<timing>``: ``engine.seconds``, and ``dns.seconds``, which a run without DNS does not write.
  Nothing else needs to go: the rest holds no clock time, process id, port or path of a tree
  (``input`` names the corpus's files; ``engine.workers`` is this machine's CPU count, and
  ``engine.scheduler`` reads ``LocalCluster`` for the Dask engine, not the cluster's address), so
  two runs of the same code on the same machine write the same bytes.

This script imports nothing from ``lib``: it talks to both trees through child processes only, so
it keeps working while the modules of ``lib.logs`` move. Prints one line per case (``same`` or
``DIFFERENT`` and in what), then a unified diff of the first few differences. Exits 1 if any case
differs, 0 if all are the same.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from q1_corpus import Case, build_corpus, cases  # bench/q1_corpus.py, beside this script

POOL = 2  # cases run at once
TIMEOUT = 900  # seconds one run may take
SHOWN = 3  # cases whose differences are printed as diffs
DIFF_LINES = 60  # lines of each diff printed, each cut at DIFF_WIDTH characters
DIFF_WIDTH = 200
# What the product reads from the environment: a run gets only what its case sets (and GEO_CACHE).
PRODUCT_VARIABLES = (
    "DATA_DIR",
    "DNS_CACHE",
    "GEO_CACHE",
    "NASA_LOG_URLS",
    "DOWNLOAD_TIMEOUT",
    "DASK_SCHEDULER_ADDRESS",
    "Q1_HEAD_START",
)
TIMING = re.compile(rb'^(\s*"seconds": )[^,\n]*(,?)$', re.MULTILINE)  # results.json's timings


def chosen_cases(patterns: list[str] | None) -> list[Case]:
    """The cases whose names match one of ``patterns`` (shell-style), all without any; exits
    naming a pattern that matches none."""
    every = cases()
    if not patterns:
        return every
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(case.name, pattern) for case in every):
            raise SystemExit(f"--only {pattern}: no such case (--list shows them)")
    return [c for c in every if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]


# --- running and comparing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    label: str  # before or after
    path: Path


@dataclass(frozen=True)
class Outcome:
    """What one run said: exit code (None: timed out), output, results.json (None: not
    written), and how long it took."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    results: bytes | None
    seconds: float


def child_env(tree: Tree, corpus: Path, case_env: dict[str, str] | None = None) -> dict:
    """The environment of a run in ``tree``: its own ``lib`` first, its IP tables kept in the
    corpus, no bytecode written into it, and the case's variables."""
    env = {name: value for name, value in os.environ.items() if name not in PRODUCT_VARIABLES}
    env |= {
        "PYTHONPATH": str(tree.path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "GEO_CACHE": str(corpus / "geo" / tree.label),
    }
    return env | (case_env or {})


def check_tree(tree: Tree, corpus: Path) -> None:
    """Exit unless ``python -m lib.logs`` run in ``tree`` imports the tree's own ``lib``; warn
    when its compiled fast path is not built (every line would be read with polars)."""
    command = [sys.executable, "-c", "import lib; print(lib.__file__)"]
    done = subprocess.run(
        command, cwd=tree.path, env=child_env(tree, corpus), capture_output=True, text=True
    )
    imported = Path(done.stdout.strip() or "?").resolve()
    if done.returncode or not imported.is_relative_to(tree.path):
        raise SystemExit(
            f"{tree.label} {tree.path}: python -m lib.logs would import lib from {imported}, "
            f"not from this tree {done.stderr}"
        )
    if not any((tree.path / "lib").rglob("*.so")):
        print(
            f"warning: {tree.label} {tree.path} has no compiled extension (build it: python "
            "setup.py build_ext --inplace); it reads every line with polars",
            flush=True,
        )


def run(case: Case, tree: Tree, corpus: Path) -> Outcome:
    """Run ``case`` in ``tree``: ``python -m lib.logs`` in a fresh process."""
    out = corpus / "runs" / tree.label / case.name
    shutil.rmtree(out, ignore_errors=True)
    logs = [str(corpus / "logs" / log) for log in case.logs]  # an absolute one stays as it is
    command = [sys.executable, "-m", "lib.logs", *logs, *case.args, "--no-dns"]
    command += ["--output-dir", str(out)]
    env = child_env(tree, corpus, case.env)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=tree.path, env=env, capture_output=True, timeout=TIMEOUT
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, stdout, stderr = None, exc.stdout or b"", (exc.stderr or b"") + b"\n(timed out)"
    seconds = time.perf_counter() - started
    results = out / "results.json"
    outcome = Outcome(
        code, stdout, stderr, results.read_bytes() if results.exists() else None, seconds
    )
    out.mkdir(parents=True, exist_ok=True)  # what it said, kept beside results.json
    (out / "stdout.txt").write_bytes(stdout)
    (out / "stderr.txt").write_bytes(stderr)
    (out / "exit_code.txt").write_text(f"{code}\n")
    return outcome


def quieted(stderr: bytes) -> tuple[bytes, int]:
    """``stderr`` without its INFO log records, each traceback's frames left out (the exception
    line stays); and how many INFO records there were.

    The product logs at WARNING and above, but the Dask cluster's INFO records (addresses,
    client ids, clock times, in an order of their own, some with a CommClosedError traceback)
    leak through its logging set-up when the dask engine runs. A traceback's frames name the
    files and lines of the code, which a restructuring moves; what went wrong is its last line.
    """
    kept: list[bytes] = []
    records, after_record, in_frames = 0, False, False
    for line in stderr.split(b"\n"):
        if in_frames:
            if line.startswith(b" "):
                continue
            in_frames = False  # the exception's line
            if after_record:
                after_record = False
                continue
        elif line.startswith(b"INFO: "):
            records, after_record = records + 1, True
            continue
        elif line == b"Traceback (most recent call last):":
            in_frames = True
            if not after_record:
                kept += [line, b"  (frames left out)"]
            continue
        else:
            after_record = False
        kept.append(line)
    return b"\n".join(kept), records


def said(outcome: Outcome, tree: Tree, corpus: Path) -> tuple[dict[str, bytes], int]:
    """What is compared of a run: its exit code, stdout and stderr with the corpus's, this
    interpreter's and the tree's paths replaced (stderr ``quieted``), and results.json with its
    timings replaced; and how many INFO records its stderr had."""

    def placed(text: bytes) -> bytes:
        text = text.replace(str(corpus).encode(), b"<corpus>")
        text = text.replace(sys.prefix.encode(), b"<python>")  # a venv may lie in a tree
        return text.replace(str(tree.path).encode(), b"<tree>")

    stderr, records = quieted(placed(outcome.stderr))
    results = outcome.results
    return {
        "exit code": f"{outcome.exit_code}\n".encode(),
        "stdout": placed(outcome.stdout),
        "stderr": stderr,
        "results.json": b"(not written)\n"
        if results is None
        else TIMING.sub(rb'\1"<timing>"\2', results),
    }, records


@dataclass(frozen=True)
class Verdict:
    case: Case
    before: dict[str, bytes]
    after: dict[str, bytes]
    seconds: tuple[float, float]
    records: tuple[int, int]  # INFO records left out of each stderr

    @property
    def differ(self) -> list[str]:
        return [what for what in self.before if self.before[what] != self.after[what]]

    def line(self) -> str:
        code = self.before["exit code"].decode().strip()
        took = f"{self.seconds[0]:5.1f} s | {self.seconds[1]:5.1f} s"
        quiet = ""
        if any(self.records):
            quiet = f"; {self.records[0]} | {self.records[1]} INFO records left out of stderr"
        if self.differ:
            return f"DIFFERENT  {self.case.name:<36} {took}  in {', '.join(self.differ)}{quiet}"
        return f"same       {self.case.name:<36} {took}  exit {code}{quiet}"

    def diffs(self) -> Iterator[str]:
        """A unified diff of each part that differs, cut to ``DIFF_LINES`` lines."""
        for what in self.differ:
            a, b = (side[what].decode("utf-8", "replace") for side in (self.before, self.after))
            lines = difflib.unified_diff(
                a.splitlines(),
                b.splitlines(),
                f"before/{self.case.name}/{what}",
                f"after/{self.case.name}/{what}",
                lineterm="",
            )
            shown = [line[:DIFF_WIDTH] for _, line in zip(range(DIFF_LINES), lines, strict=False)]
            yield "\n".join(shown)


def both(case: Case, trees: tuple[Tree, Tree], corpus: Path) -> Verdict:
    """Run ``case`` in each tree and keep what each said."""
    outcomes = [run(case, tree, corpus) for tree in trees]
    (before, quiet), (after, quiet_after) = (
        said(outcome, tree, corpus) for outcome, tree in zip(outcomes, trees, strict=True)
    )
    seconds = (outcomes[0].seconds, outcomes[1].seconds)
    return Verdict(case, before, after, seconds, (quiet, quiet_after))


def compare(chosen: list[Case], trees: tuple[Tree, Tree], corpus: Path) -> list[Verdict]:
    """Run the cases, ``POOL`` at a time (the slow ones first), printing each verdict in the
    cases' order."""
    verdicts = []
    with ThreadPoolExecutor(POOL) as pool:
        futures: dict[str, Future] = {}
        for case in sorted(chosen, key=lambda c: not c.slow):
            if case.needs is None or case.needs.exists():
                futures[case.name] = pool.submit(both, case, trees, corpus)
        for case in chosen:
            if case.name not in futures:
                print(f"skipped    {case.name:<36} ({case.needs} is absent)", flush=True)
                continue
            verdicts.append(futures[case.name].result())
            print(verdicts[-1].line(), flush=True)
    return verdicts


def report(verdicts: list[Verdict], skipped: int, seconds: float) -> int:
    """The tally and the first differences as diffs; 1 if any case differs."""
    different = [v for v in verdicts if v.differ]
    print(
        f"\n{len(verdicts)} cases compared in {seconds:.0f} s: {len(verdicts) - len(different)} "
        f"same, {len(different)} different" + (f", {skipped} skipped" if skipped else "")
    )
    for verdict in different[:SHOWN]:
        for diff in verdict.diffs():
            print(f"\n{diff}")
    if len(different) > SHOWN:
        print(f"\n(diffs of {len(different) - SHOWN} more cases not shown: --only NAME)")
    return 1 if different else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="the tree before the change")
    parser.add_argument("--after", type=Path, default=Path("."), help="the tree after it")
    parser.add_argument("--corpus", type=Path, default=Path("out/same_answers"))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="cases (shell patterns)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the corpus")
    parser.add_argument("--list", action="store_true", help="print the cases and exit")
    args = parser.parse_args()
    chosen = chosen_cases(args.only)
    if args.list:
        for case in chosen:
            env = " ".join(f"{k}={v}" for k, v in case.env.items())
            print(case.name, env, shlex.join([*case.logs, *case.args]))
        return 0
    if args.before is None:
        parser.error("--before is required")
    corpus = args.corpus.resolve()
    trees = (Tree("before", args.before.resolve()), Tree("after", args.after.resolve()))
    for tree in trees:
        check_tree(tree, corpus)
    build_corpus(corpus / "logs", trees[0].path, args.regenerate)
    print(f"comparing {trees[0].path} (before) with {trees[1].path} (after):", flush=True)
    started = time.perf_counter()
    verdicts = compare(chosen, trees, corpus)
    return report(verdicts, len(chosen) - len(verdicts), time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
