"""Decide the Q1 input: the real log if it is here or can be downloaded, else a labelled
synthetic one. Never a silent substitute: the result says which it is.

    python -m lib.datasets ensure [--data-dir D] [--no-download] [--synthetic-lines N]

prints only the chosen path on stdout (the Makefile reads it) and the explanation on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lib.config import load_config
from lib.download import fetch, verify_access_log
from lib.errors import DownloadError, ProjectError
from lib.synthetic import SYNTHETIC_LINES, generate_log, is_synthetic, marker_path

logger = logging.getLogger(__name__)

NASA_LOG_NAME = "NASA_access_log_Aug95.gz"
SYNTHETIC_NAME = "synthetic/NASA_access_log_Aug95.synthetic.gz"


@dataclass(frozen=True)
class Dataset:
    path: Path
    synthetic: bool
    source: str


def ensure_nasa_log(
    data_dir: Path,
    urls: Sequence[str],
    timeout: float,
    allow_download: bool = True,
    synthetic_lines: int = SYNTHETIC_LINES,
) -> Dataset:
    """The real August 1995 log (cached or downloaded and verified), else a synthetic one."""
    real = Path(data_dir) / NASA_LOG_NAME
    if real.exists():
        return Dataset(real, False, "cached file")
    reason = "downloading is switched off"
    if allow_download:
        try:
            fetch(urls, real, timeout, verify_access_log)
            return Dataset(real, False, f"downloaded from {', '.join(urls)}")
        except DownloadError as exc:
            reason = str(exc)
    logger.warning(
        "could not get the NASA log (%s); using a deterministic synthetic NASA-like log "
        "instead; its answers are labelled synthetic",
        reason,
    )
    fake = Path(data_dir) / SYNTHETIC_NAME
    if not (fake.exists() and is_synthetic(fake) and _lines_match(fake, synthetic_lines)):
        generate_log(fake, lines=synthetic_lines)
    return Dataset(fake, True, f"synthetic (offline: {reason})")


def _lines_match(path: Path, lines: int) -> bool:
    try:
        return json.loads(marker_path(path).read_text()).get("lines") == lines
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    config = load_config()
    parser = argparse.ArgumentParser(prog="python -m lib.datasets")
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure", help="print the path of the Q1 input, getting it first")
    ensure.add_argument("--data-dir", type=Path, default=config.data_dir)
    ensure.add_argument("--no-download", action="store_true")
    ensure.add_argument("--synthetic-lines", type=int, default=SYNTHETIC_LINES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        dataset = ensure_nasa_log(
            args.data_dir,
            config.nasa_log_urls,
            config.download_timeout,
            allow_download=not args.no_download,
            synthetic_lines=args.synthetic_lines,
        )
    except (ProjectError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    label = "SYNTHETIC" if dataset.synthetic else "real"
    print(f"Q1 input ({label}): {dataset.path} — {dataset.source}", file=sys.stderr)
    print(dataset.path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
