"""Choosing the Q1 input: cached, downloaded (from a local server) or labelled synthetic."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from lib.logs.datasets.nasa import NASA_LOG_NAME, SYNTHETIC_LOG, ensure_nasa_log
from lib.logs.reading.synthetic_marker import is_synthetic, marker_path
from tests.unit.logs.test_download import LOG, closed_port_url, serving

ROOT = Path(__file__).resolve().parents[3]


def test_an_existing_log_is_used_without_downloading(tmp_path):
    (tmp_path / NASA_LOG_NAME).write_bytes(gzip.compress(LOG))
    with serving() as site:
        dataset = ensure_nasa_log(tmp_path, [site.url("/aug.gz")], 5)
    assert site.requests == []
    assert dataset.path == tmp_path / NASA_LOG_NAME
    assert (dataset.synthetic, dataset.source) == (False, "cached file")


def test_the_log_is_downloaded_when_it_can_be(tmp_path):
    with serving() as site:
        site.files["/aug.gz"] = gzip.compress(LOG)
        urls = [site.url("/gone.gz"), site.url("/aug.gz")]
        dataset = ensure_nasa_log(tmp_path, urls, 5)
    assert dataset.path == tmp_path / NASA_LOG_NAME and not dataset.synthetic
    assert dataset.source == f"downloaded from {site.url('/aug.gz')}"
    assert gzip.decompress(dataset.path.read_bytes()) == LOG


def test_offline_it_says_so_and_generates_a_synthetic_log(tmp_path, caplog):
    url = closed_port_url()
    dataset = ensure_nasa_log(tmp_path, [url], 1, synthetic_lines=2000)
    assert dataset.synthetic and dataset.path == tmp_path / SYNTHETIC_LOG
    assert dataset.path.exists() and is_synthetic(dataset.path)
    assert dataset.source.startswith("synthetic (offline: ") and url in dataset.source
    assert "could not download the NASA log" in caplog.text
    assert "its answers are labelled synthetic" in caplog.text
    assert not (tmp_path / NASA_LOG_NAME).exists()

    again = ensure_nasa_log(tmp_path, [url], 1, synthetic_lines=2000)
    assert again == dataset
    assert again.path.stat().st_mtime_ns == dataset.path.stat().st_mtime_ns  # reused


def test_a_synthetic_log_of_another_size_is_regenerated(tmp_path):
    first = ensure_nasa_log(tmp_path, [], 1, allow_download=False, synthetic_lines=2000)
    second = ensure_nasa_log(tmp_path, [], 1, allow_download=False, synthetic_lines=3000)
    assert first.path == second.path
    assert json.loads(marker_path(second.path).read_text())["lines"] == 3000


def test_no_download_skips_the_network(tmp_path):
    with serving() as site:
        site.files["/aug.gz"] = gzip.compress(LOG)
        dataset = ensure_nasa_log(
            tmp_path, [site.url("/aug.gz")], 5, allow_download=False, synthetic_lines=2000
        )
    assert site.requests == []
    assert dataset.synthetic and "switched off" in dataset.source


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.logs.datasets", "ensure", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NASA_LOG_URLS": closed_port_url(), **env},
        cwd=ROOT,
        timeout=120,
    )


def test_cli_prints_only_the_path_on_stdout(tmp_path):
    done = run_cli("--data-dir", str(tmp_path), "--synthetic-lines", "2000")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{(tmp_path / SYNTHETIC_LOG).resolve()}\n"
    assert "SYNTHETIC" in done.stderr and "could not download" in done.stderr


def test_cli_failure_is_one_line_without_a_traceback(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    done = run_cli("--data-dir", str(not_a_dir), "--no-download", "--synthetic-lines", "10")
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: ")

    done = run_cli("--data-dir", str(tmp_path), DOWNLOAD_TIMEOUT="soon")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("error: DOWNLOAD_TIMEOUT") and done.stderr.count("\n") == 1
