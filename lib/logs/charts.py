"""Q1's charts: top hosts, countries, attribution coverage, requests per hour, status codes.
Each takes data and returns a Figure; anything drawn from synthetic input says so in its title."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import matplotlib.dates as mdates
import polars as pl
import seaborn as sns
from matplotlib.figure import Figure

from lib.charts import figure


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
    fig, ax = figure(9, 0.4 * max(top.height, 3) + 1.5)
    sns.barplot(data=top.to_pandas(), x="requests", y="host", ax=ax, color="steelblue")
    ax.set(title=_title(title, synthetic), xlabel="requests", ylabel="")
    return fig


def countries_chart(countries: pl.DataFrame, n: int = 15, synthetic: bool = False) -> Figure:
    """Requests per country (the ``n`` largest), labelled with the share of attributed ones."""
    data = countries.head(n).with_columns(
        (pl.col("country") + " " + pl.col("name").str.slice(0, 24)).alias("label")
    )
    fig, ax = figure(9, 0.35 * max(data.height, 3) + 1.5)
    sns.barplot(data=data.to_pandas(), x="requests", y="label", ax=ax, color="seagreen")
    for i, share in enumerate(data.get_column("share_of_attributed")):
        ax.annotate(f" {share:.1%}", (data.item(i, "requests"), i), va="center", fontsize=8)
    ax.set(title=_title("Requests by country", synthetic), xlabel="requests", ylabel="")
    return fig


def hourly_chart(hourly: pl.DataFrame, utc_offset: str | None, synthetic: bool = False) -> Figure:
    """Requests per hour over the whole log in the server's local time; hours without a single
    request are drawn as zero, so an outage shows as a gap at the bottom."""
    tz = parse_offset(utc_offset)
    fig, ax = figure(11, 4)
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
    fig, ax = figure(8, 4)
    sns.barplot(data=data.to_pandas(), x="status", y="requests", ax=ax, color="slategray")
    ax.set_yscale("log")
    ax.set(title=_title("HTTP status codes", synthetic), xlabel="status", ylabel="requests")
    return fig


def coverage_chart(by_method: pl.DataFrame, synthetic: bool = False) -> Figure:
    """Share of all requests attributed by each method, and the unattributed rest."""
    data = by_method.with_columns((pl.col("share") * 100).alias("percent"))
    fig, ax = figure(8, 3.5)
    sns.barplot(data=data.to_pandas(), x="percent", y="method", ax=ax, color="darkorange")
    ax.set(
        title=_title("Country attribution: % of requests by method", synthetic),
        xlabel="% of all requests",
        ylabel="",
    )
    return fig
