"""Q2's charts: likes per article, and the retention cohorts as a heat map."""

from __future__ import annotations

import polars as pl
import seaborn as sns
from matplotlib.figure import Figure

from lib.charts import figure


def likes_chart(top: pl.DataFrame | object, day: str) -> Figure:
    """Likes per article on ``day`` (columns ``title``, ``id``, ``likes``), most liked on top."""
    frame = top if not isinstance(top, pl.DataFrame) else top.to_pandas()
    frame = frame.assign(label=frame["id"].astype(str) + "  " + frame["title"].astype(str))
    fig, ax = figure(8, 0.4 * max(len(frame), 3) + 1.5)
    sns.barplot(data=frame, x="likes", y="label", ax=ax, color="indianred")
    ax.set(title=f"Most liked articles on {day}", xlabel="likes", ylabel="")
    return fig


def cohort_chart(cohorts: object, window_days: int) -> Figure:
    """Heat map: rows are install days, columns days after install, cells the share of that
    day's new users active then (``install_day, installed_users, day_offset, active_users``)."""
    frame = cohorts.assign(share=cohorts["active_users"] / cohorts["installed_users"])
    table = frame.pivot(index="install_day", columns="day_offset", values="share")
    fig, ax = figure(8, 0.35 * max(len(table), 4) + 1.8)
    if len(table):
        sns.heatmap(table, ax=ax, annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=1, cbar=False)
    ax.set(
        title=f"Retention: share of each day's new users active 1..{window_days} days later",
        xlabel="days after install",
        ylabel="install day",
    )
    return fig
