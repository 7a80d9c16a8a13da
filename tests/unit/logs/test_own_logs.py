"""Q1 on a user's own logs: the format detected per file, a format that changes mid-file, the
loud failure when the log cannot be read, the empty window, and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.errors import ConfigError
from lib.logs.errors import LogFormatError
from lib.logs.q1 import answers, headline, run_q1
from tests.support.logs_command import run_logs

WINDOW = {"window_start": "2026-11-30T00:00:00+00:00", "window_end": "2026-12-01T00:00:00+00:00"}


def combined(i: int, agent: str = "Mozilla/5.0", referer: str = "-") -> str:
    return (
        f"10.0.{i % 250}.{i % 7} - - [30/Nov/2026:{i % 24:02d}:00:{i % 60:02d} +0100] "
        f'"GET /p{i} HTTP/1.1" 200 {i} "{referer}" "{agent}"'
    )


def common(i: int) -> str:
    return f'192.0.2.{i % 9} - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.0" 304 -'


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_combined_log_is_detected_and_its_referers_and_agents_counted(tmp_path):
    lines = [combined(i, agent="curl/8" if i % 3 else "Mozilla/5.0") for i in range(300)]
    lines[5] = combined(5, agent="curl/8", referer="https://search.example/?q=a")
    log = write(tmp_path / "access.log", lines)
    data = answers(run_q1(log, use_dns=False, **WINDOW))
    assert data["input"]["formats"] == {str(log): "combined"}
    assert data["requests_per_format"] == {"combined": 300}
    assert data["top_user_agents"] == [
        {"user_agent": "curl/8", "requests": 200},
        {"user_agent": "Mozilla/5.0", "requests": 100},
    ]
    assert data["top_referrers"] == [{"referer": "https://search.example/?q=a", "requests": 1}]
    assert data["first_time"] == "2026-11-29T23:00:00+00:00"  # 00:00 at +0100
    assert data["last_time"] == "2026-11-30T22:00:59+00:00"
    assert data["window"]["requests"] == 300 - 13  # the hour 00 at +0100 is 29 Nov in UTC


def test_the_result_says_which_optional_fields_the_format_records(tmp_path):
    """A Combined log whose referers are all "-" records referers but has none to rank; a
    Common log records neither (the notebook says which, instead of an empty chart)."""
    both = run_q1(write(tmp_path / "a.log", [combined(i) for i in range(50)]), use_dns=False)
    assert both.logged_fields == {"referer", "user_agent"}
    assert both.top_referrers.is_empty()
    assert both.top_user_agents.rows() == [(1, "Mozilla/5.0", 50)]
    neither = run_q1(write(tmp_path / "c.log", [common(i) for i in range(50)]), use_dns=False)
    assert neither.logged_fields == frozenset()
    assert neither.top_referrers.columns == ["rank", "referer", "requests"]


def test_a_format_that_changes_mid_file_loses_no_line(tmp_path):
    lines = [common(i) for i in range(150)] + [combined(i) for i in range(60)]
    log = write(tmp_path / "access.log", lines)
    data = answers(run_q1(log, use_dns=False, **WINDOW))
    assert (data["total_requests"], data["rejected_lines"]) == (210, 0)
    assert data["requests_per_format"] == {"common": 150, "combined": 60}
    assert data["input"]["formats"] == {str(log): "common"}  # what most first lines are in


def test_files_of_different_formats_are_each_read_in_their_own(tmp_path):
    first = write(tmp_path / "a.log", [common(i) for i in range(10)])
    second = write(tmp_path / "b.log", [combined(i) for i in range(20)])
    data = answers(run_q1([first, second], use_dns=False, **WINDOW))
    assert data["input"]["formats"] == {str(first): "common", str(second): "combined"}
    assert data["total_requests"] == 30


def test_a_log_no_format_reads_stops_with_one_line_naming_what_was_tried(tmp_path):
    log = write(tmp_path / "app.log", ["2026-11-30 10:00:00 INFO started", "ready on :8080"])
    with pytest.raises(LogFormatError) as caught:
        run_q1(log, use_dns=False)
    message = str(caught.value)
    assert "\n" not in message
    assert "no known log format reads its first lines" in message
    assert "tried combined, common, vhost_combined" in message
    assert "line 1: '2026-11-30 10:00:00 INFO started', line 2: 'ready on :8080'" in message


def test_too_many_rejected_lines_stop_the_run_with_the_share(tmp_path):
    lines = [combined(i) for i in range(300)] + [f"garbage {i}" for i in range(700)]
    log = write(tmp_path / "access.log", lines)
    with pytest.raises(LogFormatError) as caught:
        run_q1(log, use_dns=False, **WINDOW)
    message = str(caught.value)
    assert message.startswith(
        "70.0% of 1,000 lines rejected (at most 5% allowed: 700 not the file's format)"
    )
    assert "formats tried: combined, common," in message
    assert f"{log}:301: 'garbage 0'; {log}:302: 'garbage 1'" in message
    assert message.endswith(
        "name the log's format with log_format (--format), or allow more with max_rejected "
        "(--max-rejected)"
    )
    allowed = answers(run_q1(log, use_dns=False, max_rejected=0.75, **WINDOW))
    assert (allowed["total_requests"], allowed["rejected_lines"]) == (300, 700)
    with pytest.raises(ConfigError, match="max_rejected"):
        run_q1(log, use_dns=False, max_rejected=1.5)


def test_the_default_allows_five_percent_of_the_lines_rejected_and_no_more(tmp_path):
    for bad, fails in ((50, False), (51, True)):  # of 1,000 lines: 5.0% and 5.1%
        lines = [combined(i) for i in range(1000 - bad)] + [f"garbage {i}" for i in range(bad)]
        log = write(tmp_path / f"{bad}.log", lines)
        if fails:
            with pytest.raises(LogFormatError, match="5.1% of 1,000 lines rejected"):
                run_q1(log, use_dns=False, **WINDOW)
        else:
            assert answers(run_q1(log, use_dns=False, **WINDOW))["rejected_lines"] == bad


def test_a_failed_run_leaves_no_earlier_answers_in_its_output_directory(tmp_path):
    good = write(tmp_path / "good.log", [combined(i) for i in range(40)])
    bad = write(tmp_path / "bad.log", ["garbage"] * 40)
    out = tmp_path / "out"
    options = ["--no-dns", "--output-dir", str(out)]
    env = {"GEO_CACHE": str(tmp_path / "geo")}
    done = run_logs(*options, str(good), env=env)
    assert done.returncode == 0 and (out / "results.json").exists()
    failed = run_logs(*options, str(bad), env=env)
    assert failed.returncode == 1 and len(failed.stderr.strip().splitlines()) == 1
    assert not (out / "results.json").exists()


def test_an_empty_log_is_not_an_answer_of_zero(tmp_path):
    log = write(tmp_path / "empty.log", [])
    with pytest.raises(LogFormatError, match="no lines to read"):
        run_q1(log, use_dns=False)


def test_a_custom_format_string_reads_the_log(tmp_path):
    log = write(
        tmp_path / "custom.log",
        [f"2026-11-30T10:00:{i:02d}+00:00 203.0.113.{i} GET /x 200 {i}" for i in range(30)],
    )
    data = answers(
        run_q1(
            log,
            use_dns=False,
            log_format="$time_iso8601 $remote_addr $request_method $uri $status $body_bytes_sent",
            **WINDOW,
        )
    )
    assert (data["total_requests"], data["requests_per_format"]) == (30, {"custom": 30})
    with pytest.raises(LogFormatError, match="rejected"):
        run_q1(log, use_dns=False, log_format="common")  # told the wrong format: said so


def test_an_empty_window_says_when_the_log_runs(tmp_path):
    log = write(tmp_path / "access.log", [combined(i) for i in range(50)])
    data = answers(run_q1(log, "2025-01-01", "2025-01-31", use_dns=False))
    assert data["window"]["requests"] == 0 and data["top_hosts"] == []
    text = headline(data)
    assert "2. No request in the window 2025-01-01T00:00:00+00:00 <= t < " in text
    assert "set --window-start and --window-end (window_start and window_end" in text
    assert "the log runs from 2026-11-29T23:00:00+00:00 to 2026-11-30T22:00:47+00:00" in text


def test_the_command_line_answers_or_fails_with_one_line(tmp_path):
    write(tmp_path / "access.log", [combined(i) for i in range(20)])
    done = run_logs("access.log", "--no-dns", "--window-start", WINDOW["window_start"],
                    "--window-end", WINDOW["window_end"], "--top-n", "3", "--output-dir", "out",
                    cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1. HTTP requests: 20 (0 of 20 lines rejected as malformed)" in done.stdout
    assert "   read as combined (20)" in done.stdout and "2. Top 3 hosts" in done.stdout
    assert (tmp_path / "out" / "results.json").exists()
    write(tmp_path / "app.log", ["not a log line"] * 5)
    failed = run_logs("app.log", "--no-dns", cwd=tmp_path)
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("error: ")
    assert run_logs("missing.log", cwd=tmp_path).returncode == 1
    assert run_logs("access.log", "--max-rejected", "2", cwd=tmp_path).returncode == 2


def test_the_headline_lists_at_most_thirty_hosts_and_says_where_the_rest_are(tmp_path):
    log = write(tmp_path / "access.log", [combined(i) for i in range(200)])
    data = answers(run_q1(log, use_dns=False, top_n=100, **WINDOW))
    assert len(data["top_hosts"]) == 100
    text = headline(data)
    assert "\n   30. " in text and "\n   31. " not in text
    assert "   ... and 70 more hosts in results.json" in text


def test_rejected_lines_are_counted_by_reason(tmp_path):
    good = [combined(i) for i in range(400)]
    bad = [
        "",
        "   ",
        combined(1).replace("30/Nov", "31/Nov"),  # no 31 November: an impossible value
        "\x01\x02\x03 binary junk",  # control characters, out of any shape
        "\x00" + "x" * 20,
        "a line of another program",
    ]
    log = write(tmp_path / "access.log", good + bad)
    data = answers(run_q1(log, use_dns=False, **WINDOW))
    assert data["rejected_lines"] == 6
    assert data["rejected_by_reason"] == {
        "empty": 2,
        "undecodable bytes": 2,
        "impossible value": 1,
        "not the file's format": 1,
    }
    assert (
        "   rejected: 2 empty, 2 undecodable bytes, 1 impossible value, 1 not the file's format"
        in (headline(data))
    )
