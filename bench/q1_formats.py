"""Q1 on the layouts servers write beside Combined, timed against Combined in the same run, and
against GoAccess reading the same JSON.

    python bench/q1_formats.py [--lines 1000000] [--rounds 3] [--goaccess-rounds 1]
                               [--distinct 50000] [--keep DIR] [--before DIR] [--json OUT]
                               [VARIANT ...]

For each variant of the deployment corpus (``tests/support/log_corpus.py``; by default
``nginx_combined``, the baseline, then Combined with fields after it, then JSON lines), a plain
log of ``--lines`` lines is written: the corpus's records (about 1,200, seeded) made again with
the seeds after its own until there are ``--distinct`` lines, rendered by the variant's
renderer, then repeated to the length asked for. Written under out/bench/formats/ (or
``--keep``) and kept there: reused while the corpus module and the sizes are the same.

Q1 reads each as a user runs it, ``python -m lib.logs LOG --no-dns --json`` with the corpus's
window, a fresh process each time, ``--rounds`` times (every other round in reverse order); the
best time counts, and Q1's total must be the line count. With ``--before DIR`` (a checkout of
the code before a change, e.g. ``git worktree add DIR HEAD~1`` with its extension built in
place) that tree's Q1 runs beside it in the same rounds. GoAccess (Debian's package,
``apt-get install goaccess``; left out, saying so, when it is not installed) reads the Combined
log and each JSON one with the format ``bench/q1_goaccess_totals.py`` gives it
(``-o report.json``, no HTML), ``--goaccess-rounds`` times (it is slow: one by default); its
valid requests must be the line count too.

Prints the CPU, then a table: each variant's parser kind, Q1's best seconds and peak memory,
Q1 over Combined's Q1 (target: the Combined-with-more-fields layouts within 1.3x), Q1's least
CPU seconds (user and system, every thread) and their ratio to Combined's (on a machine shared
with other work, steadier than wall time), GoAccess's seconds and Q1 over GoAccess on the same
log (target: JSON lines ahead of GoAccess, below 1), the tree before's seconds and Q1 over
them, and Q1's seconds in each round; then the figures as JSON (also written to ``--json``).
Exits 1 if a count is not the line count.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.support and bench, when run as a script

from bench.q1_compare import cpu_model  # noqa: E402
from bench.q1_goaccess_totals import GOACCESS  # noqa: E402
from tests.support import log_corpus  # noqa: E402
from tests.support.log_corpus import SEED, VARIANTS, window_args  # noqa: E402

BASELINE = "nginx_combined"
VARIANTS_TIMED = (
    BASELINE,
    "nginx_main",
    "apache_combined_duration",
    "nginx_request_time",
    "nginx_upstream_host",
    "ingress_nginx",
    "traefik_clf",
    "nginx_json",
    "caddy_json",
    "traefik_json",
)
TRAILING_TARGET = 1.3  # Combined with fields after it: Q1 within this many times Combined's
GOACCESS_TARGET = 1.0  # JSON lines: Q1 below GoAccess's time on the same log
CACHE = ROOT / "out" / "bench" / "formats"


def corpus_version() -> str:
    """What the logs are made from: the corpus module's text (a change writes them again)."""
    return hashlib.sha256(Path(log_corpus.__file__).read_bytes()).hexdigest()[:16]


def request_lines(name: str, distinct: int) -> list[str]:
    """``distinct`` lines or more of the variant: its records, then records made with the
    seeds after the corpus's, each set rendered on its own (header lines left out)."""
    variant = VARIANTS[name]
    lines: list[str] = []
    seed = SEED
    while len(lines) < distinct:
        records = log_corpus.make_records(variant.client == "forwarded", variant.zone, seed)
        lines += [line for line in variant.render(records) if not line.startswith("#")]
        seed += 1
    return lines


