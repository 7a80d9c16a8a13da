"""Charts for the reports. Each function takes data and returns a matplotlib Figure (no pyplot
state, so they are safe in scripts, threads and notebooks alike); ``save_figure`` writes one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta, timezone
from functools import cache
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import pandas as pd
import polars as pl
import seaborn as sns
from matplotlib import font_manager
from matplotlib.figure import Figure

from lib.output import replacing
from lib.votes import Candidate

sns.set_theme(style="whitegrid")

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


def _figure(width: float = 9, height: float = 4.5) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _title(text: str, synthetic: bool) -> str:
    return f"{text} — SYNTHETIC data" if synthetic else text


def parse_offset(offset: str | None) -> timezone:
    """``-0400`` -> a fixed timezone (UTC if None or malformed)."""
    if not offset or len(offset) != 5 or offset[0] not in "+-" or not offset[1:].isdigit():
        return UTC
    sign = -1 if offset[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))


def top_hosts_chart(top: pl.DataFrame, title: str, synthetic: bool = False) -> Figure:
    """Horizontal bars of ``host``/``requests``, busiest on top."""
    fig, ax = _figure(9, 0.4 * max(top.height, 3) + 1.5)
    sns.barplot(data=top.to_pandas(), x="requests", y="host", ax=ax, color="steelblue")
    ax.set(title=_title(title, synthetic), xlabel="requests", ylabel="")
    return fig


def countries_chart(countries: pl.DataFrame, n: int = 15, synthetic: bool = False) -> Figure:
    """Requests per country (the ``n`` largest), labelled with the share of attributed ones."""
    data = countries.head(n).with_columns(
        (pl.col("country") + " " + pl.col("name").str.slice(0, 24)).alias("label")
    )
    fig, ax = _figure(9, 0.35 * max(data.height, 3) + 1.5)
    sns.barplot(data=data.to_pandas(), x="requests", y="label", ax=ax, color="seagreen")
    for i, share in enumerate(data.get_column("share_of_attributed")):
        ax.annotate(f" {share:.1%}", (data.item(i, "requests"), i), va="center", fontsize=8)
    ax.set(title=_title("Requests by country", synthetic), xlabel="requests", ylabel="")
    return fig


def hourly_chart(hourly: pl.DataFrame, utc_offset: str | None, synthetic: bool = False) -> Figure:
    """Requests per hour over the whole log in the server's local time; hours without a single
    request are drawn as zero, so an outage shows as a gap at the bottom."""
    tz = parse_offset(utc_offset)
    fig, ax = _figure(11, 4)
    if hourly.height:
        full = pl.DataFrame(
            {
                "hour": pl.datetime_range(
                    hourly.get_column("hour").min(),
                    hourly.get_column("hour").max(),
                    "1h",
                    eager=True,
                    time_zone="UTC",
                )
            }
        )
        data = full.join(hourly, on="hour", how="left").with_columns(
            pl.col("requests").fill_null(0)
        )
        frame = data.to_pandas()
        frame["hour"] = frame["hour"].dt.tz_convert(tz)
        sns.lineplot(data=frame, x="hour", y="requests", ax=ax, linewidth=0.8)
        ax.fill_between(frame["hour"], frame["requests"], alpha=0.25)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=6, maxticks=12, tz=tz))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz=tz))
    ax.set(
        title=_title(f"Requests per hour (UTC{utc_offset or ''})", synthetic),
        xlabel="",
        ylabel="requests per hour",
    )
    return fig


def status_chart(statuses: pl.DataFrame, synthetic: bool = False) -> Figure:
    """Requests per HTTP status code (log scale, so the rare codes stay visible)."""
    data = statuses.sort("status").with_columns(pl.col("status").cast(pl.String))
    fig, ax = _figure(8, 4)
    sns.barplot(data=data.to_pandas(), x="status", y="requests", ax=ax, color="slategray")
    ax.set_yscale("log")
    ax.set(title=_title("HTTP status codes", synthetic), xlabel="status", ylabel="requests")
    return fig


def coverage_chart(by_method: pl.DataFrame, synthetic: bool = False) -> Figure:
    """Share of all requests attributed by each method, and the unattributed rest."""
    data = by_method.with_columns((pl.col("share") * 100).alias("percent"))
    fig, ax = _figure(8, 3.5)
    sns.barplot(data=data.to_pandas(), x="percent", y="method", ax=ax, color="darkorange")
    ax.set(
        title=_title("Country attribution: % of requests by method", synthetic),
        xlabel="% of all requests",
        ylabel="",
    )
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG via a temp file and rename, so no reader sees half a file."""
    with replacing(path) as out:
        fig.savefig(out, dpi=110, format="png")
    return Path(path)


def likes_chart(top: pl.DataFrame | object, day: str) -> Figure:
    """Likes per article on ``day`` (columns ``title``, ``id``, ``likes``), most liked on top."""
    frame = top if not isinstance(top, pl.DataFrame) else top.to_pandas()
    frame = frame.assign(label=frame["id"].astype(str) + "  " + frame["title"].astype(str))
    fig, ax = _figure(8, 0.4 * max(len(frame), 3) + 1.5)
    sns.barplot(data=frame, x="likes", y="label", ax=ax, color="indianred")
    ax.set(title=f"Most liked articles on {day}", xlabel="likes", ylabel="")
    return fig


def cohort_chart(cohorts: object, window_days: int) -> Figure:
    """Heat map: rows are install days, columns days after install, cells the share of that
    day's new users active then (``install_day, installed_users, day_offset, active_users``)."""
    frame = cohorts.assign(share=cohorts["active_users"] / cohorts["installed_users"])
    table = frame.pivot(index="install_day", columns="day_offset", values="share")
    fig, ax = _figure(8, 0.35 * max(len(table), 4) + 1.8)
    if len(table):
        sns.heatmap(table, ax=ax, annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=1, cbar=False)
    ax.set(
        title=f"Retention: share of each day's new users active 1..{window_days} days later",
        xlabel="days after install",
        ylabel="install day",
    )
    return fig


def vote_totals_chart(results: dict) -> Figure:
    """Total votes per candidate (from a results document of ``lib.vote_store``)."""
    with _names_font():
        return _vote_totals_chart(results, candidate_labels(results["candidates"]))


def _vote_totals_chart(results: dict, labels: dict[str, str]) -> Figure:
    frame = pd.DataFrame(
        {"candidate": [labels[c] for c in results["totals"]], "votes": results["totals"].values()}
    )
    fig, ax = _figure(7, 0.6 * max(len(frame), 3) + 1.5)
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
    fig, ax = _figure(10, 4)
    if len(frame):
        sns.barplot(data=frame, x="bucket", y="votes", hue="candidate", ax=ax)
        names = list(dict.fromkeys(frame["bucket"]))
        step = max(1, len(names) // 8)
        ax.set_xticks(range(0, len(names), step), names[::step])
    minutes = results.get("bucket_minutes", 10)
    ax.set(title=f"Votes per {minutes} minutes (UTC)", xlabel="", ylabel="votes")
    return fig
