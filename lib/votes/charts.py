"""Q3's charts: votes per candidate, and votes per 10-minute bucket, drawn from a results
document (``lib.votes.store``). Each candidate has one colour on every chart, by its place in
the configured list. Buckets are labelled in the results' time zone (``VOTES_TIME_ZONE``).
Candidates' names may be Chinese: a font that draws them is found on the system and used as
fallback; without one the labels keep the names' Latin part. Names are drawn as they are written:
a ``$`` is never taken for the start of a formula (matplotlib's mathtext)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.figure import Figure

from lib.charts import figure
from lib.votes.message import Candidate

# Fonts that draw Chinese (the kiosk's candidate names), best first. Debian: fonts-wqy-zenhei.
CJK_FONTS = (
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "Droid Sans Fallback",
)
_CJK_FILES = ("wqy", "notosanscjk", "sourcehansans", "droidsansfallback")  # in file names
# Candidates' colours, in the order they are configured (seaborn's colour-blind palette), then
# again from the start for an eleventh candidate and beyond.
CANDIDATE_COLOURS = (
    "#0173b2",
    "#de8f05",
    "#029e73",
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#fbafe4",
    "#949494",
    "#ece133",
    "#56b4e9",
)


class _OneWeightNotice(logging.Filter):
    """CJK fonts often come in one weight; matplotlib would warn whenever it falls back to one."""

    def filter(self, record: logging.LogRecord) -> bool:
        notice = str(record.msg).startswith("findfont: Failed to find font weight")
        return not (notice and any(name in str(record.args) for name in CJK_FONTS))


@cache
def cjk_font() -> str | None:
    """The family of an installed font that draws Chinese, or None. Fonts installed after
    matplotlib built its font list are found on the system and added to it."""
    found = _first_cjk_font()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(hint in Path(path).name.lower().replace("-", "") for hint in _CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = _first_cjk_font()
    if found:
        logging.getLogger(font_manager.__name__).addFilter(_OneWeightNotice())
    return found


def _first_cjk_font() -> str | None:
    known = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)


@contextmanager
def _names_font() -> Iterator[None]:
    """Text drawn inside falls back to a CJK font for the glyphs the default font lacks."""
    extra = [cjk_font()] if cjk_font() else []
    with matplotlib.rc_context({"font.family": ["sans-serif", *extra]}):
        yield


def candidate_labels(candidates: list[dict], cjk: bool | None = None) -> dict[str, str]:
    """``id -> label`` for the vote charts: the id and the whole name (``1 薯片 chips``) when a
    font can draw it (``cjk``, default: whether one is installed), else the id and the name's
    Latin part (``1 chips``): never empty boxes. Each as matplotlib draws it literally
    (``literal``)."""
    if cjk_font() is not None if cjk is None else cjk:
        return {c["id"]: literal(f"{c['id']} {c['name']}".strip()) for c in candidates}
    return {c["id"]: literal(Candidate(c["id"], c["name"]).label) for c in candidates}


def literal(text: str) -> str:
    """``text`` as matplotlib draws it as it is written: each ``$`` escaped, since two of them
    make the text between a formula (``$\\frac{1}{$`` then fails to draw, and ``Pay $5 or $10``
    is drawn "Pay 5or10"). A ``\\`` needs no escape: outside a formula it is drawn as is."""
    return text.replace("$", r"\$")


def candidate_colours(candidates: list[dict]) -> dict[str, str]:
    """``id -> colour`` (hex): by each candidate's place in the configured list, so the same
    candidate has the same colour on every chart, whatever the votes."""
    return {
        c["id"]: CANDIDATE_COLOURS[i % len(CANDIDATE_COLOURS)] for i, c in enumerate(candidates)
    }


def _palette(results: dict, labels: dict[str, str]) -> dict[str, str]:
    """``label -> colour`` for seaborn's ``hue``."""
    colours = candidate_colours(results["candidates"])
    return {labels[cid]: colour for cid, colour in colours.items()}


def vote_totals_chart(results: dict) -> Figure:
    """Total votes per candidate (from a results document of ``lib.votes.store``)."""
    with _names_font():
        return _vote_totals_chart(results, candidate_labels(results["candidates"]))


def _vote_totals_chart(results: dict, labels: dict[str, str]) -> Figure:
    frame = pd.DataFrame(
        {"candidate": [labels[c] for c in results["totals"]], "votes": results["totals"].values()}
    )
    fig, ax = figure(7, 0.6 * max(len(frame), 3) + 1.5)
    sns.barplot(
        data=frame,
        x="votes",
        y="candidate",
        hue="candidate",
        palette=_palette(results, labels),
        saturation=1,  # the palette's own colours, the same on every chart
        legend=False,
        ax=ax,
    )
    for i, votes in enumerate(frame["votes"]):
        ax.annotate(f" {votes:,}", (votes, i), va="center", fontsize=10)
    ax.set(title=f"Votes: {results['total_votes']:,} in all", xlabel="votes", ylabel="")
    return fig


def vote_timeline_chart(results: dict, buckets: int = 72) -> Figure:
    """Votes per candidate per 10-minute bucket (the last ``buckets`` of them), grouped bars,
    labelled in the results' time zone (``local_time``; ``bucket``, in UTC, if absent)."""
    with _names_font():
        return _vote_timeline_chart(results, buckets, candidate_labels(results["candidates"]))


def _vote_timeline_chart(results: dict, buckets: int, labels: dict[str, str]) -> Figure:
    rows = [
        {
            "bucket": pd.Timestamp(entry.get("local_time", entry["bucket"])).strftime(
                "%d %b %H:%M"
            ),
            "candidate": labels[cid],
            "votes": votes,
        }
        for entry in results["distribution"][-buckets:]
        for cid, votes in entry["votes"].items()
    ]
    frame = pd.DataFrame(rows, columns=["bucket", "candidate", "votes"])
    fig, ax = figure(10, 4)
    if len(frame):
        palette = _palette(results, labels)
        sns.barplot(
            data=frame,
            x="bucket",
            y="votes",
            hue="candidate",
            hue_order=list(palette),
            palette=palette,
            saturation=1,
            ax=ax,
        )
        names = list(dict.fromkeys(frame["bucket"]))
        step = max(1, len(names) // 8)
        ax.set_xticks(range(0, len(names), step), names[::step])
        # the legend names every candidate: matplotlib leaves out of it an artist whose label
        # starts with "_" (a candidate id may), so it is given its handles and labels
        ax.legend(ax.containers, list(palette), title="candidate")
    minutes = results.get("bucket_minutes", 10)
    zone = results.get("time_zone", "UTC")
    ax.set(title=literal(f"Votes per {minutes} minutes ({zone})"), xlabel="", ylabel="votes")
    return fig