def write_variant(name: str, lines: int, distinct: int, folder: Path) -> Path:
    """The variant's log of ``lines`` lines in ``folder``, written unless its marker says it is
    there already, made from the same corpus."""
    log = folder / f"{name}_{lines}.log"
    marker = log.with_suffix(".json")
    wanted = {"variant": name, "lines": lines, "distinct": distinct, "corpus": corpus_version()}
    if log.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        return log
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    made = request_lines(name, min(distinct, lines))
    newline = VARIANTS[name].newline
    with log.open("w", encoding="utf-8", newline="") as out:
        for start in range(0, lines, len(made)):
            chunk = made[: min(len(made), lines - start)]
            out.write(newline.join(chunk) + newline)
    marker.write_text(json.dumps(wanted) + "\n")
    seconds = time.perf_counter() - started
    print(f"  wrote {log} ({log.stat().st_size / 1e6:.0f} MB, {seconds:.1f} s)", flush=True)
    return log


def timed(command: list[str], out: Path, tree: Path = ROOT) -> tuple[float, float, int, float]:
    """Run ``command`` in ``tree`` (its ``lib`` imported), its output into ``out`` and what it
    says on standard error beside it: (wall seconds, peak RSS in MB of its process tree, exit
    code, CPU seconds of the process: user and system, all its threads)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with out.open("wb") as sink, out.with_suffix(".err").open("wb") as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=sink, stderr=errors, cwd=tree, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), cpu


def q1_command(name: str, log: Path) -> list[str]:
    """Q1 as a user runs it on the variant's log, with the options its operator must give."""
    window = window_args()
    return [
        sys.executable, "-m", "lib.logs", str(log), "--no-dns", "--json",
        "--window-start", window["window_start"], "--window-end", window["window_end"],
        *VARIANTS[name].options,
    ]  # fmt: skip


def run_q1(name: str, log: Path, folder: Path, tree: Path = ROOT) -> dict:
    """One timed Q1 run (``tree``'s): seconds, peak MB, the requests it counted and the
    format it read."""
    out = folder / "q1.json"
    seconds, peak, code, cpu = timed(q1_command(name, log), out, tree)
    if code:
        return {"seconds": seconds, "peak_mb": peak, "requests": f"exit {code}", "format": None}
    result = json.loads(out.read_text())
    formats = sorted(set(result["input"]["formats"].values()))
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "cpu_s": cpu,
        "requests": result["total_requests"],
        "format": ",".join(formats),
    }


def goaccess_args(name: str) -> tuple[str, tuple[str, ...]] | None:
    """GoAccess's format for the variant (``bench/q1_goaccess_totals.py``'s first) if it is the
    baseline or JSON lines (the comparisons the targets make), else None."""
    found = GOACCESS.get(name)
    if not found or (name != BASELINE and kind_of(name) != "json"):
        return None
    return found[0]


def run_goaccess(log: Path, args: tuple[str, ...], folder: Path) -> dict:
    """One timed GoAccess run: seconds, peak MB and its valid requests."""
    report = folder / "report.json"
    report.unlink(missing_ok=True)
    command = ["goaccess", str(log), *args, "--no-progress", "--no-global-config", "-o"]
    seconds, peak, code, _ = timed([*command, str(report)], folder / "goaccess.out")
    if code or not report.exists():
        return {"seconds": seconds, "peak_mb": peak, "requests": f"exit {code}"}
    general = json.loads(report.read_bytes().decode("utf-8", "replace"))["general"]
    return {"seconds": seconds, "peak_mb": peak, "requests": general["valid_requests"]}


def kind_of(name: str) -> str:
    """The parser kind of the format the variant is read as."""
    from lib.logs.parsing.formats import FORMATS

    fmt = FORMATS.get(VARIANTS[name].detect_as)
    return fmt.kind if fmt is not None else "?"


def best(runs: list[dict]) -> dict:
    """The fastest run (its count and memory with it)."""
    return min(runs, key=lambda run: run["seconds"])


