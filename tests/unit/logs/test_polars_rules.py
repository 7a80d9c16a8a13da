"""What the compiled accelerator (lib/logs/parsing/_clf.c) relies on of polars, pinned one rule
a test: it accepts a line only when it is certain the polars path reads it the same way, so a
polars upgrade that changed one of these would make the two disagree. Each fails by name.

The differential tests (test_fast_path.py) compare the two paths on generated lines; these say
which rule broke."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from lib.logs.parsing import clf
from lib.logs.reading.lines import block_to_lines


def minute(texts: list[str]) -> list:
    return (
        pl.Series(texts)
        .str.to_datetime(clf.MINUTE_FORMAT, strict=False, time_unit="us", time_zone="UTC")
        .to_list()
    )


def test_every_month_name_reads_as_its_month():
    texts = [f"18/{name}/1995:12:30" for name in clf.MONTHS]
    assert [when.month for when in minute(texts)] == list(range(1, 13))


def test_month_names_in_another_case_read_too_so_the_accelerator_leaves_them_over():
    # _clf.c takes only the exact names; polars decides the others (today: it reads them)
    assert minute(["18/aug/1995:12:30", "18/AUG/1995:12:30"]) == minute(["18/Aug/1995:12:30"]) * 2


@pytest.mark.parametrize(
    "text",
    ["31/Apr/1995:12:30", "29/Feb/1900:12:30", "18/Aug/1995:24:00", "18/Aug/1995:12:60"],
)
def test_an_impossible_date_or_minute_is_null(text):
    # the accelerator rejects these (days_in_month, hour > 23, minute > 59): so must polars
    assert minute([text]) == [None]


def test_the_years_the_accelerator_reads_itself_read_and_hold_in_python():
    first, last = clf.CERTAIN_YEARS
    times = minute([f"01/Jan/{first}:00:00", f"31/Dec/{last}:23:59"])
    assert [when.year for when in times] == [first, last]
    # a zone moves them by up to a day either way and Python still holds them (first/last time)
    shifted = (
        pl.Series(times).dt.offset_by("-1d").to_list()
        + pl.Series(times).dt.offset_by("1d").to_list()
    )
    assert all(isinstance(when, datetime) for when in shifted)


def test_an_int64_sum_wraps_around():
    # _clf.c adds a block's bytes modulo 2**64 as polars' Int64 sum does
    values = [10**18 - 1] * 10
    assert pl.Series(values, dtype=pl.Int64).sum() == sum(values) - 2**64


def test_the_csv_reader_drops_one_trailing_cr_and_a_bom_at_the_start_only():
    lines = block_to_lines(b"\xef\xbb\xbfa\r\nb\r\r\n\xef\xbb\xbfc\nd").to_list()
    assert lines == ["a", "b\r", "\ufeffc", "d"]


def test_times_are_microseconds_in_utc():
    stamp = datetime(1995, 8, 18, 16, 30, tzinfo=UTC)
    assert minute(["18/Aug/1995:16:30"]) == [stamp]
