"""What ``python -m lib.logs`` promises a script: ``--json`` prints the whole result as
``docs/q1-results.schema.json`` describes it (the same as results.json), the exit codes say what
happened (0 answered, 1 failed, 2 a usage error before any log is read, 3 too many lines
rejected), every bad option is one line naming it, ``--help`` shows the defaults, and a window
may be a date, open at an end, or not given (the whole log; the NASA log's question window)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from lib.errors import ConfigError
from lib.logs.q1 import answers, run_q1
from tests.support.log_corpus import VARIANTS, WINDOW, expected, write_lines, write_log
from tests.support.logs_command import ROOT, run_logs

SCHEMA = json.loads((ROOT / "docs" / "q1-results.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def valid(data: dict) -> dict:
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in VALIDATOR.iter_errors(data)]
    assert not errors, errors
    return data


def test_the_schema_is_a_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("apache_combined", ()),
        ("iis_three_blocks", ("--window-start", WINDOW[0].isoformat())),
        ("caddy_json", ("--window-end", WINDOW[1].isoformat(), "--top-n", "3")),
        ("nginx_main_behind_lb", ("--format", VARIANTS["nginx_main_behind_lb"].options[1],
                                  "--client", "forwarded", "--trusted-proxies", "10.0.0.0/8")),
    ],
)  # fmt: skip
def test_json_is_the_whole_result_and_results_json_the_same(variant, options, tmp_path):
    log = write_log(VARIANTS[variant], tmp_path / f"{variant}.log")
    out = tmp_path / "out"
    cli = run_logs(str(log), "--no-dns", "--json", "--output-dir", str(out), *options,
                   cwd=tmp_path, env={"GEO_CACHE": str(tmp_path / "geo")})  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    printed = valid(json.loads(cli.stdout))
    written = valid(json.loads((out / "results.json").read_text(encoding="utf-8")))
    printed["engine"].pop("seconds"), written["engine"].pop("seconds")
    assert printed == written
    assert printed["total_requests"] == len(VARIANTS[variant].records())
    assert sum(printed["status_classes"].values()) == printed["total_requests"]
    assert sum(printed["statuses"].values()) == printed["total_requests"]


def test_a_result_with_rejected_lines_and_dns_fits_the_schema(tmp_path):
    lines = VARIANTS["apache_common"].lines()[:400]
    log = write_lines(tmp_path / "a.log", [*lines, "", "garbage line", '1.2.3.4 - - [x] "GET /"'])
    data = answers(run_q1(log, use_dns=False, geo_cache=tmp_path / "geo"))
    assert data["rejected_lines"] == 3 and len(data["rejected_examples"]) == 3
    valid(data)
    valid({**data, "dns": {"available": False, "message": "no network", "asked": 3,
                           "resolved": 0, "not_found": 0, "failed": 3, "from_cache": 0,
                           "seconds": 0.01}})  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate({**data, "surprise": 1})  # a new key needs a new schema version


def test_exit_codes_say_what_happened(tmp_path):
    good = write_log(VARIANTS["apache_combined"], tmp_path / "good.log")
    bad = write_lines(tmp_path / "bad.log", ["not a log line"] * 30 + VARIANTS["apache_combined"]
                      .lines()[:100])  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}", encoding="utf-8")
    runs = {
        0: run_logs(str(good), "--no-dns", cwd=tmp_path),
        1: run_logs(str(tmp_path / "missing.log"), "--no-dns", cwd=tmp_path),
        2: run_logs(str(good), "--top-n", "0", cwd=tmp_path),
        3: run_logs(str(bad), "--no-dns", "--format", "combined", "--output-dir", str(out),
                    cwd=tmp_path),
    }  # fmt: skip
    for code, run in runs.items():
        assert run.returncode == code, (code, run.stderr)
        if code:
            assert run.stdout == "" and len(run.stderr.splitlines()) == 1, run.stderr
            assert run.stderr.startswith("error: "), run.stderr
    assert "rejected" in runs[3].stderr and not (out / "results.json").exists()
    allowed = run_logs(str(bad), "--no-dns", "--max-rejected", "0.3", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--top-n", "0", "--top-n"),
        ("--top-n", "ten", "--top-n"),
        ("--early-stopping", "-1", "--early-stopping"),
        ("--max-rejected", "2", "--max-rejected"),
        ("--window-start", "2026-05-12T04:00", "--window-start"),
        ("--window-start", "2026-13-40", "--window-start"),
        ("--window-end", "yesterday", "--window-end"),
        ("--format", "%q %nonsense", "--format"),
        ("--format", "rsyslog+combined", "--format"),
        ("--trusted-proxies", "10.0.0.0/33", "--trusted-proxies"),
        ("--engine", "spark", "--engine"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_before_any_log_is_read(option, value, named, tmp_path):
    # the log does not exist: a usage error must be found before anything is read
    run = run_logs(str(tmp_path / "never-read.log"), option, value, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.splitlines()) == 1 and named in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_a_window_whose_end_is_not_after_its_start_is_a_usage_error(tmp_path):
    run = run_logs("x.log", "--window-start", "2026-05-12", "--window-end", "2026-05-11",
                   cwd=tmp_path)  # fmt: skip
    assert run.returncode == 2 and "--window-start" in run.stderr and "--window-end" in run.stderr


def test_the_hint_for_a_time_without_offset_works_when_pasted(tmp_path):
    log = write_log(VARIANTS["apache_combined"], tmp_path / "a.log")
    run = run_logs(str(log), "--no-dns", "--window-start", "2026-11-30T04:00", cwd=tmp_path)
    hint = run.stderr.split("e.g. ", 1)[1].split(";")[0]
    again = run_logs(str(log), "--no-dns", "--window-start", hint, cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_help_shows_the_defaults_and_the_exit_codes():
    shown = " ".join(run_logs("--help").stdout.split())
    for default in ("(default: 10)", "(default: 50)", "(default: 0.05)", "(default: auto)"):
        assert default in shown
    assert "Exit codes: 0 answered" in shown


def day_answers(records, day: datetime) -> dict:
    return expected(records, (day, day + timedelta(days=1)))


def test_a_date_alone_is_a_day_in_utc_and_an_end_may_be_left_open(tmp_path):
    variant = VARIANTS["apache_combined"]
    log = write_log(variant, tmp_path / "a.log")
    records = variant.records()
    day = datetime(2026, 11, 30, tzinfo=UTC)
    data = answers(run_q1(log, "2026-11-30", "2026-11-30", use_dns=False))
    want = day_answers(records, day)
    assert data["window"]["start"] == "2026-11-30T00:00:00+00:00"
    assert data["window"]["end"] == "2026-12-01T00:00:00+00:00"
    assert (data["window"]["requests"], data["top_hosts"]) == (want["window_requests"],
                                                               want["top_hosts"])  # fmt: skip
    after = answers(run_q1(log, window_start="2026-11-30", use_dns=False))
    end = datetime.max.replace(tzinfo=UTC)
    assert after["window"]["end"] is None
    assert after["window"]["requests"] == expected(records, (day, end))["window_requests"]


def test_no_window_is_the_whole_log_and_the_nasa_log_keeps_its_question(tmp_path):
    variant = VARIANTS["apache_common"]
    other = write_log(variant, tmp_path / "access.log")
    data = answers(run_q1(other, use_dns=False))
    assert data["window"] == {"start": None, "end": None, "origin": "the whole log",
                              "half_open": True, "requests": len(variant.records())}  # fmt: skip
    cli = run_logs(str(other), "--no-dns", cwd=tmp_path)
    assert "the whole log (no window given)" in cli.stdout and "1995" not in cli.stdout
    nasa = write_lines(tmp_path / "NASA_access_log_Aug95", [
        '199.72.81.55 - - [17/Aug/1995:23:59:59 -0400] "GET / HTTP/1.0" 200 6245',
        '199.72.81.55 - - [18/Aug/1995:00:00:00 -0400] "GET / HTTP/1.0" 200 6245',
        'unicomp6.unicomp.net - - [20/Aug/1995:23:59:59 -0400] "GET / HTTP/1.0" 200 3985',
        'unicomp6.unicomp.net - - [21/Aug/1995:00:00:00 -0400] "GET / HTTP/1.0" 200 3985',
    ])  # fmt: skip
    question = answers(run_q1(nasa, use_dns=False))["window"]
    assert (question["start"], question["end"]) == ("1995-08-18T00:00:00-04:00",
                                                    "1995-08-21T00:00:00-04:00")  # fmt: skip
    assert question["requests"] == 2 and question["origin"].startswith("the NASA question")


def test_the_notebook_parameters_are_named_in_their_errors(tmp_path):
    log = write_log(VARIANTS["apache_common"], tmp_path / "a.log")
    for keywords, named in (
        ({"top_n": 0}, "top_n"),
        ({"early_stopping": -1}, "early_stopping"),
        ({"window_start": "2026-11-30T04:00"}, "window_start"),
        ({"max_rejected": 1.5}, "max_rejected"),
    ):
        with pytest.raises(ConfigError, match=named):
            run_q1(log, use_dns=False, **keywords)


def test_files_named_like_nasa_but_not_all_take_the_whole_log(tmp_path):
    nasa = write_log(VARIANTS["apache_common"], tmp_path / "NASA_access_log_Jul95")
    other = write_log(VARIANTS["apache_common"], tmp_path / "other.log")
    data = answers(run_q1([str(nasa), str(other)], use_dns=False))
    assert data["window"]["origin"] == "the whole log"
    assert Path(nasa).name.startswith("NASA_access_log_")


def test_make_q1_passes_a_format_with_dollars_as_typed(tmp_path):
    """``make q1 LOG_FORMAT='$remote_addr ...'``: make would expand ``$r``; the recipe takes the
    value as typed (``make -n`` prints the command it would run)."""
    typed = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
    run = subprocess.run(
        ["make", "-n", "-o", "venv", "q1", f"LOG={tmp_path / 'x.log'}", f"LOG_FORMAT={typed}",
         f"OUT_DIR={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"-p log_format '{typed}'" in run.stdout, run.stdout
