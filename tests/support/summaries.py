"""Comparing Q1 summaries made two ways (the compiled accelerator and polars, a stream and a
file, one encoding and another): the same, field by field, or the same error."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from lib.logs.counting.summary import LogSummary
from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.window import Window
from tests.support.trailing import TRAILING

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
# the formats the compiled counter reads: Common, Combined and Combined with fields after it
CHOICES = {name: FormatChoice.of(FORMATS[name]) for name in ("common", "combined", *TRAILING)}
FRAMES = (
    "hosts",
    "window_hosts",
    "hourly",
    "statuses",
    "utc_offsets",
    "formats",
    "referers",
    "user_agents",
    "urls",
    "url_queries",
    "durations",
    "vhosts",
    "visitors",
)
SCALARS = ("lines", "requests", "rejected", "bytes_sent", "first_time", "last_time")
SCALARS += ("url_error", "query_level", "visitor_level")


@contextmanager
def polars_only():
    """Summaries read every line with polars, as if the extension were absent."""
    saved = accelerators.counter
    accelerators.counter = lambda *_: None
    try:
        yield
    finally:
        accelerators.counter = saved


def assert_same(fast: LogSummary, slow: LogSummary) -> None:
    for name in SCALARS:
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.rejected_examples.equals(slow.rejected_examples)
    for name in FRAMES:
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.schema == b.schema, name
        assert a.sort(a.columns).equals(b.sort(b.columns)), name


def outcome(summarize, *args, **kwargs) -> LogSummary | str:
    """The summary, or the error's type: a time outside Python's years fails both paths (an
    OverflowError when the zone takes 9999-12-31 past the year's end)."""
    try:
        return summarize(*args, **kwargs)
    except (ValueError, OverflowError) as exc:
        return type(exc).__name__


def assert_same_outcome(fast, slow) -> None:
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
    else:
        assert_same(fast, slow)


def unnamed(summary: LogSummary) -> LogSummary:
    """``summary`` with its rejected examples' file names left out."""
    return replace(summary, rejected_examples=summary.rejected_examples.drop("file"))
