"""The results cache kiosks serve from: ``results.json`` and chart PNGs in one directory.

The worker writes it (each file to a temp name, then renamed, so a reader never sees half a
file); kiosks only read it, so serving results costs no database work however many kiosks ask.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from lib.output import write_json

RESULTS_FILE = "results.json"
CHARTS = ("totals", "timeline")  # <name>.png, drawn by lib.votes.charts.vote_<name>_chart


def write_results(cache_dir: Path, results: dict, charts: bool = True) -> None:
    """Write the charts (when ``charts``), then ``results.json``, atomically each. A chart
    that fails to draw does not hold the figures back: ``results.json`` is written all the
    same, and the error raised after."""
    try:
        if charts:
            # imported here, not at the top: kiosks read this cache and never load matplotlib
            from lib.charts import save_figure
            from lib.votes import charts as drawing

            for name in CHARTS:
                draw = getattr(drawing, f"vote_{name}_chart")
                save_figure(draw(results), Path(cache_dir) / f"{name}.png")
    finally:
        write_json(Path(cache_dir) / RESULTS_FILE, results)


def charts_missing(cache_dir: Path) -> bool:
    """Whether any chart is missing from ``cache_dir`` (so it must be drawn whatever changed)."""
    return any(not (Path(cache_dir) / f"{name}.png").is_file() for name in CHARTS)


def chart_data(results: dict) -> tuple:
    """What the charts depend on: charts are redrawn only when this changes."""
    return (
        json.dumps(results["totals"], sort_keys=True),
        json.dumps(results["distribution"][-1:], sort_keys=True),
        len(results["distribution"]),
    )


@dataclass(frozen=True)
class Snapshot:
    """One version of ``results.json``, with what serving it needs computed once."""

    document: dict
    generated: datetime
    prefix: bytes  # compact JSON without its closing brace: a field can be appended cheaply
    etag: str
    last_modified: str


@dataclass
class CachedResults:
    """``results.json`` re-read only when the file changes (kiosks serve it often)."""

    path: Path
    _stamp: tuple | None = None
    _snapshot: Snapshot | None = None

    def read(self) -> Snapshot | None:
        """The current results, or None if the worker has not written any yet."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._stamp:
            try:
                document = json.loads(self.path.read_bytes())
                generated = datetime.fromisoformat(document["generated_at"])
            except (OSError, ValueError, KeyError, TypeError):
                return self._snapshot  # replaced under us, or not ours: keep the last good one
            compact = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            self._snapshot = Snapshot(
                document,
                generated,
                compact[:-1],
                '"' + hashlib.sha1(compact).hexdigest()[:20] + '"',
                format_datetime(generated.astimezone(UTC), usegmt=True),
            )
            self._stamp = stamp
        return self._snapshot


def staleness(generated: datetime, now: datetime | None = None) -> float:
    """Seconds since results generated at ``generated`` (``Snapshot.generated``)."""
    return max(0.0, ((now or datetime.now(UTC)) - generated).total_seconds())
