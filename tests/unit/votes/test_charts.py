import logging
import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import matplotlib
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from lib.charts import save_figure
from lib.votes.charts import (
    CANDIDATE_COLOURS,
    candidate_colours,
    candidate_labels,
    cjk_font,
    vote_timeline_chart,
    vote_totals_chart,
)
from lib.votes.message import parse_candidates
from lib.votes.store import build_results

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

CANDIDATES = [
    {"id": "1", "name": "薯片 chips"},
    {"id": "2", "name": "林林 lam lam"},
    {"id": "3", "name": "正氣"},
]
RESULTS = {
    "candidates": CANDIDATES,
    "totals": {"1": 5, "2": 7, "3": 3},
    "total_votes": 15,
    "bucket_minutes": 10,
    "distribution": [
        {"bucket": "2026-11-29T05:00:00+00:00", "votes": {"1": 2, "2": 3, "3": 1}},
        {"bucket": "2026-11-29T05:10:00+00:00", "votes": {"1": 3, "2": 4, "3": 2}},
    ],
}


def test_labels_keep_the_whole_name_only_where_a_font_draws_it():
    assert candidate_labels(CANDIDATES, cjk=True) == {
        "1": "1 薯片 chips",
        "2": "2 林林 lam lam",
        "3": "3 正氣",
    }
    assert candidate_labels(CANDIDATES, cjk=False) == {"1": "1 chips", "2": "2 lam lam", "3": "3"}


def _missing_glyphs(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.mark.skipif(
    cjk_font() is None,
    reason="no font that draws Chinese is installed here (make test installs fonts-wqy-zenhei)",
)
def test_vote_charts_draw_the_chinese_names(tmp_path, caplog):
    totals = vote_totals_chart(RESULTS)
    assert "1 薯片 chips" in [t.get_text() for t in totals.axes[0].get_yticklabels()]
    with caplog.at_level(logging.WARNING):
        assert _missing_glyphs(lambda: save_figure(totals, tmp_path / "totals.png")) == []
        timeline = vote_timeline_chart(RESULTS)
        assert _missing_glyphs(lambda: save_figure(timeline, tmp_path / "timeline.png")) == []
    assert "findfont" not in caplog.text
    # The check can fail: the same names in the default font alone miss their glyphs.
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        control = Figure()
        control.suptitle("1 薯片 chips")
        assert _missing_glyphs(lambda: control.savefig(tmp_path / "control.png"))


def _bar_colours(fig: Figure) -> list[set[str]]:
    """The colours of each hue's bars, in hue order."""
    return [{to_hex(bar.get_facecolor()) for bar in bars} for bars in fig.axes[0].containers]


def test_each_candidate_has_one_colour_on_every_chart():
    colours = candidate_colours(CANDIDATES)
    assert list(colours.values()) == list(CANDIDATE_COLOURS[:3])
    expected = [{colours[c["id"]]} for c in CANDIDATES]
    assert _bar_colours(vote_totals_chart(RESULTS)) == expected
    timeline = vote_timeline_chart(RESULTS)
    assert _bar_colours(timeline) == expected
    legend = timeline.axes[0].get_legend()
    assert [to_hex(h.get_facecolor()) for h in legend.legend_handles] == list(colours.values())


def test_a_candidates_colour_follows_the_list_not_the_votes():
    only_third = {
        **RESULTS,
        "totals": {"1": 0, "2": 0, "3": 4},
        "distribution": [{"bucket": "2026-11-29T05:00:00+00:00", "votes": {"3": 4}}],
    }
    timeline = vote_timeline_chart(only_third)
    assert [t.get_text()[:1] for t in timeline.axes[0].get_legend().get_texts()] == ["1", "2", "3"]
    assert _bar_colours(timeline)[2] == {CANDIDATE_COLOURS[2]}
    assert _bar_colours(vote_totals_chart(only_third))[2] == {CANDIDATE_COLOURS[2]}
    many = [{"id": str(i), "name": f"c{i}"} for i in range(12)]
    assert list(candidate_colours(many).values())[10:] == list(CANDIDATE_COLOURS[:2])


def test_buckets_are_labelled_in_the_kiosks_time_zone():
    rows = [
        {"bucket": datetime(2026, 3, 8, 6, 50, tzinfo=UTC), "candidate": "1", "votes": 1},
        {"bucket": datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "candidate": "2", "votes": 2},
    ]
    new_york = ZoneInfo("America/New_York")  # clocks went forward at 07:00 UTC that day
    results = build_results(rows, [], parse_candidates("1=a,2=b"), NOW, new_york)
    assert results["time_zone"] == "America/New_York"
    assert [(b["bucket"], b["local_time"]) for b in results["distribution"]] == [
        ("2026-03-08T06:50:00+00:00", "2026-03-08T01:50:00-05:00"),
        ("2026-03-08T07:00:00+00:00", "2026-03-08T03:00:00-04:00"),
    ]
    ax = vote_timeline_chart(results).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["08 Mar 01:50", "08 Mar 03:00"]
    assert "America/New_York" in ax.get_title()
    utc = build_results(rows, [], parse_candidates("1=a,2=b"), NOW)
    assert utc["time_zone"] == "UTC"
    assert [b["local_time"] for b in utc["distribution"]] == [
        b["bucket"] for b in utc["distribution"]
    ]
