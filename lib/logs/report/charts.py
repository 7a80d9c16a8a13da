"""Q1's charts: top hosts, countries, attribution coverage, requests and errors over time,
status codes, the top referrers, user agents and URLs, bytes by host and URL, and unique
visitors per day.

Each takes data and returns a Figure whose size does not depend on the data's: at most
``MAX_BARS`` bars (the note under the chart says how many rows were left out), traffic over the
span that holds the bulk of the requests (the note says how many fell outside), titles wrapped
or shrunk to the figure's width, long labels cut in the middle. Anything drawn from synthetic
input says so in its title. ``ranking_view`` decides what the report shows of a ranking that a
log's format may not have (referrers, user agents).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lib.charts import figure, fit_note, fit_title, save_figure, shorten
from lib.logs.report._chart_data import (
    MAX_BARS,
    MAX_POINTS,
    Bars,
    Zones,
    largest,
    traffic,
    zones_of,
)
from lib.logs.report.texts import table

LABEL_CHARS = 40  # a bar's label is cut in the middle past this
# What a ranking is called, by its key column: (in a title, in a note, in "the log has no ...").
RANKINGS = {
    "host": ("Top hosts", "hosts", "hosts"),
    "referer": ("Top referrers", "referrers", "referers"),
    "user_agent": ("Top user agents", "user agents", "user agents"),
    "url": ("Top URLs (the path without its query)", "URLs", "URLs"),
    "vhost": ("Top virtual hosts", "virtual hosts", "virtual hosts"),
}
MEGABYTE = 1_000_000
MAX_DAY_LABELS = 10  # dates written under a chart of days


def _title(text: str, synthetic: bool) -> str:
    return f"{text} — SYNTHETIC data" if synthetic else text


def _texts(fig: Figure, title: str, note: str, synthetic: bool) -> Figure:
    """Give ``fig`` its fitted title and, if ``note`` is not empty, its fitted note."""
    fit_title(fig, _title(title, synthetic))
    if note:
        fit_note(fig, note)
    return fig


def _nothing(ax: Axes, text: str) -> None:
    """Say ``text`` in the middle of an empty ``ax``."""
    ax.set(xticks=[], yticks=[])
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="dimgray")


def _bars(
    bars: Bars,
    labels: Sequence[str],
    color: str,
    values: str = "requests",
    tags: Sequence[str] = (),
    empty: str = "nothing to show",
) -> tuple[Figure, Axes]:
    """Horizontal bars of ``bars.rows[values]``, the first on top, labelled ``labels`` (cut to
    ``LABEL_CHARS``) and, at their ends, ``tags`` if given; ``empty`` is said when there is no
    row. Height grows with the bars drawn, at most ``MAX_BARS`` of them."""
    count = min(bars.rows.height, MAX_BARS)
    fig, ax = figure(9, 0.35 * max(count, 3) + 1.8)
    if not count:
        _nothing(ax, empty)
        return fig, ax
    widths = bars.rows.get_column(values).head(count).to_list()
    ax.barh(range(count), widths, color=color)
    ax.set_yticks(range(count), [shorten(str(label), LABEL_CHARS) for label in labels[:count]])
    ax.set_ylim(count - 0.5, -0.5)  # the first row on top
    ax.set_xlim(0, max(max(widths), 1) * (1.15 if tags else 1.05))  # room for the tags
    for i, tag in enumerate(tags[:count]):
        ax.text(widths[i], i, f" {tag}", va="center", fontsize=8)
    ax.grid(axis="y", visible=False)
    return fig, ax


def top_hosts_chart(top: pl.DataFrame, title: str, synthetic: bool = False) -> Figure:
    """Horizontal bars of ``host``/``requests``, busiest on top: the first ``MAX_BARS`` of
    ``top`` however long it is (the table keeps them all)."""
    return ranking_chart(top, "host", synthetic, title)


def ranking_chart(
    frame: pl.DataFrame, key: str, synthetic: bool = False, title: str | None = None
) -> Figure:
    """Horizontal bars of ``key``/``requests`` (``host``, ``referer``, ``user_agent``), most
    requests on top, at most ``MAX_BARS`` of them; ``title`` defaults to the ranking's name."""
    name, noun, _ = RANKINGS.get(key, (f"Top {key}", key, key))
    bars = largest(frame, key)
    labels = bars.rows.get_column(key).to_list()
    fig, ax = _bars(bars, labels, "steelblue", empty=f"no {noun}")
    ax.set(xlabel="requests", ylabel="")
    return _texts(fig, title or name, bars.note(noun), synthetic)


