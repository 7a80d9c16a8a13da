"""The kiosk screen in a real browser (headless Chromium): click a candidate, see the
confirmation, see the count change once the worker has flushed, see both charts (the totals and
the last 10 minutes) load, keep a screenshot."""

from __future__ import annotations

import pytest

from tests.integration.votes.cdp import Browser, chromium_path


@pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (make test installs Debian's chromium package)",
)
def test_a_vote_clicked_in_the_browser_is_confirmed_and_counted(vote_system, tmp_path):
    vote_system.start_worker()
    _, client = vote_system.start_kiosk("k-browser")
    browser = Browser(f"http://127.0.0.1:{client.port}/", tmp_path / "profile")
    try:
        assert browser.wait_for("document.querySelectorAll('button.vote').length") == 3
        before = int(browser.wait_for("document.getElementById('totals').dataset.total") or 0)
        label = browser.evaluate(
            "(() => { const b = document.querySelector('button.vote[data-candidate=\"2\"]');"
            " b.click(); return b.textContent; })()"
        )
        assert label == "林林 lam lam"
        status = browser.wait_for(
            "(() => { const t = document.getElementById('status').textContent;"
            " return t.startsWith('Thank you') ? t : null; })()"
        )
        assert "林林 lam lam" in status
        browser.wait_for(
            f"Number(document.getElementById('totals').dataset.total) === {before + 1}", 30
        )
        assert "林林 lam lam: 1" in browser.evaluate(
            "document.getElementById('totals').textContent"
        )
        for chart in ("chart", "timeline"):  # both charts drawn by the worker, loaded
            width = browser.wait_for(
                f"(() => {{ const i = document.getElementById('{chart}');"
                " return i.complete && i.naturalWidth > 0 ? i.naturalWidth : null; })()",
                30,
            )
            assert width > 100, chart
        shot = browser.screenshot(tmp_path / "kiosk.png")
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 5000
    finally:
        browser.close()
    assert vote_system.sql("SELECT candidate, count(*) FROM votes GROUP BY 1") == [("2", 1)]
