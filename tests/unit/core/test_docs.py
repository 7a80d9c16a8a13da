"""What the README and docs/ name exists: every path in the repository, every link, every
``make`` target and every ``python -m`` module; and the README stays a short guide."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = r"(?:lib|notebooks|sql|service|tests|bench|scripts|docs|\.ci)"
_PATH = re.compile(rf"(?<![\w./-])({TOP}/[\w./-]*[\w/]|\.env\.example|environment\.yml|Makefile)")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_MAKE = re.compile(r"\bmake ([a-z][\w-]*)")
_MODULE = re.compile(r"python -m ([\w.]+)")


def text(doc: Path) -> str:
    return doc.read_text(encoding="utf-8")


def named_paths(source: str) -> set[str]:
    """Repository paths named in ``source``; globs and placeholders are not paths."""
    return {p.rstrip(".") for p in _PATH.findall(source) if not set(p) & set("*<>{}")}


def ids(docs: list[Path]) -> list[str]:
    return [str(d.relative_to(ROOT)) for d in docs]


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_every_path_named_exists(doc):
    missing = sorted(p for p in named_paths(text(doc)) if not (ROOT / p).exists())
    assert not missing, f"{doc.name} names {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_every_link_leads_somewhere(doc):
    targets = [t for t in _LINK.findall(text(doc)) if "://" not in t]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert not missing, f"{doc.name} links to {missing}"
    for target, anchor in re.findall(r"\]\(([^)#\s]+)#([^)\s]+)\)", text(doc)):
        headings = re.findall(r"^#+ (.+)$", text(doc.parent / target), re.M)
        slugs = {re.sub(r"[^\w -]", "", h).strip().lower().replace(" ", "-") for h in headings}
        assert anchor in slugs, f"{doc.name}: no heading #{anchor} in {target}"


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_every_make_target_named_exists(doc):
    makefile = text(ROOT / "Makefile")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    missing = sorted(set(_MAKE.findall(text(doc))) - targets)
    assert not missing, f"{doc.name} names make targets {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=ids(DOCS))
def test_every_python_module_named_can_be_run(doc):
    sys.path.insert(0, str(ROOT))  # python -m from the repository root finds service/ there
    try:
        missing = [m for m in _MODULE.findall(text(doc)) if importlib.util.find_spec(m) is None]
    finally:
        sys.path.remove(str(ROOT))
    assert not missing, f"{doc.name} names modules {missing}"


def test_the_readme_is_a_short_guide_linking_each_capability():
    readme = text(ROOT / "README.md")
    assert len(readme.splitlines()) <= 150
    for page in ("q1", "q2", "q3", "operations", "benchmarks"):
        assert f"docs/{page}.md" in readme


def test_the_checks_can_fail():
    assert named_paths("see `lib/nowhere.py` and sql/votes/schema.sql.") == {
        "lib/nowhere.py",
        "sql/votes/schema.sql",
    }
    assert named_paths("logs/*.gz, <scheduler>/x, data/cache") == set()
    assert _MAKE.findall("run make q1 then make nothing-here") == ["q1", "nothing-here"]
