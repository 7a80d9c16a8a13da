"""Servers' lines inside a syslog prefix, Docker's json-file and Kubernetes' CRI log
(lib.logs.parsing.wrappers): detected with no option whatever format is inside, read exactly as
the same lines unwrapped, a container's standard error left out, pieces of split lines and
lines of no wrapper rejected as they are in the file, and the wrapped format named on the
command line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC

import polars as pl
import pytest

from lib.errors import ConfigError
from lib.logs.counting.parsed import summarize_lines
from lib.logs.parsing.detect import detect
from lib.logs.parsing.formats import FORMATS, FormatChoice, log_format
from lib.logs.parsing.wrappers import WRAPPERS, unwrap, unwrap_line
from lib.logs.q1 import answers, run_q1
from lib.logs.window import Window
from tests.support.log_corpus import (
    VARIANTS,
    WINDOW,
    go_json,
    go_time,
    syslog_time,
    window_args,
    write_lines,
)
from tests.support.logs_command import run_logs
from tests.support.summaries import FRAMES

SUMMARY_WINDOW = Window.parse(*(end.isoformat() for end in WINDOW))
# Variants of every parser kind: Combined (its own kind), format strings and layouts (regex),
# JSON lines (json).
INSIDE = ("nginx_combined", "apache_vhost_common", "ingress_nginx", "haproxy", "squid",
          "aws_alb", "nginx_json", "caddy_json")  # fmt: skip


def _at(index: int):
    return WINDOW[0].astimezone(UTC).replace(microsecond=index * 7919 % 1_000_000)


# How each wrapper carries a line: the line's index and text -> the wrapped line.
CARRIERS = {
    "rfc3164": lambda i, line: f"{syslog_time(WINDOW[0])} web{i % 3} nginx: {line}",
    "rfc3164_pid_no_host": lambda i, line: f"<190>{syslog_time(WINDOW[0])} nginx[{i}]: {line}",
    "rsyslog_iso": lambda i, line: f"{WINDOW[0].isoformat()} web1 nginx[77]: {line}",
    "rfc5424": lambda i, line: (
        f"<134>1 {go_time(_at(i))} web1 nginx 77 access "
        f'[meta sequenceId="{i}"][origin ip="10.0.0.9"] {line}'
    ),
    "docker": lambda i, line: go_json(
        {"log": line + "\n", "stream": "stdout", "time": go_time(_at(i))}
    ),  # fmt: skip
    "cri": lambda i, line: f"{go_time(_at(i))} stdout F {line}",
}
WRAPPER_OF = {"docker": "docker", "cri": "cri"}  # the others are syslog's


def requests_of(variant: str) -> list[str]:
    return [line for line in VARIANTS[variant].lines() if not line.startswith("#")]


def same_counts(wrapped, plain) -> None:
    for name in ("lines", "requests", "rejected", "bytes_sent", "first_time", "last_time"):
        assert getattr(wrapped, name) == getattr(plain, name), name
    for name in FRAMES:
        if name != "formats":
            keys = getattr(plain, name).columns  # all: a sample has rows of the same day
            assert getattr(wrapped, name).sort(keys).equals(getattr(plain, name).sort(keys)), name


@pytest.mark.parametrize("carrier", list(CARRIERS))
@pytest.mark.parametrize("variant", INSIDE)
def test_a_wrapped_log_is_detected_and_read_as_its_lines_unwrapped(carrier, variant):
    plain = requests_of(variant)
    lines = [CARRIERS[carrier](i, line) for i, line in enumerate(plain)]
    found = detect(lines[:200])
    inner = detect(plain[:200])
    assert found is not None and inner is not None
    assert found.name == f"{WRAPPER_OF.get(carrier, 'syslog')}+{inner.name}"
    assert found.accelerator is None and found.inner == inner
    text = ("\n".join(lines) + "\n").encode()
    summary = summarize_lines(text, SUMMARY_WINDOW, FormatChoice.of(found))
    reference = summarize_lines(("\n".join(plain) + "\n").encode(), SUMMARY_WINDOW,
                                FormatChoice.of(inner))  # fmt: skip
    assert summary.requests == len(plain) and summary.rejected == 0
    same_counts(summary, reference)
    assert summary.formats.rows() == [(found.name, len(plain))]


def test_standard_error_is_left_out_and_split_or_foreign_lines_are_rejected_whole():
    plain = requests_of("nginx_combined")[:6]
    docker = [CARRIERS["docker"](i, line) for i, line in enumerate(plain)]
    cri = [CARRIERS["cri"](i, line) for i, line in enumerate(plain)]
    error = "2026/11/30 10:00:00 [error] 29#29: *1 open() failed (2: No such file or directory)"
    docker += [
        go_json({"log": error + "\n", "stream": "stderr", "time": go_time(_at(9))}),
        go_json({"log": plain[0][:30], "stream": "stdout", "time": go_time(_at(9))}),  # a piece
        "not json at all",
        '{"log": 5, "stream": "stdout"}',
    ]
    cri += [
        f"{go_time(_at(9))} stderr F {error}",
        f"{go_time(_at(9))} stdout P {plain[0][:30]}",  # a piece: CRI writes P, then F
        plain[1],  # no wrapper
    ]
    for name, lines in (("docker", docker), ("cri", cri)):
        fmt = log_format(f"{name}+combined")
        summary = summarize_lines(("\n".join(lines) + "\n").encode(), SUMMARY_WINDOW,
                                  FormatChoice.of(fmt))  # fmt: skip
        assert summary.requests == len(plain), name
        shown = summary.rejected_examples.get_column("line").to_list()
        foreign = [line for line in lines[len(plain) + 1 :]]
        assert summary.rejected == len(foreign), name
        assert shown == foreign, name  # as they are in the file, wrapper and all
        assert summary.lines == len(lines), name


def test_unwrapping_in_python_and_in_polars_agree():
    samples = [
        CARRIERS[carrier](i, line)
        for carrier in CARRIERS
        for i, line in enumerate(requests_of("apache_combined")[:3])
    ]
    samples += ["", "Nov 30 10:00:00 host: no tag here", '{"log":"x"}', "<999>garbage",
                f"{go_time(_at(1))} stdout F ",
                '{"log":"a\\"b\\n","stream":"stderr"}']  # fmt: skip
    for wrapper in WRAPPERS.values():
        python = [unwrap_line(wrapper, line) for line in samples]
        frame = unwrap(wrapper, pl.Series("line", samples, dtype=pl.String))
        assert frame.get_column("inner").to_list() == [one.line for one in python], wrapper.name
        assert frame.get_column("stderr").to_list() == [one.stderr for one in python], wrapper.name


def test_json_escapes_inside_docker_lines_are_decoded_once():
    line = requests_of("nginx_combined")[0]
    carried = json.dumps({"log": line + "\n", "stream": "stdout", "time": "x"})
    assert unwrap_line(WRAPPERS["docker"], carried).line == line


def test_a_wrapped_format_is_named_on_the_command_line(tmp_path):
    plain = requests_of("nginx_combined")
    log = write_lines(tmp_path / "syslog.log", [CARRIERS["rfc3164"](i, x) for i, x in
                                                 enumerate(plain)])  # fmt: skip
    named = answers(run_q1(log, use_dns=False, log_format="syslog+combined", **window_args()))
    detected = answers(run_q1(log, use_dns=False, **window_args()))
    assert (
        named["input"]["formats"] == detected["input"]["formats"] == {str(log): "syslog+combined"}
    )
    assert named["total_requests"] == detected["total_requests"] == len(plain)
    assert named["top_hosts"] == detected["top_hosts"]
    custom = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
    cli = run_logs(str(log), "--no-dns", "--format", f"cri+{custom}", cwd=tmp_path)
    assert cli.returncode == 3 and len(cli.stderr.splitlines()) == 1, cli.stderr  # all rejected


def test_a_format_its_header_declares_cannot_be_wrapped():
    with pytest.raises(ConfigError, match="cannot be read inside"):
        log_format("syslog+w3c")
    assert log_format("docker+nginx_json").inner == FORMATS["nginx_json"]
    with pytest.raises(ConfigError, match="unknown log format"):
        log_format("rsyslog+combined")


def test_a_wrapped_format_keeps_its_second_chances_inside_the_wrapper():
    choice = FormatChoice.of(log_format("cri+combined"))
    assert all(other.wrapper == "cri" for other in choice.others)
    assert "cri+common" in choice.names and "cri+combined" not in choice.names[1:]
    assert replace(choice.primary, name="x").inner == FORMATS["combined"]
