"""The layout holds: each capability imports only the core and itself; the core imports no
capability; each notebook and service imports only the capability it serves (and the core); no
module of lib/ imports, however indirectly, one that imports it back.

Read from the source with ``ast`` (imports inside functions too; those under ``if
TYPE_CHECKING:`` are for annotations only and left out), so it costs milliseconds.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIB = ROOT / "lib"
CAPABILITIES = sorted(p.name for p in LIB.iterdir() if (p / "__init__.py").exists())
CORE = sorted(p.stem for p in LIB.glob("*.py") if p.stem != "__init__")
# What each caller outside lib/ serves. A new notebook or service module must be listed here.
SERVES = {
    "notebooks/q1.ipynb": "logs",
    "notebooks/q2.ipynb": "clickstream",
    "service/kiosk.py": "votes",
    "service/kiosk_server.py": "votes",
    "service/http_framing.py": "votes",
    "service/openapi.py": "votes",
    "service/results_writer.py": "votes",
    "service/worker.py": "votes",
    "service/writer_supervisor.py": "votes",
    "service/__init__.py": "votes",
}


def imported_modules(source: str) -> set[str]:
    """Every module an import statement in ``source`` names (``from lib import x`` -> lib.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)  # and what it takes, which may be modules themselves
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def notebook_source(path: Path) -> str:
    """The Python in a notebook's code cells: cell magics (``%%sql``), line magics and shell
    lines are left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    lines = [
        line
        for source in sources
        if not source.startswith("%%")
        for line in source.splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return "\n".join(lines)


def project_imports(path: Path) -> set[str]:
    """The project's own packages (``lib``, ``service``, ``tests``, ``bench``) that ``path``
    imports, as ``lib.<core module>``, ``lib.<capability>``, ``service``, ..."""
    source = notebook_source(path) if path.suffix == ".ipynb" else path.read_text("utf-8")
    named = set()
    for module in imported_modules(source):
        parts = module.split(".")
        if parts[0] == "lib":
            named.add(".".join(parts[:2]))
        elif parts[0] in ("service", "tests", "bench"):
            named.add(parts[0])
    return named


def allowed(capability: str | None, *extra: str) -> set[str]:
    core = {f"lib.{name}" for name in CORE} | {"lib"}
    return core | ({f"lib.{capability}"} if capability else set()) | set(extra)


def test_the_layout_is_what_this_test_expects():
    assert CAPABILITIES == ["clickstream", "logs", "votes"]
    assert {"config", "errors", "output", "db", "charts"} <= set(CORE)
    callers = {str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb")}
    callers |= {str(p.relative_to(ROOT)) for p in (ROOT / "service").glob("*.py")}
    assert callers == set(SERVES), "list each notebook and service module in SERVES"


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_capability(module):
    assert project_imports(LIB / f"{module}.py") <= allowed(None)


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_a_capability_imports_only_the_core_and_itself(capability):
    for path in sorted((LIB / capability).rglob("*.py")):
        wrong = project_imports(path) - allowed(capability)
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


@pytest.mark.parametrize("caller", sorted(SERVES))
def test_notebooks_and_services_import_only_their_capability(caller):
    extra = ("service",) if caller.startswith("service/") else ()
    wrong = project_imports(ROOT / caller) - allowed(SERVES[caller], *extra)
    assert not wrong, f"{caller} imports {sorted(wrong)}"


def test_the_check_catches_a_crossing():
    """The checks above can fail: a capability importing another is seen, in every form."""
    crossing = (
        "from lib.votes.message import Vote\nimport lib.logs.q1\nfrom lib import clickstream"
    )
    assert imported_modules(crossing) >= {"lib.votes.message", "lib.logs.q1", "lib.clickstream"}
    inside_a_function = "def f():\n    from lib.votes import charts\n"
    assert "lib.votes.charts" in imported_modules(inside_a_function)


def runtime_imports(source: str) -> set[str]:
    """``imported_modules`` of ``source`` without those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING:
            node.body = [ast.Pass()]
    return imported_modules(ast.unparse(tree))


TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = LIB) -> dict[str, set[str]]:
    """Each module of the tree under ``root`` -> the modules of that tree it imports (a name
    imported from a package counts as its submodule when there is one)."""
    modules = {module_name(path): path for path in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = runtime_imports(path.read_text("utf-8"))
        graph[name] = {module for module in found if module in modules and module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another (Tarjan's strongly connected components of
    more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_lib_imports_one_that_imports_it_back():
    graph = import_graph()
    assert "lib.logs.parsing.kinds" in graph["lib.logs.parsing.kinds.clf"]  # packages too
    assert not cycles(graph), f"import cycles: {cycles(graph)}"


def test_the_cycle_check_catches_a_cycle_and_ignores_annotations():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    lazy = "def f():\n    from lib.logs.q1 import run_q1\n"
    assert "lib.logs.q1" in runtime_imports(lazy)  # an import inside a function still counts
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import lib.logs.q1\n"
    assert "lib.logs.q1" not in runtime_imports(typing_only)


def reads_the_environment(source: str) -> bool:
    """Whether ``source`` touches ``os.environ`` or ``os.getenv`` (or imports either)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if {alias.name for alias in node.names} & {"environ", "getenv"}:
                return True
    return False


def test_only_the_core_config_reads_the_environment():
    """Library code takes its settings as arguments; each capability's settings module reads
    the environment through ``lib.config``, once, at the edge."""
    readers = {
        str(path.relative_to(ROOT))
        for path in LIB.rglob("*.py")
        if reads_the_environment(path.read_text("utf-8"))
    }
    assert readers == {"lib/config.py"}
    assert reads_the_environment("import os\nos.environ.get('X')")
    assert reads_the_environment("from os import getenv")
    assert not reads_the_environment("'see os.environ'")
