"""What the report says about the log it read, from ``answers()``' output (``results.json``):
its heading (files, span, formats, offsets), the notes that hold for the NASA log only, and
tables shown as tables (no dtype row, no quoted strings)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lib.logs.q1 import window_text
from lib.logs.window import NASA, NASA_NAMES

NASA_NOTE = (
    "The NASA server was shut down for Hurricane Erin from 1 Aug 14:52 to 3 Aug 04:36 (EDT); "
    "the gap shows in the real log."
)


def is_nasa(data: dict) -> bool:
    """Whether the answers are the NASA log's (every file named as NASA's, or its synthetic
    stand-in), or its question's window was taken."""
    files = data["input"].get("files") or []
    named = bool(files) and all(Path(path).name.startswith(NASA_NAMES) for path in files)
    return named or data["window"].get("origin") == NASA


def heading(data: dict) -> str:
    """Markdown: a title naming the log, then its span, formats, offsets and window."""
    files = data["input"].get("files") or []
    names = [Path(path).name for path in files]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    title = "NASA Kennedy Space Center access log" if is_nasa(data) else "access log"
    synthetic = " (SYNTHETIC stand-in)" if data["input"].get("synthetic") else ""
    formats = ", ".join(f"{name} ({n:,} requests)" for name, n in
                        (data.get("requests_per_format") or {}).items())  # fmt: skip
    lines = [
        f"# Q1 — {title}: {shown or 'no file'}{synthetic}",
        "",
        f"- **Span**: {data.get('first_time') or '?'} to {data.get('last_time') or '?'} (UTC)",
        f"- **Read as**: {formats or 'nothing read'}",
        f"- **Offset most written**: {data.get('utc_offset') or 'none'}",
        f"- **Window**: {window_text(data['window'])}",
    ]
    return "\n".join(lines)


def traffic_note(data: dict) -> str:
    """Markdown under the traffic heading: what the chart covers, and the NASA log's gap."""
    note = (
        "The chart covers the whole days that hold the bulk of the requests (a stray line stamped "
        "1970 does not stretch it over decades); the note under it says how many requests fall "
        "outside."
    )
    return f"{NASA_NOTE}\n\n{note}" if is_nasa(data) else note


def table(frame: pl.DataFrame):
    """``frame`` as a table for a notebook: its columns and rows, numbers with thousands
    separators, no index, no dtype row."""
    styled = frame.to_pandas().style.hide(axis="index")
    return styled.format(thousands=",", precision=3, na_rep="")
