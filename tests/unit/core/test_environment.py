"""environment.yml (conda users) and requirements.txt (pip) must pin the same packages."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PIN = re.compile(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_environment_yml_agrees_with_requirements():
    requirements = pins(ROOT / "requirements.txt")
    environment = pins(ROOT / "environment.yml")
    assert requirements, "requirements.txt pins nothing"
    assert environment == requirements


def test_every_pyproject_dependency_is_pinned():
    text = (ROOT / "pyproject.toml").read_text()
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    names = {
        re.match(r'\s*"([A-Za-z0-9_.\-]+)', line).group(1).lower()
        for line in block.splitlines()
        if line.strip().startswith('"')
    }
    assert names <= set(pins(ROOT / "requirements.txt"))
