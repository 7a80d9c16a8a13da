"""Q1's charts on hostile data: 100,000 hosts, a line stamped 1970 among a month, one request,
an empty log, very long names and titles, top_n=0. Every chart stays within its bar limit and
its pixel size, and every text it draws lies inside the figure."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.dates as mdates
import polars as pl
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from lib.charts import fit_title, shorten
from lib.logs.counting.summary import LogSummary, top_hosts
from lib.logs.report._chart_data import (
    MAX_BARS,
    MAX_GAP,
    MAX_POINTS,
    largest,
    parse_offset,
    traffic,
    traffic_span,
)
from lib.logs.report.charts import (
    countries_chart,
    coverage_chart,
    hourly_chart,
    ranking_chart,
    ranking_view,
    save_view,
    status_chart,
    top_hosts_chart,
)

DPI = 110  # save_figure's
MAX_PIXELS = (1300, 1600)  # the largest chart's width and height at that resolution
HOUR = pl.Datetime("us", "UTC")
AUGUST = datetime(1995, 8, 1, 4, tzinfo=UTC)  # midnight at -0400
LONG = "a-very-long-label-" * 40 + ".example.com"


def counts(key: str, values: list, requests: list[int], dtype=pl.String) -> pl.DataFrame:
    return pl.DataFrame(
        {key: values, "requests": requests}, schema={key: dtype, "requests": pl.UInt64}
    )


def hourly(hours: list[datetime], requests: list[int]) -> pl.DataFrame:
    return counts("hour", hours, requests, HOUR)


def a_month(per_hour: int = 10, skip: range = range(0)) -> tuple[list[datetime], list[int]]:
    """Every hour of August 1995 at -0400 but those in ``skip`` (an outage)."""
    hours = [AUGUST + timedelta(hours=i) for i in range(31 * 24) if i not in skip]
    return hours, [per_hour] * len(hours)


def many_hosts(n: int = 100_000) -> pl.DataFrame:
    return counts(
        "host", [f"host{i}.example.org" for i in range(n)], [1 + i % 997 for i in range(n)]
    )


def countries(n: int) -> pl.DataFrame:
    codes = [f"{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(n)]
    requests = [10 * (n - i) for i in range(n)]
    total = sum(requests) or 1
    return pl.DataFrame(
        {
            "rank": list(range(1, n + 1)),
            "country": codes,
            "name": [LONG if i == 0 else f"Country {c}" for i, c in enumerate(codes)],
            "requests": requests,
            "share_of_attributed": [r / total for r in requests],
            "share_of_all": [r / total / 2 for r in requests],
        }
    )


def bars(fig: Figure) -> list[Rectangle]:
    (ax,) = fig.axes
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def texts(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.findobj(Text))


def assert_drawn_within(fig: Figure) -> None:
    """Rendered with matplotlib's Agg renderer at save_figure's resolution: the PNG is of
    bounded size, the title, the note and the texts in the axes lie inside the figure, and so
    does everything drawn (tick labels and axis labels included: the figure's tight box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png")
    height, width = imread(io.BytesIO(buffer.getvalue()), format="png").shape[:2]
    assert width <= MAX_PIXELS[0] and height <= MAX_PIXELS[1], (width, height)
    fig.set_dpi(DPI)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    titles = {fig.get_suptitle(), fig.get_supxlabel()} - {""}  # the title and the note
    own = [t for t in fig.findobj(Text) if t.get_text() in titles]
    assert fig.get_suptitle() and own, "no title drawn"
    for text in own + [t for ax in fig.axes for t in ax.texts]:
        if text.get_visible() and text.get_text().strip():
            assert within(text.get_window_extent(renderer), box), text.get_text()[:60]
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    assert within(tight, box), f"drawn over {tight}, the figure is {box}"


def within(extent, box, slack: float = 1.0) -> bool:
    return (
        extent.x0 >= box.x0 - slack
        and extent.x1 <= box.x1 + slack
        and extent.y0 >= box.y0 - slack
        and extent.y1 <= box.y1 + slack
    )


# --- bars ---------------------------------------------------------------------------------


@pytest.mark.parametrize("top_n", [0, 1, 29, 30, 31, 100_000])
def test_top_hosts_draws_at_most_30_bars_whatever_top_n(top_n):
    top = top_hosts(many_hosts(), top_n)
    fig = top_hosts_chart(top, f"Top {top_n} hosts, 1995-08-18 to 1995-08-21", synthetic=True)
    assert len(bars(fig)) == min(top_n, MAX_BARS)
    assert ("top 30 of" in texts(fig)) == (top_n > MAX_BARS)
    assert_drawn_within(fig)


def test_the_bars_are_the_busiest_hosts_and_the_note_counts_the_table():
    top = top_hosts(many_hosts(), 100_000)
    fig = top_hosts_chart(top, "Top hosts")
    assert "top 30 of 100,000 hosts shown" in texts(fig)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == top.get_column("host").head(30).to_list()  # busiest first, on top
    assert [p.get_width() for p in bars(fig)] == top.get_column("requests").head(30).to_list()


def test_very_long_host_names_and_titles_stay_inside_the_figure():
    top = counts("host", [LONG + str(i) for i in range(40)], list(range(40, 0, -1)))
    fig = top_hosts_chart(top_hosts(top, 40), "Top hosts " + "in a very long window " * 60)
    (ax,) = fig.axes
    assert all(len(t.get_text()) <= 40 for t in ax.get_yticklabels())
    assert_drawn_within(fig)


def test_a_title_wraps_before_it_shrinks_and_is_never_wider_than_the_figure():
    fig = Figure(figsize=(8, 4), layout="constrained")
    fig.add_subplot()
    title = fit_title(fig, "Requests by country " * 6)
    assert "\n" in title.get_text() and title.get_fontsize() >= 11
    assert_drawn_within(fig)
    word = fit_title(fig, "x" * 5000)  # one word longer than any line: cut, then ellipsis
    assert word.get_text().endswith("…") and word.get_text().count("\n") <= 2
    assert_drawn_within(fig)


def test_shorten_keeps_both_ends():
    assert shorten("short") == "short"
    cut = shorten("www." + "x" * 100 + ".nasa.gov", 20)
    assert len(cut) == 20 and cut.startswith("www.") and cut.endswith(".nasa.gov")


def test_countries_say_what_their_percentages_are_a_share_of():
    fig = countries_chart(countries(200), n=100)
    assert len(bars(fig)) == MAX_BARS
    assert "% of attributed requests" in texts(fig)
    assert "top 30 of 200 countries shown" in texts(fig)
    assert_drawn_within(fig)
    few = countries_chart(countries(3))
    assert len(bars(few)) == 3 and "shown" not in texts(few)
    assert_drawn_within(few)


def test_the_coverage_chart_says_its_percentages_are_of_all_requests():
    by_method = pl.DataFrame({"method": ["ip", "cctld", "unattributed"], "share": [0.5, 0.2, 0.3]})
    fig = coverage_chart(by_method)
    assert "% of all requests" in texts(fig)
    assert len(bars(fig)) == 3
    assert_drawn_within(fig)


def test_status_codes_are_guarded_too():
    statuses = counts("status", list(range(100, 600)), [1 + i for i in range(500)], pl.UInt16)
    fig = status_chart(statuses)
    assert len(bars(fig)) == MAX_BARS
    (ax,) = fig.axes
    codes = [int(t.get_text()) for t in ax.get_xticklabels()]
    assert codes == list(range(570, 600))  # the most frequent, in code order
    assert "top 30 of 500 status codes shown" in texts(fig)
    assert_drawn_within(fig)


def test_largest_breaks_ties_by_key_and_never_exceeds_the_limit():
    frame = counts("host", ["b", "a", "c"], [5, 5, 9])
    assert largest(frame, "host").rows.get_column("host").to_list() == ["c", "a", "b"]
    assert largest(many_hosts(), "host", 10**9).rows.height == MAX_BARS
    assert largest(frame, "host", 0).rows.is_empty()


# --- an empty log, one request ------------------------------------------------------------


def test_every_chart_draws_an_empty_log():
    empty = LogSummary()
    figures = [
        top_hosts_chart(top_hosts(empty.window_hosts, 10), "Top 10 hosts"),
        hourly_chart(empty.hourly, empty.utc_offset),
        status_chart(empty.statuses),
        ranking_chart(empty.referers, "referer"),
        countries_chart(countries(0)),
        coverage_chart(pl.DataFrame({"method": ["unattributed"], "share": [0.0]})),
    ]
    for fig in figures:
        assert_drawn_within(fig)
    assert "no requests" in texts(figures[1])


def test_one_request_draws_its_day():
    when = datetime(1995, 8, 3, 15, tzinfo=UTC)
    fig = hourly_chart(hourly([when], [1]), "-0400")
    (ax,) = fig.axes
    start, end = (mdates.num2date(x) for x in ax.get_xlim())
    assert (start, end) == (
        datetime(1995, 8, 3, 4, tzinfo=UTC),
        datetime(1995, 8, 4, 4, tzinfo=UTC),
    )
    assert "outside" not in texts(fig)
    assert_drawn_within(fig)


# --- the traffic span ---------------------------------------------------------------------


def test_a_line_in_1970_among_a_month_draws_the_month_and_says_so():
    hours, requests = a_month(skip=range(30, 68))  # an outage of 38 hours, as Erin's
    fig = hourly_chart(hourly([datetime(1970, 1, 1, tzinfo=UTC), *hours], [1, *requests]), "-0400")
    (ax,) = fig.axes
    start, end = (mdates.num2date(x) for x in ax.get_xlim())
    assert start == AUGUST and end == AUGUST + timedelta(days=31)  # local midnights
    assert "1 request outside the chart (1 before 01 Aug 1995)" in texts(fig)
    (line,) = ax.get_lines()
    drawn = line.get_ydata()
    assert len(drawn) == 31 * 24 and list(drawn[30:68]) == [0] * 38  # the gap, as zeros
    assert_drawn_within(fig)


def test_stray_requests_on_both_sides_are_counted_before_and_after():
    hours, requests = a_month()
    stray = [AUGUST - timedelta(days=10), AUGUST + timedelta(days=45), AUGUST + timedelta(days=46)]
    span = traffic_span(hourly([*hours, *stray], [*requests, 1, 1, 1]), parse_offset("-0400"))
    assert (span.start, span.end) == (AUGUST, AUGUST + timedelta(days=31))
    assert (span.before, span.after) == (1, 2)
    note = "3 requests outside the chart (1 before 01 Aug 1995, 2 after 31 Aug 1995)"
    assert span.note() == note


def test_small_logs_keep_everything_within_a_month_and_drop_what_is_further():
    near = [AUGUST, AUGUST + MAX_GAP]  # two requests a month apart: both drawn
    span = traffic_span(hourly(near, [1, 1]), UTC)
    assert (span.before, span.after) == (0, 0) and span.end > AUGUST + MAX_GAP
    far = [AUGUST, AUGUST + timedelta(hours=1), AUGUST + MAX_GAP + timedelta(hours=2)]
    span = traffic_span(hourly(far, [1, 1, 1]), UTC)
    assert (span.before, span.after) == (0, 1)


def test_a_long_log_is_drawn_per_day_then_per_week_never_in_more_points():
    years = [AUGUST + timedelta(hours=6 * i) for i in range(4 * 365 * 4)]  # four years
    drawn = traffic(hourly(years, [1] * len(years)), UTC)
    assert drawn.unit == "day" and drawn.frame.height <= MAX_POINTS
    inside = len(years) - drawn.span.before - drawn.span.after
    assert int(drawn.frame.get_column("requests").sum()) == inside > 0.99 * len(years)
    decades = [AUGUST + timedelta(days=3 * i) for i in range(365 * 4)]  # twelve years
    drawn = traffic(hourly(decades, [1] * len(decades)), UTC)
    assert drawn.unit == "week" and drawn.frame.height <= MAX_POINTS
    fig = hourly_chart(hourly(decades, [1] * len(decades)), "+0000")
    assert "per week" in texts(fig)
    assert_drawn_within(fig)


def test_the_span_is_whole_days_in_the_servers_time_zone():
    when = datetime(1995, 8, 3, 2, tzinfo=UTC)  # 2 Aug, 22:00 at -0400
    span = traffic_span(hourly([when], [5]), parse_offset("-0400"))
    assert (span.start, span.end) == (
        datetime(1995, 8, 2, 4, tzinfo=UTC),
        datetime(1995, 8, 3, 4, tzinfo=UTC),
    )
    assert traffic_span(hourly([], []), UTC) is None


def test_a_log_across_a_daylight_saving_change_is_drawn_in_each_sides_own_time():
    # New York's fall back: 01 Nov 2026, 02:00 EDT (-0400) = 06:00 UTC becomes 01:00 EST
    change = datetime(2026, 11, 1, 6, tzinfo=UTC)
    hours = [change + timedelta(hours=i) for i in range(-72, 72)]
    offsets = ["-0400" if hour < change else "-0500" for hour in hours]
    frame = pl.DataFrame(
        {"hour": hours, "utc_offset": offsets, "requests": [10] * len(hours)},
        schema={"hour": HOUR, "utc_offset": pl.String, "requests": pl.UInt64},
    )
    fig = hourly_chart(frame, "-0400")
    assert "UTC-0400, then UTC-0500 from 01:00 on 01 Nov 2026" in texts(fig)
    (ax,) = fig.axes
    ticks = [mdates.num2date(x) for x in ax.get_xticks()]
    labels = [label.get_text() for label in ax.get_xticklabels()]
    # each tick a local midnight: 04:00 UTC up to 01 Nov (its midnight is still EDT), 05:00
    # UTC after the change
    assert [t.hour for t in ticks] == [4, 4, 4, 4, 5, 5, 5]
    assert labels == ["29 Oct", "30 Oct", "31 Oct", "01 Nov", "02 Nov", "03 Nov", "04 Nov"]
    (line,) = ax.get_lines()
    assert sum(line.get_ydata()) == 10 * len(hours)  # no hour drawn twice or left out
    assert_drawn_within(fig)


def test_a_log_in_one_offset_says_it_once():
    hours, requests = a_month()
    frame = hourly(hours, requests).with_columns(pl.lit("-0400").alias("utc_offset"))
    assert "(local time: UTC-0400)" in texts(hourly_chart(frame, None))


# --- referrers and user agents ------------------------------------------------------------


def test_a_ranking_view_has_a_chart_only_when_there_is_a_ranking(tmp_path):
    agents = counts("user_agent", [LONG + str(i) for i in range(50)], list(range(50, 0, -1)))
    view = ranking_view(agents.with_row_index("rank", offset=1), "user_agent", {"user_agent"})
    shown, figure = view.outputs
    assert figure is view.figure and shown.data.equals(view.table.to_pandas())  # as a table
    assert "<table" in shown.to_html() and "str" not in shown.to_html()
    assert len(bars(view.figure)) == MAX_BARS
    assert_drawn_within(view.figure)
    assert save_view(view, tmp_path / "top_user_agents.png").stat().st_size > 1000

    empty = counts("referer", [], [])
    none = ranking_view(empty, "referer", {"user_agent"})
    assert none.figure is None and repr(none.outputs[0]) == "the log's format has no referers"
    assert save_view(none, tmp_path / "top_user_agents.png") is None
    assert not (tmp_path / "top_user_agents.png").exists()  # no chart left from a run before
    logged = ranking_view(empty, "referer", {"referer"})
    assert repr(logged.outputs[0]) == "no referers in the log: every request's was empty"