def countries_chart(countries: pl.DataFrame, n: int = 15, synthetic: bool = False) -> Figure:
    """Requests per country (the ``n`` largest, at most ``MAX_BARS``), each labelled with its
    share of the requests attributed to any country."""
    bars = largest(countries, "country", n)
    labels = [
        f"{code} {shorten(name or '', 24)}"
        for code, name in bars.rows.select("country", "name").iter_rows()
    ]
    shares = [f"{share:.1%}" for share in bars.rows.get_column("share_of_attributed")]
    fig, ax = _bars(bars, labels, "seagreen", tags=shares, empty="no request has a country")
    ax.set(xlabel="requests (labels: % of attributed requests)", ylabel="")
    return _texts(fig, "Requests by country", bars.note("countries"), synthetic)


def hourly_chart(hourly: pl.DataFrame, utc_offset: str | None, synthetic: bool = False) -> Figure:
    """Requests per hour in the server's local time over the whole days that hold the bulk of
    the traffic (``lib.logs.report._chart_data.traffic_span``; the note says how many requests fell
    outside); per day or week when that span is too long for hours. Hours without a single
    request inside the span are drawn as zero, so an outage shows as a gap at the bottom. The
    days are labelled in the offset the server wrote that day (``hourly``'s ``utc_offset``:
    across a daylight-saving change, each side in its own; ``utc_offset`` when it has none)."""
    return _over_time(hourly, utc_offset, synthetic, errors=False)


def errors_chart(hourly: pl.DataFrame, utc_offset: str | None, synthetic: bool = False) -> Figure:
    """Client (4xx) and server (5xx) errors per hour, over the span and in the local time the
    requests chart uses (``hourly_chart``)."""
    return _over_time(hourly, utc_offset, synthetic, errors=True)


def _over_time(hourly: pl.DataFrame, utc_offset: str | None, synthetic: bool, errors: bool):
    zones = zones_of(hourly, utc_offset)
    fig, ax = figure(11, 4)
    drawn = traffic(hourly, zones.at(_first_hour(hourly)))
    unit = "hour" if drawn is None else drawn.unit
    what = "4xx and 5xx responses" if errors else "Requests"
    ax.set(xlabel="", ylabel=f"{'responses' if errors else 'requests'} per {unit}")
    title = f"{what} per {unit} (local time: {zones.describe()})"
    if drawn is None or (errors and "client_errors" not in drawn.frame.columns):
        _nothing(ax, "no requests")
        return _texts(fig, title, "", synthetic)
    times = drawn.frame.get_column("time").to_list()
    if errors:
        for column, label, color in (("client_errors", "4xx", "darkorange"),
                                     ("server_errors", "5xx", "firebrick")):  # fmt: skip
            ax.plot(times, drawn.frame.get_column(column).to_list(), label=label, color=color,
                    linewidth=0.9)  # fmt: skip
        ax.legend(loc="upper right")
    else:
        counts = drawn.frame.get_column("requests").to_list()
        ax.plot(times, counts, linewidth=0.8)
        ax.fill_between(times, counts, alpha=0.25)
    ax.set_xlim(drawn.span.start, drawn.span.end)
    ax.set_ylim(bottom=0)
    _local_days(ax, zones, drawn.span.start, drawn.span.end)
    return _texts(fig, title, drawn.span.note(), synthetic)


def _first_hour(hourly: pl.DataFrame) -> datetime:
    hours = hourly.get_column("hour")
    return hours.min() if hours.len() else datetime(1970, 1, 1, tzinfo=UTC)


