import polars as pl
import pytest

from lib.errors import ConfigError
from lib.logs.counting.summary import LogSummary, combine, top_hosts
from lib.logs.engines.local import summarize_log
from lib.logs.window import Window

WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
COUNT_FRAMES = ("hosts", "window_hosts", "hourly", "statuses", "utc_offsets", "formats", "urls")
COUNT_FRAMES += ("durations", "vhosts")


def line(host: str, stamp: str, status: int = 200, size: str = "100") -> str:
    return f'{host} - - [{stamp} -0400] "GET / HTTP/1.0" {status} {size}'


def write(tmp_path, lines, name="log.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_window_is_half_open_at_the_second(tmp_path):
    path = write(
        tmp_path,
        [
            line("before", "17/Aug/1995:23:59:59"),  # one second early: out
            line("first", "18/Aug/1995:00:00:00"),  # the start itself: in
            line("last", "20/Aug/1995:23:59:59"),  # one second before the end: in
            line("after", "21/Aug/1995:00:00:00"),  # the end itself: out
        ],
    )
    summary = summarize_log(path, WINDOW)
    assert sorted(summary.window_hosts["host"]) == ["first", "last"]
    assert summary.requests == 4


def test_window_respects_the_offset_of_each_line(tmp_path):
    # 03:59:59 UTC on the 18th is 23:59:59 on the 17th at -0400: outside.
    path = write(tmp_path, ['utc - - [18/Aug/1995:03:59:59 +0000] "GET /" 200 1'])
    assert summarize_log(path, WINDOW).window_hosts.is_empty()


def test_window_needs_offsets_and_order():
    with pytest.raises(ConfigError, match="UTC offset"):
        Window.parse("1995-08-18T00:00:00", "1995-08-21T00:00:00-04:00")
    with pytest.raises(ConfigError, match="not an ISO 8601"):
        Window.parse("18 Aug 1995", "1995-08-21T00:00:00-04:00")
    with pytest.raises(ConfigError, match="before"):
        Window.parse("1995-08-21T00:00:00-04:00", "1995-08-18T00:00:00-04:00")


def test_top_hosts_break_ties_by_name():
    counts = pl.DataFrame(
        {"host": ["b", "a", "c", "d"], "requests": [5, 5, 9, 1]},
        schema={"host": pl.String, "requests": pl.UInt64},
    )
    top = top_hosts(counts, 3)
    assert top.rows() == [(1, "c", 9), (2, "a", 5), (3, "b", 5)]
    assert top_hosts(counts, 0).is_empty()


def test_summary_counts_everything_and_loses_nothing(tmp_path):
    path = write(
        tmp_path,
        [
            line("h1", "01/Aug/1995:00:00:01"),
            "",
            line("h1", "01/Aug/1995:00:59:59", 304, "-"),
            "truncat",
            line("h2", "01/Aug/1995:01:00:00", 404, "-"),
        ],
    )
    s = summarize_log(path, WINDOW)
    assert (s.lines, s.requests, s.rejected) == (5, 3, 2)
    assert s.rejected_examples.select("line_no", "line").rows() == [(2, ""), (4, "truncat")]
    assert s.bytes_sent == 100
    assert dict(s.hosts.select("host", "requests").rows()) == {"h1": 2, "h2": 1}
    assert dict(s.statuses.rows()) == {200: 1, 304: 1, 404: 1}
    assert s.hourly["requests"].to_list() == [2, 1]
    assert s.utc_offset == "-0400"


def test_any_block_size_and_worker_count_give_the_same_summary(tmp_path):
    lines = [
        line(f"h{i % 7}", f"{18 + i % 4:02d}/Aug/1995:{i % 24:02d}:00:00") for i in range(300)
    ]
    lines[10] = "broken line"
    path = write(tmp_path, lines)
    whole = summarize_log(path, WINDOW)
    for block_bytes, workers in [(64, 1), (1000, 3), (7, 2)]:
        part = summarize_log(path, WINDOW, block_bytes=block_bytes, workers=workers)
        assert (part.lines, part.requests, part.rejected) == (whole.lines, whole.requests, 1)
        assert part.rejected_examples.rows() == [(str(path), 11, "broken line")]
        for name in ("hosts", "window_hosts", "hourly", "statuses"):
            assert getattr(part, name).equals(getattr(whole, name)), name


def test_combine_is_order_independent(tmp_path):
    a = summarize_log(write(tmp_path, [line("x", "18/Aug/1995:01:00:00")], "a.log"), WINDOW)
    b = summarize_log(write(tmp_path, ["bad", line("y", "19/Aug/1995:01:00:00")], "b.log"), WINDOW)
    ab, ba = combine([a, b]), combine([b, a])
    assert ab.hosts.equals(ba.hosts) and ab.window_hosts.equals(ba.window_hosts)
    assert (
        (ab.lines, ab.requests, ab.rejected) == (ba.lines, ba.requests, ba.rejected) == (3, 2, 1)
    )


def test_real_slice_summary(nasa_slice):
    s = summarize_log(nasa_slice, WINDOW)
    assert (s.lines, s.requests, s.rejected) == (1881, 1880, 1)
    assert s.rejected_examples.rows() == [(str(nasa_slice), 1881, "miriwo")]
    assert s.window_hosts.is_empty()  # the slice covers 1 Aug only


def test_a_block_without_requests_has_the_frames_of_one_with_them(tmp_path):
    lines = [line("h1", "18/Aug/1995:01:00:00")]
    some = summarize_log(write(tmp_path, lines, "some.log"), WINDOW)
    none = summarize_log(write(tmp_path, ["bad", ""], "none.log"), WINDOW)
    assert (none.lines, none.requests, none.rejected, none.first_time) == (2, 0, 2, None)
    for name in COUNT_FRAMES:
        assert getattr(none, name).is_empty(), name
        assert getattr(none, name).schema == getattr(some, name).schema, name


def test_combining_with_empty_parts_adds_nothing(tmp_path):
    lines = [line(f"h{i % 3}", f"{18 + i % 2}/Aug/1995:0{i % 5}:00:00") for i in range(20)]
    s = summarize_log(write(tmp_path, lines), WINDOW)
    alone = combine([LogSummary(), s, LogSummary()])  # one part with rows: nothing to add up
    twice = combine([s, s])  # added up by group-by
    counted = ("requests", "bytes", "client_errors", "server_errors")
    for name in COUNT_FRAMES:
        one, two = getattr(alone, name), getattr(twice, name)
        assert one.schema == two.schema, name
        doubled = one.with_columns(pl.col(c) * 2 for c in counted if c in one.columns)
        assert doubled.equals(two), name
    for name in ("url_queries", "visitors"):  # distinct: the same, twice
        assert getattr(alone, name).equals(getattr(twice, name)), name
