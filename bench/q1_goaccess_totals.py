"""Q1's total requests beside GoAccess's and the oracle's, on the deployment corpus
(``tests/support/log_corpus.py``): a third opinion, computed by neither.

    python bench/q1_goaccess_totals.py [--json OUT] [VARIANT ...]

For each variant that a GoAccess log format reads (its predefined ones, ``COMBINED``, ``W3C``,
``AWSALB``..., or a format string where none fits; some variants have both), the log is written
plain into a temporary folder, GoAccess reads it (``-o report.json``: ``general.valid_requests``)
and so does Q1 (``run_q1``, no DNS, with the options the variant's operator must give: its
total, or ``refused``). Prints a table: the variant,
GoAccess's format, GoAccess's valid requests, the oracle's total, Q1's, and whether all three
agree, with what is known of a disagreement. Disagreements are reported, not forced away:
GoAccess has quirks of its own (an IPv6 client before ``:port`` is cut at its first colon, a
field ending in a backslash swallows the next, its ``W3C`` reads IIS's default fields whatever
``#Fields:`` says, its ``SQUID`` and ``AWSELB`` expect other layouts than Squid's native log and
a Classic Load Balancer's). Without ``goaccess`` on the PATH it says so and exits 0, having
compared nothing. Exits 0 whatever the table says.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.support, when run as a script

from lib.logs.errors import LogFormatError  # noqa: E402
from lib.logs.q1 import run_q1  # noqa: E402
from tests.support.log_corpus import VARIANTS, window_args, write_log  # noqa: E402

CLF_TIME = ("--date-format=%d/%b/%Y", "--time-format=%T")
COMBINED_TAIL = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u"'
ISO_TIME = ("--datetime-format=%Y-%m-%dT%H:%M:%S%z",)
# variant -> (label, GoAccess's arguments) for each GoAccess format tried on it
GOACCESS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "apache_common": [("COMMON", ("--log-format=COMMON",))],
    "apache_combined": [("COMBINED", ("--log-format=COMBINED",))],
    "apache_vhost_common": [
        ("VCOMMON", ("--log-format=VCOMMON",)),
        ("custom", ('--log-format=%v %h %^[%d:%t %^] "%r" %s %b', *CLF_TIME)),
    ],
    "apache_vhost_combined": [("VCOMBINED", ("--log-format=VCOMBINED",))],
    "apache_combined_duration": [("COMBINED", ("--log-format=COMBINED",))],
    "apache_combined_xff": [("custom", (f"--log-format=~h{{, }} {COMBINED_TAIL[3:]}", *CLF_TIME))],
    "nginx_combined": [("COMBINED", ("--log-format=COMBINED",))],
    "nginx_main": [("COMBINED", ("--log-format=COMBINED",))],
    "nginx_main_behind_lb": [("COMBINED", ("--log-format=COMBINED",))],
    "nginx_request_time": [("COMBINED", ("--log-format=COMBINED",))],
    "nginx_upstream_host": [("COMBINED", ("--log-format=COMBINED",))],
    "nginx_host_combined": [("custom", (f"--log-format=%v {COMBINED_TAIL}", *CLF_TIME))],
    "nginx_json": [
        (
            "custom JSON",
            (
                '--log-format={"time":"%x","remote_addr":"%h","request":"%r","status":"%s",'
                '"body_bytes_sent":"%b","http_referer":"%R","http_user_agent":"%u"}',
                *ISO_TIME,
            ),
        )
    ],
    "ingress_nginx": [("COMBINED", ("--log-format=COMBINED",))],
    "varnishncsa": [("COMBINED", ("--log-format=COMBINED",))],
    "lighttpd": [("COMBINED", ("--log-format=COMBINED",))],
    "traefik_clf": [("COMBINED", ("--log-format=COMBINED",))],
    "traefik_json": [
        (
            "custom JSON",
            (
                '--log-format={"ClientHost":"%h","RequestMethod":"%m","RequestPath":"%U",'
                '"RequestProtocol":"%H","DownstreamStatus":"%s","DownstreamContentSize":"%b",'
                '"time":"%x"}',
                *ISO_TIME,
            ),
        )
    ],
    "caddy_json": [("CADDY", ("--log-format=CADDY",))],
    "caddy_json_behind_lb": [("CADDY", ("--log-format=CADDY",))],
    "haproxy": [
        (
            "custom",
            ('--log-format=%h:%^ [%d:%t.%^] %^ %^ %^ %s %b %^ %^ %^ %^ %^ "%r"', *CLF_TIME),
        )
    ],
    "haproxy_syslog": [
        (
            "custom",
            (
                '--log-format=%^ %^ %^ %^ %^ %h:%^ [%d:%t.%^] %^ %^ %^ %s %b %^ %^ %^ %^ %^ "%r"',
                *CLF_TIME,
            ),
        )
    ],
    "squid": [
        ("SQUID", ("--log-format=SQUID",)),
        ("custom", ("--log-format=%x.%^ %~%L %h %^/%s %b %m %U", "--datetime-format=%s")),
    ],
    "aws_alb": [("AWSALB", ("--log-format=AWSALB",))],
    "aws_elb": [
        ("AWSELB", ("--log-format=AWSELB",)),
        (
            "custom",
            (
                '--log-format=%dT%t.%^ %^ %h:%^ %^ %^ %T %^ %s %^ %^ %b "%r" "%u" %^',
                "--date-format=%Y-%m-%d",
                "--time-format=%T",
            ),
        ),
    ],
    "aws_s3": [("AWSS3", ("--log-format=AWSS3",))],
    "cloudfront": [("CLOUDFRONT", ("--log-format=CLOUDFRONT",))],
    "iis": [("W3C", ("--log-format=W3C",))],
    "iis_three_blocks": [("W3C", ("--log-format=W3C",))],
    "syslog_combined": [("custom", (f"--log-format=%^ %^ %^ %^ %^ {COMBINED_TAIL}", *CLF_TIME))],
    "cri_combined": [("custom", (f"--log-format=%^ %^ %^ {COMBINED_TAIL}", *CLF_TIME))],
    # docker_json_combined: no GoAccess format unwraps the "log" value (a JSON format naming
    # it stops GoAccess 1.7 with "Fatal error ... set_spec_date_format")
}
# What is known of a disagreement, seen with GoAccess 1.7 (the numbers are measured each run).
KNOWN = {
    ("apache_vhost_common", "VCOMMON"): "GoAccess's VCOMMON wants %v:%p; Apache's vhost_common "
    "has no port",
    ("haproxy", "custom"): "IPv6 clients: %h:%^ cuts the address at its first colon",
    ("haproxy_syslog", "custom"): "IPv6 clients, and syslog's space-padded day (`Dec  1`) adds "
    "a field",
    ("squid", "SQUID"): "GoAccess's SQUID expects a syslog prefix before Squid's native line",
    ("aws_alb", "AWSALB"): "IPv6 clients: client:port is cut at the first colon",
    ("aws_elb", "AWSELB"): "GoAccess's AWSELB expects a leading type field (an ALB's layout)",
    ("aws_elb", "custom"): "IPv6 clients: client:port is cut at the first colon",
    ("iis", "W3C"): "a user agent ending in a backslash (`EndsInABackslash\\`) fails the line",
    ("iis_three_blocks", "W3C"): "GoAccess's W3C reads IIS's default fields only, and the "
    "backslash agent",
    ("syslog_combined", "custom"): "syslog's space-padded day (`Dec  1`) adds a field",
}


def goaccess_total(log: Path, args: tuple[str, ...], folder: Path) -> int | str:
    """GoAccess's valid requests on ``log``, or what went wrong (one line)."""
    report = folder / "report.json"
    report.unlink(missing_ok=True)
    run = subprocess.run(
        ["goaccess", str(log), *args, "--no-progress", "--no-global-config", "-o", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if run.returncode or not report.exists():
        specifier = re.search(r"doesn't match specifier '([^']*)'", run.stderr)
        if specifier:
            return f"refused: a token fails {specifier.group(1)}"
        return f"error: exit {run.returncode}"
    return json.loads(report.read_text())["general"]["valid_requests"]


OPTION_KEYWORDS = {"--format": "log_format", "--client": "client"}  # as run_q1 takes them


def q1_total(log: Path, folder: Path, options: tuple[str, ...] = ()) -> int | str:
    """Q1's total for ``log`` with the variant's ``options`` (what its operator must say)."""
    pairs = zip(options[::2], options[1::2], strict=True)
    keywords = {OPTION_KEYWORDS[flag]: value for flag, value in pairs}
    try:
        result = run_q1(log, use_dns=False, geo_cache=folder / "geo", **window_args(), **keywords)
    except LogFormatError:
        return "refused"
    return result.summary.requests


def compare(names: list[str], folder: Path) -> list[dict]:
    rows = []
    for name in names:
        log = write_log(name, folder / f"{name}.log")
        oracle = VARIANTS[name].expected()["total_requests"]
        q1 = q1_total(log, folder, VARIANTS[name].options)
        for label, args in GOACCESS.get(name, [("none", ())]):
            theirs = goaccess_total(log, args, folder) if args else "no format reads it"
            rows.append(
                {
                    "variant": name,
                    "goaccess_format": label,
                    "goaccess": theirs,
                    "oracle": oracle,
                    "q1": q1,
                    "goaccess_agrees": theirs == oracle,
                    "q1_agrees": q1 == oracle,
                    "known": KNOWN.get((name, label), ""),
                    "arguments": list(args),
                }
            )
    return rows


def table(rows: list[dict]) -> str:
    head = "| variant | GoAccess format | GoAccess | oracle | Q1 | agree | known |"
    lines = [head, "|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        agree = {
            (True, True): "all",
            (True, False): "GoAccess",
            (False, True): "Q1",
            (False, False): "neither",
        }
        lines.append(
            f"| {row['variant']} | {row['goaccess_format']} | {row['goaccess']} | "
            f"{row['oracle']} | {row['q1']} | {agree[row['goaccess_agrees'], row['q1_agrees']]} "
            f"| {row['known']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", nargs="*", help="variants to compare (default: all)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if shutil.which("goaccess") is None:
        print("goaccess is not installed (apt-get install goaccess): nothing compared")
        return 0
    unknown = set(args.variant) - set(VARIANTS)
    if unknown:
        parser.error(f"no such variant: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="q1_goaccess_") as folder:
        rows = compare(args.variant or list(VARIANTS), Path(folder))
    version = subprocess.run(["goaccess", "--version"], capture_output=True, text=True)
    print(f"{version.stdout.splitlines()[0]}; the oracle is tests/support/log_corpus.py\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
