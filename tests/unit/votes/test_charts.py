import logging
import warnings

import matplotlib
import pytest
from matplotlib.figure import Figure

from lib.charts import save_figure
from lib.votes.charts import (
    candidate_labels,
    cjk_font,
    vote_timeline_chart,
    vote_totals_chart,
)

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
