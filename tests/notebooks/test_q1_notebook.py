"""Execute notebooks/q1.ipynb with papermill on small inputs and check what it writes."""

import json
import re
from collections import Counter
from datetime import datetime
from html import unescape
from pathlib import Path

import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "q1.ipynb"
CHARTS = [
    "top_hosts.png",
    "coverage_by_method.png",
    "requests_by_country.png",
    "requests_per_hour.png",
    "status_codes.png",
    "errors_per_hour.png",
    "top_urls.png",
    "bytes_by_host.png",
    "visitors_per_day.png",
]
EXTRA_CHARTS = ["top_referrers.png", "top_user_agents.png"]  # when the format has them


def run(tmp_path: Path, **parameters) -> dict:
    out = tmp_path / "out"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "q1.ipynb"),
        parameters={"output_dir": str(out), "use_dns": False, **parameters},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),  # relative paths in the notebook must not depend on the cwd
    )
    for chart in CHARTS:
        assert (out / chart).stat().st_size > 1000, chart
    return json.loads((out / "results.json").read_text())


def printed(notebook: Path) -> str:
    """Every text output of an executed notebook: streams and text/plain results."""
    executed = json.loads(notebook.read_text())
    return "".join(
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in executed["cells"]
        for o in c.get("outputs", [])
    )


def test_committed_notebook_has_no_outputs_and_a_parameters_cell():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    names = [line.split(":")[0] for line in "".join(params[0]["source"]).splitlines()]
    for name in (
        "log_path",
        "early_stopping",
        "window_start",
        "window_end",
        "top_n",
        "output_dir",
    ):
        assert name in names


def test_notebook_on_the_real_slice(tmp_path, nasa_slice):
    start, end = "1995-08-01T00:30:00-04:00", "1995-08-01T01:00:00-04:00"
    data = run(tmp_path, log_path=str(nasa_slice), window_start=start, window_end=end, top_n=5)
    assert data["input"] == {
        "path": str(nasa_slice),
        "files": [str(nasa_slice.resolve())],
        "formats": {str(nasa_slice.resolve()): "common"},  # detected
        "synthetic": False,
        "client": {"rule": "remote"},
    }
    assert data["requests_per_format"] == {"common": 1880}
    assert data["top_referrers"] == data["top_user_agents"] == []  # the format has none
    for chart in EXTRA_CHARTS:  # and so no chart of them, but a line saying why
        assert not (tmp_path / "out" / chart).exists(), chart
    shown = printed(tmp_path / "q1.ipynb")
    assert "the log's format has no referers" in shown
    assert "the log's format has no user agents" in shown
    assert data["engine"]["name"] == "local"  # auto: a small input stays in the kernel
    assert (data["total_requests"], data["rejected_lines"], data["lines"]) == (1880, 1, 1881)
    assert data["rejected_examples"][0]["line"] == "miriwo"

    # The window's top hosts, counted independently of lib with str.split and strptime.
    lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
    counts = Counter()
    for line in nasa_slice.read_text().splitlines()[:-1]:
        host, _, _, stamp, zone = line.split(" ")[:5]
        t = datetime.strptime(stamp[1:] + " " + zone[:-1], "%d/%b/%Y:%H:%M:%S %z")
        if lo <= t < hi:
            counts[host] += 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [(h["host"], h["requests"]) for h in data["top_hosts"]] == expected

    assert data["top_country"]["country"] == "US"
    assert data["coverage"] > 0.40
    assert data["tiers"] == ["ip", "cctld", "us_tld"]
    assert data["dns"] is None


def test_notebook_on_a_small_synthetic_log(tmp_path):
    from lib.logs.datasets.synthetic import generate_log

    log = generate_log(tmp_path / "synthetic.log.gz", lines=20_000, seed=7)
    data = run(tmp_path, log_path=str(log), inferred=True)
    assert data["input"]["synthetic"] is True
    assert data["lines"] == 20_000
    assert data["total_requests"] + data["rejected_lines"] == 20_000
    assert len(data["top_hosts"]) == 10
    counts = [h["requests"] for h in data["top_hosts"]]
    assert counts == sorted(counts, reverse=True)
    assert data["window"]["start"] == "1995-08-18T00:00:00-04:00"
    assert "inferred" in data["tiers"]
    methods = {row["method"]: row for row in data["by_method"]}
    assert sum(row["requests"] for row in methods.values()) == data["total_requests"]


def test_the_notebook_takes_its_caches_from_the_environment(tmp_path, monkeypatch):
    """DNS_CACHE and GEO_CACHE, read in the notebook's first cell, are where the run looks."""
    from lib.logs.datasets.synthetic import generate_log
    from lib.logs.parsing.requests import read_log

    log = generate_log(tmp_path / "synthetic.log.gz", lines=5_000, seed=3)
    hosts = read_log(log, request_parts=False)["host"].unique()
    dns_cache = tmp_path / "elsewhere" / "dns.json"
    dns_cache.parent.mkdir()
    dns_cache.write_text(json.dumps(dict.fromkeys(hosts, "128.159.144.83")))  # all NASA's
    monkeypatch.setenv("DNS_CACHE", str(dns_cache))
    monkeypatch.setenv("GEO_CACHE", str(tmp_path / "geo"))
    data = run(tmp_path, log_path=str(log), use_dns=True, early_stopping=5)
    assert data["dns"]["from_cache"] == data["dns"]["asked"] == data["dns"]["resolved"] == 5
    assert "dns" in data["tiers"]
    assert list((tmp_path / "geo").glob("ip_networks-*.arrow"))


