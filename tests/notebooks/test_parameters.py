"""Every parameter of every notebook is one papermill understands, so that
``papermill --help-notebook`` lists it with its type, default and meaning."""

import json
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.name for n in NOTEBOOKS])
def test_help_notebook_lists_every_parameter_with_its_meaning(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    lines = [line for line in "".join(cell["source"]).splitlines() if line.strip()]
    names = [line.split(":")[0] for line in lines]
    inferred = pm.inspect_notebook(str(notebook))
    assert list(inferred) == names
    for name, parameter in inferred.items():
        assert parameter["inferred_type_name"] != "None", name
        assert parameter["help"], f"{name} has no comment saying what it is"
