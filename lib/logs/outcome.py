"""What a Q1 run leaves behind, and when it must fail instead.

A run answers only when it could do its job: some line was a request, and at most
``max_rejected`` of the lines (default ``MAX_REJECTED``, 5%) were rejected; otherwise it stops
with one line (``refuse_unreadable``). Its answers go to ``results.json`` in the output
directory, and a run that fails leaves none there: ``clear_results`` removes an earlier run's
before a run starts, so a script never reads stale answers as this run's. Imports no polars (a
command uses it before polars is loaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lib.errors import ConfigError
from lib.logs.errors import LogFormatError, TooManyRejected

if TYPE_CHECKING:  # for the annotations only: importing them loads polars
    from lib.logs.counting.summary import LogSummary
    from lib.logs.engines.plan import Plan

MAX_REJECTED = 0.05  # the share of lines a run may reject and still answer
RESULTS_NAME = "results.json"
# The command's exit codes (docs/q1.md): answered; failed (nothing answered: no such file, a
# format it cannot read, a cluster lost...); a usage error (a bad option, before any log is
# read); failed because more lines were rejected than --max-rejected allows.
EXIT_ANSWERED, EXIT_FAILED, EXIT_USAGE, EXIT_TOO_MANY_REJECTED = 0, 1, 2, 3


def check_share(max_rejected: float, name: str = "max_rejected") -> None:
    """Raise ConfigError unless ``max_rejected`` is a share between 0 and 1 (``name``: the
    parameter or option the user set)."""
    if not 0 <= max_rejected <= 1:
        raise ConfigError(f"{name} must be a share between 0 and 1, got {max_rejected}")


def check_counts(top_n: int, early_stopping: int, names=("top_n", "early_stopping")) -> None:
    """Raise ConfigError unless ``top_n`` is at least 1 and ``early_stopping`` at least 0
    (``names``: the parameters or options the user set)."""
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ConfigError(f"{names[0]} must be a whole number of at least 1, got {top_n!r}")
    if (
        isinstance(early_stopping, bool)
        or not isinstance(early_stopping, int)
        or early_stopping < 0
    ):
        raise ConfigError(
            f"{names[1]} must be a whole number of at least 0, got {early_stopping!r}"
        )


def clear_results(output_dir: str | Path) -> None:
    """Remove an earlier run's ``results.json`` from ``output_dir``, if there is one."""
    Path(output_dir, RESULTS_NAME).unlink(missing_ok=True)


def by_reason(summary: LogSummary) -> dict[str, int]:
    """The rejected lines per reason (``lib.logs.parsing.rejections``), the most first."""
    rows = summary.rejected_reasons.sort(["lines", "reason"], descending=[True, False]).rows()
    return dict(rows)


def refuse_unreadable(summary: LogSummary, plan: Plan, max_rejected: float) -> None:
    """Raise LogFormatError, in one line, when the run could not do its job: no line was a
    request, or more than ``max_rejected`` of them were rejected."""
    read = summary.requests + summary.filtered  # a filter may leave every request out
    if read and summary.rejected <= max_rejected * summary.lines:
        return
    if not summary.lines:
        raise LogFormatError(f"no lines to read in {', '.join(map(str, plan.files))}")
    tried = dict.fromkeys(name for _, choice in plan.choices for name in choice.names)
    shown = [
        f"{row['file']}:{row['line_no']}: {row['line'][:120]!r}"
        for row in summary.rejected_examples.head(2).iter_rows(named=True)
    ]
    reasons = ", ".join(f"{n:,} {why}" for why, n in by_reason(summary).items())
    raise TooManyRejected(
        f"{summary.rejected / summary.lines:.1%} of {summary.lines:,} lines rejected "
        f"(at most {max_rejected:.0%} allowed: {reasons}); formats tried: {', '.join(tried)}; "
        f"e.g. {'; '.join(shown)}; name the log's format with log_format (--format), or allow "
        "more with max_rejected (--max-rejected)"
    )
