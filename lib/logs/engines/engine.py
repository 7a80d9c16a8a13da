"""What every engine of Q1 is: made from a plan and a window, ``start``ed (optional: work that
needs no polars begins at once), ``run`` to a summary, ``close``d. Engines are registered in
``lib.logs.engines``; this module holds their shared contract and imports nothing heavy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TextIO

from lib.errors import ConfigError

if TYPE_CHECKING:  # for the annotations only: importing it loads polars
    from lib.logs.counting.summary import LogSummary
    from lib.logs.engines.plan import Plan
    from lib.logs.window import Window

ENGINES = ("auto", "local", "dask")  # what a run may ask for; auto: chosen by choose_engine
Progress = Callable[[str], None]  # told one line of news at a time


@dataclass(frozen=True)
class EngineRun:
    """How a summary was computed."""

    engine: str  # "local" or "dask"
    partitions: int
    workers: int  # threads (local) or Dask worker processes
    scheduler: str | None  # a scheduler address, "LocalCluster", or None for local
    dashboard: str | None  # the Dask dashboard's URL, when there is one
    seconds: float


class Engine(Protocol):
    """Reads what a plan names and summarises it (see the module's doc)."""

    plan: Plan
    window: Window

    def start(self) -> Engine:
        """Begin the work that needs no polars (the local engine: reading and counting its first
        file); returns the engine. Optional: ``run`` starts what was not started."""
        ...

    def run(self, progress: Progress | None = None) -> tuple[LogSummary, EngineRun]:
        """Summarise what the plan reads; ``progress`` is told where the run is, a line at a
        time. Raises LogReadError or EngineError. Closes the engine."""
        ...

    def close(self) -> None:
        """Stop whatever is still running and let its threads go (a run that failed, or one
        started and never run)."""
        ...


def choose_engine(engine: str, scheduler: str | None) -> str:
    """Resolve ``auto`` to ``local`` or ``dask``; raise ConfigError for an unknown engine."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    return "dask" if scheduler else "local"


def worker_count(workers: int | None = None) -> int:
    """``workers``, or one per CPU when not given."""
    return max(1, workers or os.cpu_count() or 1)


def print_progress(out: TextIO = sys.stdout) -> Progress:
    """A ``progress`` callback that prints each line (flushed, so a notebook shows it live)."""

    def report(line: str) -> None:
        print(line, file=out, flush=True)

    return report
