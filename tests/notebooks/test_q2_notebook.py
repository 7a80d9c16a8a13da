"""Execute notebooks/q2.ipynb with papermill against the real PostgreSQL (a test database)."""

import json
import uuid
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "q2.ipynb"
pytestmark = pytest.mark.integration  # PostgreSQL


def run(tmp_path, **parameters):
    out = tmp_path / "out"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "q2.ipynb"),
        parameters={"output_dir": str(out), **parameters},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    return out


def test_q2_notebook_on_the_test_data(tmp_path, database_url):
    schema = f"nb_{uuid.uuid4().hex[:8]}"
    out = run(tmp_path, database_url=database_url, schema=schema, day="2017-04-01")
    data = json.loads((out / "results.json").read_text())
    assert data["parameters"] == {
        "schema": schema,
        "day": "2017-04-01",
        "window_days": 7,
        "top_n": 10,
    }
    assert [(a["id"], a["likes"]) for a in data["top_liked_articles"]] == [
        ("111111", 2),
        ("222222", 1),
        ("333333", 1),
    ]
    assert data["install_retention"] == {"installed_users": 5, "retained_users": 4}
    first = [c["active_users"] for c in data["cohorts"] if c["install_day"] == "2017-04-01"]
    assert first == [1, 1, 0, 1, 0, 0, 1]
    for chart in ("likes_per_article.png", "retention_cohorts.png"):
        assert (out / chart).stat().st_size > 1000
    # both plans of both answers: the raw queries' and the rollups'
    executed = (tmp_path / "q2.ipynb").read_text()
    assert executed.count("Execution Time") == 4
    for table in ("on clickstream", "on likes_daily", "on first_installs", "clickstream_pkey"):
        assert table in executed


def test_q2_notebook_leaves_an_unknown_schema_alone_and_says_why(tmp_path, database_url):
    with pytest.raises(pm.PapermillExecutionError, match="schema nobody_here has no articles"):
        run(tmp_path, database_url=database_url, schema="nobody_here", load_test_data=False)


def test_q2_notebook_rejects_a_bad_day(tmp_path, database_url):
    with pytest.raises(pm.PapermillExecutionError, match="day must be a date"):
        run(tmp_path, database_url=database_url, schema="nb_badday", day="2017-13-45")


def test_q2_notebook_connects_to_database_url_by_default(tmp_path, database_url, monkeypatch):
    """No ``database_url`` parameter: the notebook's first cell reads DATABASE_URL."""
    import sqlalchemy as sa

    from lib.db import connect

    schema = f"nb_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = run(tmp_path, schema=schema)
    data = json.loads((out / "results.json").read_text())
    assert data["install_retention"] == {"installed_users": 5, "retained_users": 4}
    engine = connect(database_url)  # the test's own database, not the server's default one
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f"{schema}.articles"})
            assert found.scalar() is not None
    finally:
        engine.dispose()
    monkeypatch.setenv("DATABASE_URL", "not a url")
    with pytest.raises(pm.PapermillExecutionError, match="not a database URL"):
        run(tmp_path, schema=schema)