def _local_days(ax: Axes, zones: Zones, start: datetime, end: datetime) -> None:
    """Ticks at local midnights (at most ``MAX_DAY_LABELS``, evenly spaced), each labelled with
    its date in the offset in force that day."""
    midnights = zones.midnights(start, end)
    step = max(1, -(-len(midnights) // MAX_DAY_LABELS))
    ticks = midnights[::step]
    year = len({t.astimezone(zones.at(t)).year for t in midnights}) > 1
    layout = "%d %b %Y" if year else "%d %b"
    ax.set_xticks(ticks, [t.astimezone(zones.at(t)).strftime(layout) for t in ticks])


def bytes_chart(rows: list[dict], key: str, synthetic: bool = False) -> Figure:
    """Horizontal bars of the megabytes sent to each ``key`` (``host`` or ``url``) of ``rows``
    (``results.json``'s ``top_hosts_by_bytes`` or ``top_urls_by_bytes``), most on top."""
    frame = pl.DataFrame(rows, schema={key: pl.String, "bytes": pl.Int64, "requests": pl.UInt64})
    frame = frame.with_columns((pl.col("bytes") / MEGABYTE).alias("megabytes"))
    bars = Bars(frame.head(MAX_BARS), frame.height)
    labels = [str(value) for value in frame.get_column(key).head(MAX_BARS)]
    noun = RANKINGS.get(key, ("", f"{key}s", ""))[1]
    fig, ax = _bars(bars, labels, "mediumpurple", values="megabytes", empty=f"no {noun}")
    ax.set(xlabel="megabytes sent (10^6 bytes)", ylabel="")
    return _texts(fig, f"Bytes sent, by {noun[:-1] if noun.endswith('s') else noun}",
                  bars.note(noun), synthetic)  # fmt: skip


def visitors_chart(visitors: dict, synthetic: bool = False) -> Figure:
    """Unique visitors (client and user agent) per day (UTC): ``results.json``'s
    ``unique_visitors``; the last ``MAX_POINTS`` days at most."""
    days = list(visitors["per_day"].items())
    fig, ax = figure(11, 4)
    about = "" if visitors["exact"] else " (estimated from a sample)"
    ax.set(xlabel="day (UTC)", ylabel="unique visitors")
    if not days:
        _nothing(ax, "no requests")
        return _texts(fig, "Unique visitors per day", "", synthetic)
    shown = days[-MAX_POINTS:]
    ax.bar(range(len(shown)), [n for _, n in shown], color="teal", width=0.8)
    step = -(-len(shown) // MAX_DAY_LABELS)  # a label every `step` days
    ticks = range(0, len(shown), step)
    ax.set_xticks(list(ticks), [f"{date.fromisoformat(shown[i][0]):%d %b %Y}" for i in ticks])
    ax.set_xlim(-0.6, len(shown) - 0.4)
    ax.grid(axis="x", visible=False)
    note = f"the last {len(shown):,} of {len(days):,} days shown" if len(shown) < len(days) else ""
    return _texts(fig, f"Unique visitors per day (UTC){about}", note, synthetic)


def status_chart(statuses: pl.DataFrame, synthetic: bool = False) -> Figure:
    """Requests per HTTP status code (log scale, so the rare codes stay visible): the
    ``MAX_BARS`` most frequent codes, in code order."""
    bars = largest(statuses, "status")
    data = bars.rows.sort("status")
    fig, ax = figure(8, 4)
    ax.set(xlabel="status", ylabel="requests")
    if data.is_empty():
        _nothing(ax, "no requests")
    else:
        codes = [str(code) for code in data.get_column("status")]
        ax.bar(codes, data.get_column("requests").to_list(), color="slategray")
        ax.set_yscale("log")
    return _texts(fig, "HTTP status codes", bars.note("status codes"), synthetic)


def coverage_chart(by_method: pl.DataFrame, synthetic: bool = False) -> Figure:
    """Share of all requests attributed by each method, and the unattributed rest (the
    methods in their tier order)."""
    data = by_method.head(MAX_BARS).with_columns((pl.col("share") * 100).alias("percent"))
    bars = Bars(data, by_method.height)
    fig, ax = _bars(bars, data.get_column("method").to_list(), "darkorange", values="percent")
    ax.set(xlabel="% of all requests", ylabel="")
    return _texts(
        fig,
        "Country attribution: % of all requests, by method",
        bars.note("methods"),
        synthetic,
    )


class Message:
    """A line of plain text that a notebook shows as it is (no quotes, no markdown)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RankingView:
    """What a report shows of a ranking: its table and chart, or a message saying why there
    is none."""

    table: pl.DataFrame
    figure: Figure | None  # None: nothing to chart
    message: str  # "" when there is a chart

    @property
    def outputs(self) -> list[object]:
        """What to display, in order: the table and the chart, or the message."""
        if self.figure is None:
            return [Message(self.message)]
        return [table(self.table), self.figure]


def ranking_view(
    table: pl.DataFrame, key: str, logged: Collection[str], synthetic: bool = False
) -> RankingView:
    """The view of ``table`` (a ranking of ``key``: ``referer``, ``user_agent``, ``host``):
    the table and its chart, or, when ``table`` is empty, no chart and a message that says why:
    the log's format does not record ``key`` (it is not in ``logged``, the fields the formats
    that read the log record) or no request had one."""
    if table.height:
        return RankingView(table, ranking_chart(table, key, synthetic), "")
    what = RANKINGS.get(key, ("", key, key))[2]
    if key in logged:
        return RankingView(table, None, f"no {what} in the log: every request's was empty")
    return RankingView(table, None, f"the log's format has no {what}")


def save_view(view: RankingView, path: str | Path) -> Path | None:
    """Write ``view``'s chart to ``path``; without a chart, remove a ``path`` left by an
    earlier run (so the output directory describes this run). Returns the path written."""
    if view.figure is None:
        Path(path).unlink(missing_ok=True)
        return None
    return save_figure(view.figure, path)
