"""The live kiosk trusts its cache only as regular files inside it: a symlink or a FIFO put in
``CACHE_DIR`` is never served and the worker replaces it; odd or huge ``results.json`` is served
from the last good copy, quickly, never as a 500. And HTTP details over the real server: a path
that is not UTF-8 is a 400, chart ETags are quoted and answer weak and listed conditions."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import UTC, datetime

from lib.votes.cache import write_results
from lib.votes.message import parse_candidates
from lib.votes.settings import DEFAULT_CANDIDATES
from lib.votes.store import build_results
from tests.integration.votes.vote_system import wait_until

SECRET = b"root:$6$kiosk-must-not-serve-this:19000:0:99999:7:::\n"


def swap(entry, make) -> None:
    """Put what ``make(path)`` makes at a temporary name, then rename it over ``entry`` (so the
    entry is never missing, as when the writer replaces it)."""
    tmp = entry.with_name(f".{entry.name}.swap")
    make(tmp)
    os.replace(tmp, entry)


def sparse(path) -> None:
    """A 200 MB file of zeros, made at once."""
    with open(path, "wb") as file:
        file.truncate(200 * 1024 * 1024)


def is_regular(entry) -> bool:
    try:
        return stat.S_ISREG(os.lstat(entry).st_mode)
    except FileNotFoundError:
        return False


def test_links_and_special_files_are_never_served_and_the_worker_replaces_them(
    vote_system, tmp_path
):
    secret = tmp_path / "shadow"
    secret.write_bytes(SECRET)
    # charts are redrawn at most once an hour: only distrust of an entry gets one drawn sooner
    vote_system.start_worker(CHART_INTERVAL="3600")
    _, client = vote_system.start_kiosk()
    cache = vote_system.cache_dir
    charts = [cache / "totals.png", cache / "timeline.png"]
    wait_until(lambda: all(is_regular(c) for c in charts), 30, "the charts")
    for entry, make in (
        (cache / "timeline.png", lambda path: path.symlink_to(secret)),
        (cache / "results.json", lambda path: path.symlink_to(secret)),
        (cache / "totals.png", os.mkfifo),
    ):
        swap(entry, make)
        for path in ("/results", "/results/timeline.png", "/results/totals.png", "/health"):
            started = time.monotonic()
            status, _, body = client.request("GET", path)
            assert status in (200, 503) and SECRET not in body, (entry.name, path, status)
            assert time.monotonic() - started < 2, path  # a FIFO is never opened
        wait_until(lambda entry=entry: is_regular(entry), 15, f"{entry.name} replaced")
    for chart in charts:
        status, headers, body = client.request("GET", f"/results/{chart.name}")
        assert status == 200 and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert secret.read_bytes() == SECRET
    assert "not used: it is a symlink" in vote_system.log_text()


def test_odd_or_huge_results_are_corrupt_and_the_last_good_copy_is_served(vote_system):
    candidates = parse_candidates(DEFAULT_CANDIDATES)
    cache = vote_system.cache_dir
    write_results(cache, build_results([], [], candidates, datetime.now(UTC)), charts=False)
    # one server process: the copy it has read is the one it keeps (no worker: nothing rewrites)
    _, client = vote_system.start_kiosk("k1", "--workers", "1")
    status, headers, body = client.request("GET", "/results")
    assert status == 200
    good, etag = json.loads(body), headers["etag"]
    entry = cache / "results.json"
    odd = {
        "200 MB": sparse,
        "year 1": lambda path: path.write_text(
            json.dumps({**good, "generated_at": "0001-01-01T00:00:00+14:00"})
        ),
        "naive": lambda path: path.write_text(
            json.dumps({**good, "generated_at": "2026-11-28T12:00:00"})
        ),
        "100,000 deep": lambda path: path.write_bytes(b"[" * 100_000 + b"]" * 100_000),
    }
    for name, make in odd.items():
        swap(entry, make)
        for _ in range(3):
            started = time.monotonic()
            status, headers, body = client.request("GET", "/results")
            assert time.monotonic() - started < 0.5, name
            assert (status, headers["etag"]) == (200, etag), name
            assert json.loads(body)["totals"] == good["totals"]
            status, _, body = client.request("GET", "/health")
            assert status != 500 and json.loads(body)["cache_age_seconds"] is not None, name
    assert "results.json not used" in vote_system.log_text()


def test_http_details_over_the_wire(vote_system):
    png = b"\x89PNG\r\n\x1a\n" + b"a chart" * 20
    vote_system.cache_dir.mkdir(parents=True, exist_ok=True)
    (vote_system.cache_dir / "totals.png").write_bytes(png)
    _, client = vote_system.start_kiosk()
    json_body = {"Content-Type": "application/json"}
    status, _, body = client.request("POST", "/vo%fftes", b'{"candidate": "1"}', json_body)
    assert status == 400
    assert json.loads(body) == {"error": "the request path is not UTF-8 once percent-decoded"}
    assert vote_system.queue_depth() == 0
    status, headers, body = client.request("GET", "/results/totals.png")
    etag = headers["etag"]
    assert (status, body) == (200, png) and etag.startswith('"') and etag.endswith('"')
    for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, headers, body = client.request(
            "GET", "/results/totals.png", headers={"If-None-Match": condition}
        )
        assert (status, body, headers["etag"]) == (304, b"", etag), condition
    status, _, _ = client.request("GET", "/results/totals.png", headers={"If-None-Match": '"x"'})
    assert status == 200
