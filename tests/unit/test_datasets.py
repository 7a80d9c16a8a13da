import gzip
import os
import subprocess
import sys
from pathlib import Path

from lib.datasets import NASA_LOG_NAME, ensure_nasa_log
from tests.unit.test_download import LOG, closed_port_url, server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def test_an_existing_log_is_used_without_downloading(tmp_path):
    (tmp_path / NASA_LOG_NAME).write_bytes(gzip.compress(LOG))
    dataset = ensure_nasa_log(tmp_path, [closed_port_url()], 1)
    assert (dataset.path, dataset.synthetic, dataset.source) == (
        tmp_path / NASA_LOG_NAME,
        False,
        "cached file",
    )


def test_downloads_when_it_can(server, tmp_path):  # noqa: F811
    base, files = server
    files["/aug.gz"] = gzip.compress(LOG)
    dataset = ensure_nasa_log(tmp_path, [f"{base}/aug.gz"], 5)
    assert not dataset.synthetic and dataset.source.startswith("downloaded from")
    assert gzip.decompress(dataset.path.read_bytes()) == LOG


def test_offline_it_says_so_and_generates_a_synthetic_log(tmp_path, caplog):
    dataset = ensure_nasa_log(tmp_path, [closed_port_url()], 1, synthetic_lines=2000)
    assert dataset.synthetic and dataset.path.exists()
    assert "synthetic (offline:" in dataset.source and "refused" in dataset.source.lower()
    assert "labelled synthetic" in caplog.text
    assert not (tmp_path / NASA_LOG_NAME).exists()
    again = ensure_nasa_log(tmp_path, [closed_port_url()], 1, synthetic_lines=2000)
    assert again.path == dataset.path  # reused, not regenerated
    assert again.path.stat().st_mtime_ns == dataset.path.stat().st_mtime_ns


def test_cli_prints_only_the_path_on_stdout(tmp_path):
    env = {**os.environ, "NASA_LOG_URLS": closed_port_url()}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib.datasets",
            "ensure",
            "--data-dir",
            str(tmp_path),
            "--synthetic-lines",
            "2000",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    path = Path(done.stdout.strip())
    assert done.stdout.count("\n") == 1 and path.exists()
    assert "SYNTHETIC" in done.stderr
