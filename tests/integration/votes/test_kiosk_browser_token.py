"""The kiosk screen votes with ``KIOSK_TOKEN`` set, in a real browser (headless Chromium): on the
kiosk's own machine the page carries the token; a screen elsewhere is given it once in the
address's fragment and keeps it; without it, the screen says why the vote was not recorded."""

from __future__ import annotations

import pytest

from tests.integration.votes.cdp import Browser, chromium_path

TOKEN = "kiosk+token/for=the-browser-test"  # "+": the fragment is not form-decoded

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (make test installs Debian's chromium package)",
)


def click_and_wait(browser: Browser, candidate: str) -> str:
    """Click the button of ``candidate``; the status line once the kiosk has answered."""
    browser.evaluate(
        "(() => { document.getElementById('status').textContent = '';"
        f" document.querySelector('button.vote[data-candidate=\"{candidate}\"]').click(); }})()"
    )
    return browser.wait_for(
        "(() => { const t = document.getElementById('status').textContent;"
        " return t.startsWith('Thank you') || t.startsWith('Not recorded') ? t : null; })()"
    )


def test_the_screen_on_the_kiosks_machine_votes_with_the_token_in_its_page(vote_system, tmp_path):
    vote_system.start_worker()
    _, client = vote_system.start_kiosk("k-token", KIOSK_TOKEN=TOKEN)
    assert client.post_vote("1").status == 401  # the token is required of everyone else
    browser = Browser(f"http://127.0.0.1:{client.port}/", tmp_path / "profile")
    try:
        browser.wait_for("document.querySelectorAll('button.vote').length === 3")
        assert browser.evaluate("document.querySelector('meta[name=\"kiosk-token\"]') !== null")
        assert click_and_wait(browser, "2").startswith("Thank you")
    finally:
        browser.close()
    vote_system.wait_for_total(1)
    assert vote_system.sql("SELECT candidate, count(*) FROM votes GROUP BY 1") == [("2", 1)]


def test_a_screen_elsewhere_is_given_the_token_once_in_the_fragment(vote_system, tmp_path):
    vote_system.start_worker()
    _, client = vote_system.start_kiosk("k-token", KIOSK_TOKEN=TOKEN, KIOSK_HOSTS="kiosk.test")
    page = f"http://kiosk.test:{client.port}/"
    # the kiosk is reached by a name that is not loopback's, as from another machine
    browser = Browser(
        page, tmp_path / "profile", ("--host-resolver-rules=MAP kiosk.test 127.0.0.1",)
    )
    try:
        browser.wait_for("document.querySelectorAll('button.vote').length === 3")
        assert browser.evaluate("document.querySelector('meta[name=\"kiosk-token\"]') === null")
        refused = click_and_wait(browser, "1")
        assert refused.startswith("Not recorded") and "Authorization: Bearer" in refused

        browser.navigate(f"{page}#token={TOKEN}")
        assert browser.evaluate("location.href") == page  # taken out of the address bar
        assert click_and_wait(browser, "3").startswith("Thank you")

        browser.navigate(page)  # loaded again, no fragment: the token was kept
        assert click_and_wait(browser, "3").startswith("Thank you")
    finally:
        browser.close()
    vote_system.wait_for_total(2)
    assert vote_system.sql("SELECT candidate, count(*) FROM votes GROUP BY 1") == [("3", 2)]
