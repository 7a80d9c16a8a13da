"""The chart theme every capability's charts share, and writing a chart.

Chart functions (``lib.logs.charts``, ``lib.clickstream.charts``, ``lib.votes.charts``) take data
and return a matplotlib Figure made by ``figure`` (no pyplot state, so they are safe in scripts,
threads and notebooks alike); ``save_figure`` writes one.
"""

from __future__ import annotations

from pathlib import Path

import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lib.output import replacing

sns.set_theme(style="whitegrid")


def figure(width: float = 9, height: float = 4.5) -> tuple[Figure, Axes]:
    """A new figure of ``width`` x ``height`` inches in the theme, and its one axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG via a temp file and rename, so no reader sees half a file."""
    with replacing(path) as out:
        fig.savefig(out, dpi=110, format="png")
    return Path(path)
