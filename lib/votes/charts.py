"""Q3's charts: votes per candidate, and votes per 10-minute bucket, drawn from a results
document (``lib.votes.store``). Candidates' names may be Chinese: a font that draws them is found
on the system and used as fallback; without one the labels keep the names' Latin part."""

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
    Latin part (``1 chips``): never empty boxes."""
    if cjk_font() is not None if cjk is None else cjk:
        return {c["id"]: f"{c['id']} {c['name']}".strip() for c in candidates}
    return {c["id"]: Candidate(c["id"], c["name"]).label for c in candidates}


def vote_totals_chart(results: dict) -> Figure:
    """Total votes per candidate (from a results document of ``lib.votes.store``)."""
    with _names_font():
        return _vote_totals_chart(results, candidate_labels(results["candidates"]))


def _vote_totals_chart(results: dict, labels: dict[str, str]) -> Figure:
    frame = pd.DataFrame(
        {"candidate": [labels[c] for c in results["totals"]], "votes": results["totals"].values()}
    )
    fig, ax = figure(7, 0.6 * max(len(frame), 3) + 1.5)
    sns.barplot(data=frame, x="votes", y="candidate", ax=ax, color="mediumpurple")
    for i, votes in enumerate(frame["votes"]):
        ax.annotate(f" {votes:,}", (votes, i), va="center", fontsize=10)
    ax.set(title=f"Votes: {results['total_votes']:,} in all", xlabel="votes", ylabel="")
    return fig


def vote_timeline_chart(results: dict, buckets: int = 72) -> Figure:
    """Votes per candidate per 10-minute bucket (the last ``buckets`` of them), grouped bars."""
    with _names_font():
        return _vote_timeline_chart(results, buckets, candidate_labels(results["candidates"]))


def _vote_timeline_chart(results: dict, buckets: int, labels: dict[str, str]) -> Figure:
    rows = [
        {
            "bucket": pd.Timestamp(entry["bucket"]).strftime("%d %b %H:%M"),
            "candidate": labels[cid],
            "votes": votes,
        }
        for entry in results["distribution"][-buckets:]
        for cid, votes in entry["votes"].items()
    ]
    frame = pd.DataFrame(rows, columns=["bucket", "candidate", "votes"])
    fig, ax = figure(10, 4)
    if len(frame):
        sns.barplot(data=frame, x="bucket", y="votes", hue="candidate", ax=ax)
        names = list(dict.fromkeys(frame["bucket"]))
        step = max(1, len(names) // 8)
        ax.set_xticks(range(0, len(names), step), names[::step])
    minutes = results.get("bucket_minutes", 10)
    ax.set(title=f"Votes per {minutes} minutes (UTC)", xlabel="", ylabel="votes")
    return fig
