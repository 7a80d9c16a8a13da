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


def rows_table(rows: list[dict], leave_out: tuple[str, ...] = ()):
    """``results.json`` rows (a list of objects) as a table, without the ``leave_out`` keys."""
    frame = pl.DataFrame(rows) if rows else pl.DataFrame({"(none)": []})
    return table(frame.drop([name for name in leave_out if name in frame.columns]))


def urls_note(data: dict) -> str:
    """Markdown over the URLs' table: what a URL is here, how exact the counts are, and where
    the times taken come from."""
    urls = data["urls"]
    lines = [
        "A URL is the request's path without its query; *distinct queries* counts the different "
        "queries it was asked with."
    ]
    if not urls["listed_exactly"]:
        lines.append(
            f"The log holds more distinct URLs than are kept: each count may be short by up to "
            f"{urls['count_error_at_most']:,} requests (lib/logs/counting/bounded.py)."
        )
    if any(not row["distinct_queries_exact"] for row in data["top_urls"]):
        lines.append("Distinct queries are estimated from a sample (1 in a power of 2).")
    times = data.get("response_times")
    if times:
        lines.append(
            f"Times taken (ms) are the log's own, over {times['timed_requests']:,} requests: "
            f"p50 {times['p50_ms']:,}, p90 {times['p90_ms']:,}, p99 {times['p99_ms']:,}, each "
            f"within {times['precision']:.1%}."
        )
    else:
        lines.append("The log's format records no time taken: no percentiles.")
    return "\n\n".join(lines)


def vhosts_note(data: dict) -> str:
    """Markdown: the virtual hosts' line, or why there is none."""
    if data.get("vhosts") is None:
        return "The log's format records no virtual host."
    return f"Requests and bytes by virtual host ({len(data['vhosts']):,} busiest shown)."
