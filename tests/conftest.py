"""Shared fixtures: the real NASA slice from ../shared/data when it is there."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NASA_SLICE = ROOT.parent / "shared" / "data" / "nasa_aug95_head.log"


@pytest.fixture
def nasa_slice() -> Path:
    """The first 1,881 lines of the real August 1995 log (1,880 requests, 1 truncated line)."""
    if not NASA_SLICE.exists():
        pytest.skip(f"the real NASA slice is not present at {NASA_SLICE}")
    return NASA_SLICE
