"""The chart theme every capability's charts share, writing a chart, and fitting its texts.

Chart functions (``lib.logs.report.charts``, ``lib.clickstream.charts``, ``lib.votes.charts``)
take data and return a matplotlib Figure made by ``figure`` (no pyplot state, so they are safe in
scripts, threads and notebooks alike); ``save_figure`` writes one. ``fit_title`` and ``fit_note``
wrap and shrink a figure's title and note until they fit its width; ``shorten`` cuts a long label.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from lib.output import replacing

sns.set_theme(style="whitegrid")

ELLIPSIS = "…"
TEXT_ROOM = 0.96  # the share of the figure's width a title or note may take
_SAMPLE = 200  # characters measured to learn a text's average character width


def figure(width: float = 9, height: float = 4.5) -> tuple[Figure, Axes]:
    """A new figure of ``width`` x ``height`` inches in the theme, and its one axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG via a temp file and rename, so no reader sees half a file."""
    with replacing(path) as out:
        fig.savefig(out, dpi=110, format="png")
    return Path(path)


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut in the middle to at most ``limit`` characters (an ellipsis marks the cut),
    keeping both ends: a host name's domain, a user agent's browser."""
    if len(text) <= limit:
        return text
    head = max(0, (limit - 1) // 2)
    tail = max(0, limit - 1 - head)
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def fit_title(fig: Figure, text: str, max_lines: int = 3, min_size: float = 7) -> Text:
    """Set ``text`` as ``fig``'s title (a suptitle, centred on the figure, laid out by
    constrained layout), wrapped on at most ``max_lines`` lines and shrunk down to ``min_size``
    points if need be so that it is no wider than the figure; a text that still does not fit
    is cut with an ellipsis. Returns the title's Text."""
    return fit_text(fig, fig.suptitle(text), text, max_lines, min_size)


def fit_note(fig: Figure, text: str, max_lines: int = 2, min_size: float = 6) -> Text:
    """Set ``text`` as a small grey note under the axes (``fig.supxlabel``), fitted to the
    figure's width as ``fit_title`` does. Returns the note's Text."""
    note = fig.supxlabel(text, fontsize=9, color="dimgray")
    return fit_text(fig, note, text, max_lines, min_size)


def fit_text(fig: Figure, artist: Text, text: str, max_lines: int, min_size: float) -> Text:
    """Wrap ``text`` into ``artist`` so that it is at most as wide as ``TEXT_ROOM`` of ``fig``:
    first on up to ``max_lines`` lines at its font size, then at smaller sizes down to
    ``min_size``, else cut to ``max_lines`` lines ending in an ellipsis. Measured with the
    figure's renderer, so a long word or a wide font is seen as it will be drawn. Returns
    ``artist``."""
    renderer = _renderer(fig)
    room = fig.bbox.width * TEXT_ROOM
    flat = " ".join(text.split())
    size = float(artist.get_fontsize())
    while True:
        artist.set_fontsize(size)
        lines = textwrap.wrap(flat, _chars_per_line(artist, flat, room, renderer)) or [""]
        if len(lines) <= max_lines or size <= min_size:
            break
        size = max(min_size, size - 1)
    artist.set_text("\n".join(_cut(lines, max_lines)))
    chars = max(len(line) for line in lines)
    while artist.get_window_extent(renderer).width > room and chars > 1:
        chars = max(1, int(chars * 0.9))  # a font wider than its sample: narrower lines
        artist.set_text("\n".join(_cut(textwrap.wrap(flat, chars) or [""], max_lines)))
    return artist


def _renderer(fig: Figure) -> RendererBase:
    """The renderer ``fig`` is drawn with (an Agg canvas is attached if it has none yet)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def _chars_per_line(artist: Text, text: str, room: float, renderer: RendererBase) -> int:
    """How many characters of ``text`` fit in ``room`` pixels at ``artist``'s font."""
    sample = text[:_SAMPLE] or "x"
    artist.set_text(sample)
    width = artist.get_window_extent(renderer).width
    return max(1, int(room / max(width / len(sample), 1e-6)))


def _cut(lines: list[str], max_lines: int) -> list[str]:
    """The first ``max_lines`` of ``lines``, the last one ending in an ellipsis if any were
    left out."""
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    kept[-1] = kept[-1][: max(0, len(kept[-1]) - 1)] + ELLIPSIS
    return kept
