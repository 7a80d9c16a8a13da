"""report.html as a reader sees it, in headless Chromium: the report of a log that is not NASA's
(a Kubernetes ingress-nginx log, with times taken) names that log, shows every chart loaded and
every breakdown as a table, and none of the NASA texts or raw frame dumps."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

from lib.logs.report.html import main
from tests.integration.votes.cdp import Browser, chromium_path
from tests.support.log_corpus import write_log

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "q1.ipynb"
SECTIONS = ("URLs", "Bytes sent, by host and by URL", "Unique visitors", "Virtual hosts",
            "Traffic over time")  # fmt: skip


@pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (make test installs Debian's chromium package)",
)
def test_the_report_of_an_ingress_log_reads_as_that_logs_report(tmp_path):
    log = write_log("ingress_nginx", tmp_path / "ingress.log")
    out = tmp_path / "out"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "q1.ipynb"),
        parameters={"log_path": str(log), "output_dir": str(out), "use_dns": False},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    assert main(["--html", str(tmp_path / "q1.ipynb"), "--output-dir", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    page = (out / "report.html").as_uri()
    browser = Browser("about:blank", tmp_path / "profile")
    try:
        browser.navigate(page)
        images = browser.evaluate(
            "[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        pngs = sorted(path.name for path in out.glob("*.png"))
        assert len(images) == len(pngs) >= 10, (images, pngs)
        assert all(done and width > 300 and height > 150 for done, width, height in images)
        text = browser.evaluate("document.body.innerText")
        headings = browser.evaluate(
            "[...document.querySelectorAll('h1, h2')].map(h => h.innerText)"
        )
        tables = browser.evaluate("document.querySelectorAll('table').length")
        shot = browser.screenshot(tmp_path / "report.png")
    finally:
        browser.close()
    assert "Q1 — access log: ingress.log" in headings, headings
    for section in SECTIONS:
        assert any(h.startswith(section) for h in headings), section
    assert "NASA" not in text and "Hurricane" not in text and "August 1995" not in text
    assert "shape:" not in text and "PosixPath" not in text  # no raw frames or reprs
    assert tables >= 8  # hosts, methods, countries, URLs, bytes by host and URL, vhosts...
    busiest = data["top_urls"][0]
    assert busiest["url"] in text and f"{busiest['requests']:,}" in text
    assert "p99_ms" in text  # the URLs' table has the times taken
    assert "records no virtual host" in text  # ingress-nginx's default logs none
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
