"""The results cache kiosks serve from: ``results.json`` and chart PNGs in one directory.

The worker writes it (each file to a temp name, then renamed, so a reader never sees half a
file); kiosks only read it, so serving results costs no database work however many kiosks ask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lib.charts import save_figure, vote_timeline_chart, vote_totals_chart
from lib.output import write_json

RESULTS_FILE = "results.json"
CHARTS = {"totals": vote_totals_chart, "timeline": vote_timeline_chart}


def write_results(cache_dir: Path, results: dict, charts: bool = True) -> None:
    """Write the charts (when ``charts``), then ``results.json``, atomically each."""
    if charts:
        for name, draw in CHARTS.items():
            save_figure(draw(results), Path(cache_dir) / f"{name}.png")
    write_json(Path(cache_dir) / RESULTS_FILE, results)


def chart_data(results: dict) -> tuple:
    """What the charts depend on: charts are redrawn only when this changes."""
    return (
        json.dumps(results["totals"], sort_keys=True),
        json.dumps(results["distribution"][-1:], sort_keys=True),
        len(results["distribution"]),
    )


@dataclass
class CachedResults:
    """``results.json`` as bytes, re-read only when the file changes (kiosks serve it often)."""

    path: Path
    _stamp: tuple | None = None
    _document: dict | None = None

    def read(self) -> dict | None:
        """The results document, or None if the worker has not written one yet."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._stamp:
            try:
                document = json.loads(self.path.read_bytes())
            except (OSError, ValueError):
                return self._document  # replaced under us: keep the last good one
            self._stamp, self._document = stamp, document
        return self._document


def staleness(results: dict, now: datetime | None = None) -> float:
    """Seconds since the results were generated."""
    generated = datetime.fromisoformat(results["generated_at"])
    return max(0.0, ((now or datetime.now(UTC)) - generated).total_seconds())
