"""The cache is trusted only as regular files inside it, of a bounded size, and ``results.json``
only in the shape the writer gives it: anything else is never read as results nor served, the
last good copy is served instead (never a 500), and the writer replaces the entry."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

import lib.votes.cache as cache
from lib.errors import ConfigError
from lib.votes.cache import (
    CACHE_MAX_BYTES,
    CachedChart,
    CachedResults,
    UntrustedFile,
    charts_missing,
    read_cache_file,
    results_snapshot,
    write_results,
)
from lib.votes.settings import load_settings
from lib.votes.store import build_results
from service.kiosk import make_app
from tests.unit.votes.test_kiosk_app import CANDIDATES, StandInPublisher, call

NOW = datetime.now(UTC).replace(microsecond=0)
SECRET = b"root:$6$not-for-kiosk-users:19000:0:99999:7:::\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 10


def good_results(total: int = 1) -> dict:
    rows = [{"bucket": NOW - timedelta(minutes=20), "candidate": "1", "votes": total}]
    return json.loads(json.dumps(build_results(rows, [], CANDIDATES, NOW)))


def replace(path, data: bytes) -> None:
    """Put ``data`` at ``path`` as the writer does: a new file renamed over the entry."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.fixture
def secret(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_bytes(SECRET)
    return outside / "shadow"


@pytest.fixture
def cache_dir(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder


def make_untrusted(entry, kind: str, secret) -> None:
    """Put an entry of ``kind`` at ``entry`` (whatever was there goes)."""
    if entry.exists() or entry.is_symlink():
        entry.unlink()
    if kind == "symlink":
        entry.symlink_to(secret)
    elif kind == "dangling symlink":
        entry.symlink_to(entry.with_name("nowhere"))
    elif kind == "fifo":
        os.mkfifo(entry)
    elif kind == "directory":
        entry.mkdir()
    elif kind == "hard link":
        os.link(secret, entry)
    else:
        raise AssertionError(kind)


KINDS = ["symlink", "dangling symlink", "fifo", "directory", "hard link"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_entry_that_is_not_a_regular_file_of_its_own_is_never_read(
    cache_dir, secret, kind, caplog
):
    entry = cache_dir / "results.json"
    make_untrusted(entry, kind, secret)
    with pytest.raises(UntrustedFile):  # refused before it is opened: a FIFO never blocks
        read_cache_file(entry, CACHE_MAX_BYTES)
    results = CachedResults(entry)
    with caplog.at_level(logging.WARNING, logger="lib.votes.cache"):
        assert results.read() is None and results.read() is None
    (line,) = [r.getMessage() for r in caplog.records]  # logged once, not per request
    assert "results.json not used: it " in line and "nothing to serve yet" in line


def test_a_symlink_put_in_place_between_the_check_and_the_open_is_refused(
    cache_dir, secret, monkeypatch
):
    entry = cache_dir / "totals.png"
    replace(entry, PNG)
    regular = os.lstat(entry)
    entry.unlink()
    entry.symlink_to(secret)
    monkeypatch.setattr(cache.os, "lstat", lambda path: regular)  # the check saw a file
    with pytest.raises(OSError) as refused:  # O_NOFOLLOW: ELOOP, the link is not followed
        read_cache_file(entry, CACHE_MAX_BYTES)
    assert not isinstance(refused.value, UntrustedFile)
    assert CachedChart(entry).read() is None


def test_an_oversized_file_is_refused_unread(cache_dir, monkeypatch):
    entry = cache_dir / "results.json"
    with open(entry, "wb") as file:  # 200 MB, sparse: made at once
        file.truncate(200 * 1024 * 1024)
    opened = []
    monkeypatch.setattr(cache.os, "open", counting(os.open, opened))
    started = time.perf_counter()
    assert CachedResults(entry).read() is None
    assert time.perf_counter() - started < 0.5 and opened == []
    with pytest.raises(UntrustedFile, match=r"over CACHE_MAX_BYTES \(65536\)"):
        read_cache_file(entry, 65536)


@pytest.mark.parametrize("kind", [*KINDS, "oversized", "odd"])
def test_the_last_good_copy_is_served_never_a_500(cache_dir, secret, kind):
    app = make_app("k7", CANDIDATES, lambda: StandInPublisher(), cache_dir, cache_max_bytes=65536)
    write_results(cache_dir, good_results(3), charts=False)
    replace(cache_dir / "totals.png", PNG)
    first = call(app, "GET", "/results")
    chart = call(app, "GET", "/results/totals.png")
    assert first.status == 200 and chart.status == 200
    for name in ("results.json", "totals.png"):
        entry = cache_dir / name
        if kind == "oversized":
            replace(entry, b" " * 65537)
        elif kind == "odd":
            replace(entry, b"[" * 100_000 if name == "results.json" else b"GIF89a")
        else:
            make_untrusted(entry, kind, secret)
    for _ in range(2):
        again = call(app, "GET", "/results")
        assert (again.status, again.headers["etag"]) == (200, first.headers["etag"])
        assert again.json()["totals"] == first.json()["totals"]
        same_chart = call(app, "GET", "/results/totals.png")
        assert (same_chart.status, same_chart.body) == (200, PNG)
        assert call(app, "GET", "/health").status == 200
    fresh = make_app("k8", CANDIDATES, lambda: StandInPublisher(), cache_dir)  # holds nothing
    assert call(fresh, "GET", "/results").status == 503
    assert call(fresh, "GET", "/results/totals.png").status == 503
    health = call(fresh, "GET", "/health")
    assert health.status == 200 and health.json()["cache_age_seconds"] is None
    for reply in (again, same_chart, health):
        assert SECRET not in reply.body


def counting(function, calls: list):
    """``function``, noting the arguments of each call in ``calls``."""

    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    return counted


def _with(document: dict, **changes) -> bytes:
    return json.dumps({**document, **changes}).encode()


def _odd_documents() -> dict[str, bytes]:
    good = good_results()
    bucket = good["distribution"][0]
    return {
        "naive generated_at": _with(good, generated_at="2026-11-28T12:00:00"),
        "year 1 at +14:00": _with(good, generated_at="0001-01-01T00:00:00+14:00"),
        "year 9999 at -14:00": _with(good, generated_at="9999-12-31T23:59:59-14:00"),
        "year 9999": _with(good, generated_at="9999-01-01T00:00:00+00:00"),
        "before 1970": _with(good, generated_at="1969-12-31T23:59:59+00:00"),
        "not a time": _with(good, generated_at="yesterday"),
        "a number for a time": _with(good, generated_at=1_700_000_000),
        "100,000-deep nesting": b'{"extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "deep nesting in an extra key": _with(good)[:-1]
        + b',"x":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}",
        "NaN": _with(good)[:-1] + b', "x": NaN}',
        "a lone surrogate": _with(good, time_zone="\ud800"),
        "not UTF-8": _with(good, time_zone="\xff").replace(b"\\u00ff", b"\xff"),
        "a list": b"[1, 2]",
        "a count that is a string": _with(good, total_votes="3"),
        "a count that is true": _with(good, total_votes=True),
        "a negative count": _with(good, other_votes=-1),
        "a total for nobody": _with(good, totals={**good["totals"], "9": 1}),
        "a total missing": _with(good, totals={"1": 1}),
        "candidates not a list": _with(good, candidates={"1": "a"}),
        "a candidate without a name": _with(good, candidates=[{"id": "1"}]),
        "no distribution": json.dumps(
            {k: v for k, v in good.items() if k != "distribution"}
        ).encode(),
        "a bucket without a time": _with(good, distribution=[{"votes": bucket["votes"]}]),
        "a bucket's votes a list": _with(good, distribution=[{**bucket, "votes": [1]}]),
        "empty": b"",
    }


@pytest.mark.parametrize(("data"), _odd_documents().values(), ids=list(_odd_documents()))
def test_odd_results_are_corrupt(data):
    with pytest.raises(ValueError):  # RecursionError, UnicodeError, ... all said as ValueError
        results_snapshot(data)


def test_what_the_writer_writes_is_taken_with_keys_it_does_not_know(cache_dir):
    good = good_results()
    assert results_snapshot(json.dumps(good).encode()).document == good
    older = {k: v for k, v in good.items() if k != "time_zone"}  # before VOTES_TIME_ZONE
    older["distribution"] = [
        {k: v for k, v in b.items() if k != "local_time"} for b in older["distribution"]
    ]
    assert results_snapshot(json.dumps(older).encode()).document == older
    newer = {**good, "something_new": {"a": [1, 2]}}
    assert results_snapshot(json.dumps(newer).encode()).document == newer
    # a writer's clock far from this one: lib.votes.clock judges that, not the cache
    ahead = {**good, "generated_at": (NOW + timedelta(days=30)).isoformat()}
    assert results_snapshot(json.dumps(ahead).encode()).generated > NOW
    assert results_snapshot(_with(good, generated_at="9998-12-31T00:00:00-14:00")).generated


def test_a_corrupt_version_is_read_once_and_logged_once(cache_dir, monkeypatch, caplog):
    entry = cache_dir / "results.json"
    results = CachedResults(entry)
    write_results(cache_dir, good_results(), charts=False)
    good = results.read()
    replace(entry, _odd_documents()["year 1 at +14:00"])
    opened = []
    monkeypatch.setattr(cache.os, "open", counting(os.open, opened))
    with caplog.at_level(logging.WARNING, logger="lib.votes.cache"):
        assert all(results.read() is good for _ in range(5))
    assert len(opened) == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert "generated_at '0001-01-01T00:00:00+14:00' is out of range" in line
    assert "serving the last good copy" in line
    write_results(cache_dir, good_results(5), charts=False)  # the writer's next cycle
    assert results.read().document["total_votes"] == 5


@pytest.mark.parametrize("kind", KINDS)
def test_the_writer_replaces_what_kiosks_do_not_trust(cache_dir, secret, kind):
    write_results(cache_dir, good_results(), charts=False)
    for name in ("totals.png", "timeline.png"):
        replace(cache_dir / name, PNG)
    assert not charts_missing(cache_dir)
    entry = cache_dir / "totals.png"
    make_untrusted(entry, kind, secret)
    assert charts_missing(cache_dir)  # so the writer draws it at once
    make_untrusted(cache_dir / "results.json", "symlink", secret)
    if kind == "directory":  # cannot be renamed over: said, and left for the operator
        with pytest.raises(IsADirectoryError):
            write_results(cache_dir, good_results(), charts=True)
        assert (cache_dir / "results.json").is_file()  # written all the same
        return
    write_results(cache_dir, good_results(), charts=True)
    for name in ("results.json", "totals.png"):
        written = os.lstat(cache_dir / name)
        assert written.st_nlink == 1 and os.path.isfile(cache_dir / name)
        assert not os.path.islink(cache_dir / name)
    assert secret.read_bytes() == SECRET  # never written through the link
    assert not charts_missing(cache_dir)
    assert CachedChart(entry).read().body.startswith(b"\x89PNG")


def test_cache_max_bytes_is_a_setting_with_a_range():
    assert load_settings({}).cache_max_bytes == CACHE_MAX_BYTES == 4 * 1024 * 1024
    assert load_settings({"CACHE_MAX_BYTES": "65536"}).cache_max_bytes == 65536
    for wrong in ("65535", "268435457", "0", "-1", "4MB"):
        with pytest.raises(ConfigError, match="CACHE_MAX_BYTES must be"):
            load_settings({"CACHE_MAX_BYTES": wrong})
