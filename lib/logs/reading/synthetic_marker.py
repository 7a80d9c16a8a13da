"""The label that marks a log as synthetic: a ``<file>.synthetic.json`` sidecar beside it.

Kept apart from ``lib.logs.datasets.synthetic`` (the generator, which needs numpy) so that reading
a label costs no more than a file check.
"""

from __future__ import annotations

from pathlib import Path

MARKER_SUFFIX = ".synthetic.json"


def marker_path(path: str | Path) -> Path:
    """The marker file that labels ``path`` synthetic: ``<path>.synthetic.json``."""
    path = Path(path)
    return path.with_name(path.name + MARKER_SUFFIX)


def is_synthetic(path: str | Path) -> bool:
    """True when ``path`` was written by ``lib.logs.datasets.synthetic.generate_log`` (its marker
    is beside it)."""
    return marker_path(path).exists()
