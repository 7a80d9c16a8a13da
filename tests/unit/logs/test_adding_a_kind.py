"""docs/q1.md's "Adding a parser kind" stays true: its module and its registry lines, taken
from the page and added as it says, make Q1 detect and answer a logfmt log."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from lib.logs.parsing import kinds
from lib.logs.parsing.detect import detect
from lib.logs.parsing.formats import FORMATS, LogFormat
from lib.logs.q1 import answers, run_q1

DOC = Path(__file__).resolve().parents[3] / "docs" / "q1.md"
WINDOW = ("2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00")


def section() -> tuple[str, str, str]:
    """The module, the kinds' registry line and the formats' registry entry, as the page has
    them."""
    text = DOC.read_text(encoding="utf-8")
    part = text.split("### Adding a parser kind", 1)[1].split("\n### ", 1)[0]
    module, lines = re.findall(r"```python\n(.*?)```", part, re.S)
    kind_line, format_entry = re.split(r"\n(?=    \"logfmt\": LogFormat)", lines.strip("\n"))
    return module, kind_line, format_entry


@pytest.fixture
def logfmt(tmp_path, monkeypatch):
    """The page's kind and format, added as it says (the module where Python finds it)."""
    module, kind_line, format_entry = section()
    (tmp_path / "logfmt_from_the_docs.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    name, path = re.match(r'\s*"(\w+)": "([\w.]+)"', kind_line).groups()
    assert path == f"lib.logs.parsing.kinds.{name}"  # where the page puts it
    monkeypatch.setitem(kinds.KINDS, name, "logfmt_from_the_docs")
    key, value = format_entry.split(":", 1)
    fmt = eval(value.strip().rstrip(","), {"LogFormat": LogFormat})  # noqa: S307 - our own page
    monkeypatch.setitem(FORMATS, json.loads(key.strip()), fmt)
    yield fmt
    kinds.load.cache_clear()
    sys.modules.pop("logfmt_from_the_docs", None)


def record(host: str, hour: int, status: int = 200, size: int = 512) -> str:
    request = '"GET /index.html HTTP/1.1"'
    return (
        f"client={host} time=2026-11-30T{hour:02d}:15:00+01:00 request={request} "
        f"status={status} bytes={size}"
    )


def test_the_pages_kind_reads_a_logfmt_log_end_to_end(logfmt, tmp_path):
    lines = [record("198.51.100.7", hour) for hour in range(1, 11)]
    lines += [record("203.0.113.9", 5, status=404), "not logfmt", record("2001:db8::1", 0)]
    lines.append('192.0.2.1 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5')
    log = tmp_path / "access.logfmt"
    log.write_text("\n".join(lines) + "\n")
    assert detect(lines).name == logfmt.name
    result = run_q1(
        log,
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        use_dns=False,
        geo_cache=tmp_path / "geo",
        max_rejected=0.1,  # one line of 14 is not logfmt
    )
    data = answers(result)
    assert data["input"]["formats"] == {str(log): "logfmt"}
    assert (data["total_requests"], data["rejected_lines"]) == (13, 1)
    assert data["requests_per_format"] == {"logfmt": 12, "common": 1}  # a second chance
    assert data["rejected_examples"][0]["line"] == "not logfmt"
    # 00:15 +01:00 is the 29th in UTC: outside the window
    assert [(h["host"], h["requests"]) for h in data["top_hosts"]] == [
        ("198.51.100.7", 10),
        ("192.0.2.1", 1),
        ("203.0.113.9", 1),
    ]


def test_without_the_registry_lines_the_log_is_not_read(tmp_path):
    assert "logfmt" not in kinds.KINDS and "logfmt" not in FORMATS
    assert detect([record("198.51.100.7", 3)]) is None
