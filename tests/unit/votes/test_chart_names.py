"""Charts draw any candidate name as it is written: a ``$`` never starts a formula (matplotlib's
mathtext), and an id starting with ``_`` still has its legend entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from lib.votes.cache import write_results
from lib.votes.charts import candidate_labels, literal, vote_timeline_chart, vote_totals_chart
from lib.votes.message import parse_candidates
from lib.votes.store import build_results

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NAMES = {
    "1": r"$\frac{1}{$",  # half a formula: mathtext cannot parse it, no chart was ever drawn
    "2": "$_$",
    "3": "Pay $5 or $10",  # drawn "Pay 5or10" in math italics
    "4": r"a\$b \n $$ 100% {braces} ^_^",
    "_5": "under_score",  # an id matplotlib would take for an artist kept out of legends
}


def results_for(names: dict[str, str]) -> dict:
    candidates = parse_candidates(",".join(f"{cid}={name}" for cid, name in names.items()))
    rows = [
        {"bucket": NOW - timedelta(minutes=10 * b), "candidate": cid, "votes": i + b + 1}
        for i, cid in enumerate(names)
        for b in range(3)
    ]
    return json.loads(json.dumps(build_results(rows, [], candidates, NOW), default=str))


def drawn(fig: Figure) -> Figure:
    """``fig``, drawn on an Agg canvas (which raises if a text cannot be drawn)."""
    FigureCanvasAgg(fig).draw()
    return fig


def as_written(text: Text, fig: Figure) -> str:
    """What ``text`` looks like on ``fig``: its string if drawn the same size as that string
    with math parsing off, else a note saying it is not drawn as written."""
    renderer = fig.canvas.get_renderer()
    plain = literal_text(text.get_text())
    reference = fig.text(0, 0, plain, fontproperties=text.get_fontproperties(), parse_math=False)
    same = text.get_window_extent(renderer).size == pytest.approx(
        reference.get_window_extent(renderer).size
    )
    reference.remove()
    return plain if same else f"<not drawn as written: {plain!r}>"


def literal_text(label: str) -> str:
    return label.replace(r"\$", "$")  # the escape ``literal`` adds, taken off


def test_every_name_is_drawn_as_written_on_both_charts(tmp_path):
    results = results_for(NAMES)
    write_results(tmp_path, results)  # as the writer does: both charts, then results.json
    for chart in ("totals", "timeline"):
        assert (tmp_path / f"{chart}.png").read_bytes().startswith(b"\x89PNG")
    expected = [f"{cid} {name}" for cid, name in NAMES.items()]

    totals = drawn(vote_totals_chart(results))
    labels = totals.axes[0].get_yticklabels()
    assert [as_written(t, totals) for t in labels] == expected

    timeline = drawn(vote_timeline_chart(results))
    legend = timeline.axes[0].get_legend().get_texts()
    assert [as_written(t, timeline) for t in legend] == expected  # "_5 ..." included


def test_the_check_can_fail():
    # the same label left to mathtext is drawn otherwise (and the first does not draw at all)
    fig = Figure()
    fig.text(0, 0, "Pay $5 or $10")
    maths = fig.texts[0]
    drawn(fig)
    assert as_written(maths, fig).startswith("<not drawn as written")


def test_literal_escapes_every_dollar_only():
    assert literal("Pay $5 or $10") == r"Pay \$5 or \$10"
    assert literal(r"a\$b") == r"a\\$b"  # drawn a\$b: the backslash kept, the $ plain
    assert literal("薯片 chips") == "薯片 chips"
    assert candidate_labels([{"id": "9", "name": "$x$"}], cjk=True) == {"9": r"9 \$x\$"}
    assert candidate_labels([{"id": "9", "name": "$x$"}], cjk=False) == {"9": r"9 \$x\$"}