def test_a_log_it_cannot_read_fails_the_notebook_with_one_line(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("2026-11-30 10:00:00 INFO started\nready\n" * 50)
    with pytest.raises(pm.PapermillExecutionError, match="no known log format reads its first"):
        run(tmp_path, log_path=str(log))
    assert not (tmp_path / "out" / "results.json").exists()  # no answer that looks like one


def test_a_bad_window_fails_with_a_clear_error(tmp_path, nasa_slice):
    with pytest.raises(pm.PapermillExecutionError, match="UTC offset"):
        run(tmp_path, log_path=str(nasa_slice), window_start="1995-08-18T00:00:00")


def test_notebook_on_two_months_through_dask(tmp_path):
    """A list of files through the dask engine (its own LocalCluster) gives the local answers."""
    from lib.logs.datasets.synthetic import generate_log
    from lib.logs.q1 import answers, run_q1

    july = generate_log(tmp_path / "jul.log", lines=12_000, seed=5, month=(1995, 7))
    august = generate_log(tmp_path / "aug.log.gz", lines=9_000, seed=6)
    logs = [str(august), str(july)]
    data = run(tmp_path, log_path=logs, engine="dask")
    assert data["engine"]["name"] == "dask" and data["engine"]["scheduler"] == "LocalCluster"
    assert data["input"]["path"] == logs
    expected = answers(run_q1(logs, use_dns=False, engine="local"))
    for key in ("engine", "dns"):
        expected.pop(key), data.pop(key)
    assert data == expected
    assert data["lines"] == 21_000
    executed = json.loads((tmp_path / "q1.ipynb").read_text())
    printed = "".join(
        "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
    )
    assert "Dask: 2 partitions" in printed and "dashboard http" in printed


def combined_log(path: Path) -> Path:
    """A small Combined Log Format log of November 2026 (+0100) with referrers and agents."""
    agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", "curl/8.5.0", "Googlebot/2.1"]
    lines = [
        f"10.0.{i % 9}.{i % 13} - - [{1 + i % 28:02d}/Nov/2026:{i % 24:02d}:00:{i % 60:02d} "
        f'+0100] "GET /p{i} HTTP/1.1" {200 if i % 10 else 404} {i} '
        f'"{f"https://search.example/?q={i % 5}" if i % 4 else "-"}" "{agents[i % 3]}"'
        for i in range(600)
    ]
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_notebook_on_a_combined_log_charts_referrers_and_agents_and_makes_report_html(tmp_path):
    from lib.logs.report.html import main

    log = combined_log(tmp_path / "access.log")
    data = run(
        tmp_path,
        log_path=str(log),
        window_start="2026-11-01T00:00:00+01:00",
        window_end="2026-12-01T00:00:00+01:00",
    )
    assert data["requests_per_format"] == {"combined": 600}
    assert [r["referer"] for r in data["top_referrers"]] == [
        f"https://search.example/?q={q}" for q in range(5)
    ]
    assert {r["user_agent"] for r in data["top_user_agents"]} == {
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        "curl/8.5.0",
        "Googlebot/2.1",
    }
    out = tmp_path / "out"
    for chart in EXTRA_CHARTS:
        assert (out / chart).stat().st_size > 1000, chart
    assert "format has no" not in printed(tmp_path / "q1.ipynb")

    # report.html, as make q1 writes it: python -m lib.logs.report --html NOTEBOOK
    executed = tmp_path / "q1.ipynb"
    assert main(["--html", str(executed), "--output-dir", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    cells = json.loads(executed.read_text())["cells"]
    code = [line.strip() for c in cells if c["cell_type"] == "code" for line in c["source"]]
    assert "run_q1(" in "".join(code)  # the check below looks for something that is there
    text = unescape(re.sub(r"<[^>]+>", "", html))  # what a reader sees, highlighting gone
    for line in code:
        if len(line) > 8:  # "fig", ")": too short to tell code from text
            assert line not in text, line
    assert "hl-ipython3" not in html  # no highlighted input block at all
    assert "Top referrers" not in html  # chart titles are in the images, not the page...
    assert "Referrers and user agents" in html  # ...the markdown is
    sources = re.findall(r"""\bsrc\s*=\s*["']?([^"'\s>]*)""", html)
    assert len(sources) == len(CHARTS) + len(EXTRA_CHARTS)  # every chart, inline
    assert all(src.startswith("data:image/png;base64,") for src in sources), sources
    # Nothing that the page needs is fetched: no script, style sheet, font or module by URL.
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"@import|import\(\s*[\"'](https?:)?//", html, re.I)
    assert "mathjax" not in html.lower() and "cdnjs" not in html.lower()
    # A report made for this log: its name, span and format; no NASA text; tables as tables.
    assert "Q1 — access log: access.log" in text and "Read as: combined (600 requests)" in text
    assert "NASA" not in text and "Hurricane" not in text
    assert "shape:" not in text and "PosixPath" not in text
    assert "<table" in html and "str</th>" not in html


def test_notebook_with_a_state_dir_reads_only_what_is_new(tmp_path, nasa_slice):
    log = tmp_path / "access.log"
    lines = nasa_slice.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:1000]))
    state = str(tmp_path / "state")
    first = run(tmp_path, log_path=str(log), state_dir=state)
    assert first["engine"]["name"] == "state"
    assert first["lines"] == 1000
    with log.open("ab") as out:
        out.write(b"".join(lines[1000:]))
    second = run(tmp_path, log_path=str(log), state_dir=state)
    assert second["lines"] == len(lines)
    (tmp_path / "whole").mkdir()
    whole = run(tmp_path / "whole", log_path=str(nasa_slice))
    for key in ("total_requests", "top_country", "statuses", "top_urls", "unique_visitors"):
        assert second[key] == whole[key], key
