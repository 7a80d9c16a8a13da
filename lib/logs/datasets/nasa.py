"""Decide the Q1 input: the real NASA log if it is here or can be downloaded, else a labelled
synthetic one. Never a silent substitute: the result says which it is and why.

    python -m lib.logs.datasets ensure [--data-dir D] [--no-download] [--synthetic-lines N]

prints only the chosen path on stdout (the Makefile captures it) and the explanation on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lib.errors import ProjectError
from lib.logs.datasets.download import fetch_with_url, verify_access_log
from lib.logs.datasets.synthetic import SYNTHETIC_LINES, generate_log
from lib.logs.errors import DownloadError
from lib.logs.reading.synthetic_marker import is_synthetic, marker_path
from lib.logs.settings import load_settings

logger = logging.getLogger(__name__)

NASA_LOG_NAME = "NASA_access_log_Aug95.gz"
SYNTHETIC_LOG = Path("synthetic") / "NASA_access_log_Aug95.synthetic.gz"  # under the data dir


@dataclass(frozen=True)
class Dataset:
    """The Q1 input: where it is, whether it is synthetic, and how it was obtained."""

    path: Path
    synthetic: bool
    source: str  # "cached file", "downloaded from <url>" or "synthetic (offline: <reason>)"


def ensure_nasa_log(
    data_dir: Path,
    urls: Sequence[str],
    timeout: float,
    allow_download: bool = True,
    synthetic_lines: int = SYNTHETIC_LINES,
) -> Dataset:
    """Find or fetch ``data_dir/NASA_access_log_Aug95.gz``; failing that, a synthetic log.

    Args:
        data_dir: where the real log is kept and the synthetic one is generated.
        urls: download sources, tried in order.
        timeout: seconds per connection or read.
        allow_download: False skips the download and goes straight to the synthetic log.
        synthetic_lines: lines in the synthetic log (an existing one is reused if it matches).

    Raises:
        OSError: the synthetic log could not be written.
    """
    data_dir = Path(data_dir)
    real = data_dir / NASA_LOG_NAME
    if real.exists():
        logger.info("using the NASA log already at %s", real)
        return Dataset(real, False, "cached file")
    reason = "downloading is switched off"
    if allow_download:
        try:
            _, url = fetch_with_url(urls, real, timeout, verify_access_log)
        except DownloadError as exc:
            reason = str(exc)
        else:
            return Dataset(real, False, f"downloaded from {url}")
    fake = data_dir / SYNTHETIC_LOG
    reuse = fake.exists() and is_synthetic(fake) and _marked_lines(fake) == synthetic_lines
    logger.warning(
        "could not download the NASA log (%s); %s a deterministic synthetic NASA-like log "
        "instead — its answers are labelled synthetic",
        reason,
        "reusing" if reuse else "generating",
    )
    if not reuse:
        generate_log(fake, lines=synthetic_lines)
    return Dataset(fake, True, f"synthetic (offline: {reason})")


def _marked_lines(path: Path) -> int | None:
    """The line count recorded in a synthetic log's marker, or None if unreadable."""
    try:
        return json.loads(marker_path(path).read_text()).get("lines")
    except (OSError, ValueError, AttributeError):
        return None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (1 with a one-line error on failure)."""
    parser = argparse.ArgumentParser(prog="python -m lib.logs.datasets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ensure = commands.add_parser("ensure", help="print the path of the Q1 input, getting it first")
    ensure.add_argument("--data-dir", type=Path, help="default: $DATA_DIR or data")
    ensure.add_argument("--no-download", action="store_true", help="do not try to download")
    ensure.add_argument("--synthetic-lines", type=_positive_int, default=SYNTHETIC_LINES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        settings = load_settings()
        dataset = ensure_nasa_log(
            args.data_dir or settings.data_dir,
            settings.nasa_log_urls,
            settings.download_timeout,
            allow_download=not args.no_download,
            synthetic_lines=args.synthetic_lines,
        )
    except (ProjectError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    kind = "SYNTHETIC NASA-like log" if dataset.synthetic else "real NASA log"
    print(f"Q1 input: {kind} at {dataset.path} ({dataset.source})", file=sys.stderr)
    print(dataset.path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
