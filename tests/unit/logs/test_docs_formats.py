"""docs/q1.md lists every registered format and wrapper with one line of it, and each line is
detected as the format it is listed under: the page cannot drift from the registry."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from lib.logs.parsing.detect import detect
from lib.logs.parsing.formats import FORMATS
from lib.logs.parsing.wrappers import WRAPPERS

PAGE = Path(__file__).resolve().parents[3] / "docs" / "q1.md"


def listed() -> tuple[set[str], list[tuple[str, str]]]:
    """The names in the page's tables, and its sample lines as (name, line)."""
    text = PAGE.read_text(encoding="utf-8")
    names = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.MULTILINE))
    block = text.split("One line of each", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    samples = [tuple(line.split(": ", 1)) for line in block.splitlines()]
    return names, samples  # type: ignore[return-value]


def test_every_format_and_wrapper_is_listed_with_a_line():
    names, samples = listed()
    assert set(FORMATS) <= names and set(WRAPPERS) <= names
    assert {name for name, _ in samples} >= set(FORMATS)
    assert {name.split("+")[0] for name, _ in samples if "+" in name} == set(WRAPPERS)


def test_each_sample_line_is_detected_as_its_format():
    _, samples = listed()
    lines: dict[str, list[str]] = {}
    for name, line in samples:
        lines.setdefault(name, []).append(line)
    for name, given in lines.items():
        found = detect(given)
        assert found is not None and found.name == name, (name, found and found.name)
        if found.header is None:
            requests, rejected = found.parse_lines(pl.Series(given))
        else:
            requests, rejected = found.parse_lines(pl.Series(given[1:]))
        assert (requests.height, rejected.height) == (1, 0), name