def ratios(
    q1: dict[str, dict], goaccess: dict[str, dict], before: dict[str, dict], cpu: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Q1 over Combined's Q1 (wall seconds, and the least CPU seconds of a run: on a shared
    machine the steadier figure), over GoAccess on the same log and over the tree before, per
    variant (where measured)."""
    base = q1[BASELINE]["seconds"]
    found: dict[str, dict[str, float]] = {}
    for name, run in q1.items():
        found[name] = {
            "q1_over_combined": run["seconds"] / base,
            "cpu_over_combined": cpu[name] / cpu[BASELINE],
        }
        if name in goaccess:
            found[name]["q1_over_goaccess"] = run["seconds"] / goaccess[name]["seconds"]
        if name in before:
            found[name]["q1_over_before"] = run["seconds"] / before[name]["seconds"]
            found[name]["before_over_combined"] = before[name]["seconds"] / base
    return found


def verdict(name: str, kind: str, figures: dict[str, float]) -> str:
    """The target the variant is held to, and whether it is met."""
    if name == BASELINE:
        return "baseline"
    if kind == "regex":
        met = figures["q1_over_combined"] <= TRAILING_TARGET
        return f"<= {TRAILING_TARGET}x Combined: {'met' if met else 'MISSED'}"
    if kind == "json" and "q1_over_goaccess" in figures:
        met = figures["q1_over_goaccess"] < GOACCESS_TARGET
        return f"ahead of GoAccess: {'met' if met else 'MISSED'}"
    return ""


def table(names: list[str], measured: dict, figures: dict[str, dict[str, float]]) -> str:
    """The figures of each variant, a row each (``measured``: ``q1``, ``goaccess``,
    ``before``, ``q1_rounds_s``)."""
    q1, goaccess, before = measured["q1"], measured["goaccess"], measured["before"]
    head = (
        "| variant | kind | Q1 s | Q1 peak MB | Q1 / Combined | Q1 CPU s | CPU / Combined "
        "| GoAccess s | Q1 / GoAccess |"
    )
    rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    if before:
        head += " before s | Q1 / before |"
        rule += "---:|---:|"
    lines = [head + " target | Q1 rounds s |", rule + "---|---|"]
    for name in names:
        kind, run, ratio = kind_of(name), q1[name], figures[name]
        theirs = f"{goaccess[name]['seconds']:.2f}" if name in goaccess else "-"
        over = f"{ratio['q1_over_goaccess']:.3f}" if name in goaccess else "-"
        row = (
            f"| {name} | {kind} | {run['seconds']:.2f} | {run['peak_mb']:.0f} "
            f"| {ratio['q1_over_combined']:.2f} | {measured['q1_cpu_s'][name]:.2f} "
            f"| {ratio['cpu_over_combined']:.2f} | {theirs} | {over} |"
        )
        if before:
            earlier = f"{before[name]['seconds']:.2f}" if name in before else "-"
            gain = f"{ratio['q1_over_before']:.2f}" if name in before else "-"
            row += f" {earlier} | {gain} |"
        each = " ".join(f"{seconds:.2f}" for seconds in measured["q1_rounds_s"][name])
        lines.append(f"{row} {verdict(name, kind, ratio)} | {each} |")
    return "\n".join(lines)


def checks(names: list[str], lines: int, measured: dict) -> list[str]:
    """What is wrong with the counts: each must be the line count, read as the variant's
    format."""
    wrong = []
    for name in names:
        for who in ("q1", "before"):
            run = measured[who].get(name)
            if run is None:
                continue
            if run["requests"] != lines:
                wrong.append(f"{name}: {who} counted {run['requests']} of {lines:,} lines")
            if run["format"] != VARIANTS[name].detect_as:
                wrong.append(f"{name}: {who} read it as {run['format']}")
        theirs = measured["goaccess"].get(name)
        if theirs is not None and theirs["requests"] != lines:
            wrong.append(f"{name}: GoAccess counted {theirs['requests']} of {lines:,} lines")
    return wrong


def versions() -> dict[str, str]:
    import polars

    found = {"python": platform.python_version(), "polars": polars.__version__}
    if shutil.which("goaccess"):
        done = subprocess.run(["goaccess", "--version"], capture_output=True, text=True)
        found["goaccess"] = done.stdout.splitlines()[0] if done.stdout else "?"
    return found


def measure(names: list[str], logs: dict[str, Path], args: argparse.Namespace) -> dict:
    """Every run: Q1's (and the tree before's) ``--rounds`` times, every other round in
    reverse; then GoAccess's. The best of each, and Q1's every time."""
    trees = {"q1": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    runs: dict[str, dict[str, list[dict]]] = {who: {name: [] for name in names} for who in trees}
    goaccess: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="q1_formats_") as tmp:
        folder = Path(tmp)
        for round_no in range(args.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                for who in trees if round_no % 2 == 0 else list(trees)[::-1]:
                    runs[who][name].append(run_q1(name, logs[name], folder, trees[who]))
            seconds = " ".join(f"{name} {runs['q1'][name][-1]['seconds']:.2f}" for name in names)
            print(f"Q1 round {round_no + 1}/{args.rounds}: {seconds}", flush=True)
        for name in names:
            found = goaccess_args(name) if args.goaccess_rounds else None
            if found is not None:
                goaccess[name] = [
                    run_goaccess(logs[name], found[1], folder) for _ in range(args.goaccess_rounds)
                ]
                seconds = best(goaccess[name])["seconds"]
                print(f"GoAccess ({found[0]}) {name}: {seconds:.2f} s", flush=True)
    return {
        "q1": {name: best(each) for name, each in runs["q1"].items()},
        "q1_rounds_s": {
            name: [run["seconds"] for run in each] for name, each in runs["q1"].items()
        },
        "q1_cpu_s": {  # the least CPU seconds of a run (a failed run has none)
            name: min(run.get("cpu_s", float("inf")) for run in each)
            for name, each in runs["q1"].items()
        },
        "before": {name: best(each) for name, each in runs.get("before", {}).items()},
        "goaccess": {name: best(each) for name, each in goaccess.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", nargs="*", help=f"variants to time (default: {VARIANTS_TIMED})")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per log")
    parser.add_argument("--rounds", type=int, default=3, help="Q1 runs per log (best counts)")
    parser.add_argument("--goaccess-rounds", type=int, default=1, help="0: no GoAccess")
    parser.add_argument("--distinct", type=int, default=50_000, help="lines before repeating")
    parser.add_argument("--keep", type=Path, default=CACHE, help="where the logs are written")
    parser.add_argument("--before", type=Path, help="a checkout of the code before a change")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    names = list(dict.fromkeys([BASELINE, *(args.variant or VARIANTS_TIMED)]))
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"no such variant: {', '.join(sorted(unknown))}")
    if args.goaccess_rounds and shutil.which("goaccess") is None:
        print("goaccess is not installed (apt-get install goaccess): left out", flush=True)
        args.goaccess_rounds = 0

    print(f"CPU: {cpu_model()} ({os.cpu_count()} CPUs)", flush=True)
    # lib as installed: compiled to bytecode once (`make venv` does it), not in every run
    for tree in (ROOT, args.before):
        if tree is not None:
            compileall.compile_dir(tree / "lib", quiet=2)
    print(f"writing the logs ({args.lines:,} lines each) ...", flush=True)
    logs = {name: write_variant(name, args.lines, args.distinct, args.keep) for name in names}
    for log in logs.values():  # into the page cache
        subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)
    measured = measure(names, logs, args)
    figures = ratios(
        measured["q1"], measured["goaccess"], measured["before"], measured["q1_cpu_s"]
    )
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    print(f"\n{command}")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} CPUs); {versions()}")
    print(f"{args.lines:,} lines a log ({args.distinct:,} distinct); Q1 best of {args.rounds}, "
          f"GoAccess best of {args.goaccess_rounds}\n")  # fmt: skip
    print(table(names, measured, figures))
    wrong = checks(names, args.lines, measured)
    for problem in wrong:
        print(f"COUNT: {problem}")
    report = {
        "command": command,
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "versions": versions(),
        "lines": args.lines,
        "distinct": args.distinct,
        "logs_mb": {name: round(log.stat().st_size / 1e6, 1) for name, log in logs.items()},
        "kinds": {name: kind_of(name) for name in names},
        **measured,
        "goaccess_formats": {name: list(goaccess_args(name)[1]) for name in measured["goaccess"]},
        "ratios": figures,
        "targets": {"trailing_over_combined": TRAILING_TARGET, "json_over_goaccess": 1.0},
        "count_problems": wrong,
    }
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
