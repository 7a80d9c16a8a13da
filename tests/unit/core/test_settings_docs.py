"""The settings docs/operations.md lists, .env.example and the code agree: every documented
variable is read by the capabilities the table names and by no other, .env.example lists each
one with its default, and nothing the code reads is left out of either."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from lib.clickstream.settings import load_settings as clickstream_settings
from lib.logs.settings import load_settings as logs_settings
from lib.votes.settings import load_settings as votes_settings

ROOT = Path(__file__).resolve().parents[3]
LOADERS = {"Q1": logs_settings, "Q2": clickstream_settings, "Q3": votes_settings}
_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \| [^|]+ \| ([^|]+) \|", re.M)


def documented() -> dict[str, set[str]]:
    """Variable -> the capabilities the settings table says read it."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    return {name: set(users.replace(" ", "").split(",")) for name, users in _ROW.findall(text)}


def example() -> dict[str, str]:
    """``.env.example`` as a shell would read it."""
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name] = " ".join(shlex.split(value))
    return values


# Variables whose values have a form of their own: a valid value other than the default.
OTHER_VALUES = {
    "KIOSK_TOKEN": "a-token-of-16-chars-or-more",
    "VOTES_OPEN_AT": "2026-11-28T08:00:00+08:00",
    "VOTES_TIME_ZONE": "Asia/Hong_Kong",
    "VOTES_QUEUE_TYPE": "classic",
    "Q1_HEAD_START": "0",
    "METRICS": "0",
}


def other_value(variable: str, default: str) -> str:
    """A valid value of ``variable`` that is not ``default``."""
    if variable in OTHER_VALUES:
        return OTHER_VALUES[variable]
    if not default:
        return "x"
    for kind in (int, float):
        try:
            return str(kind(default) + 1)
        except ValueError:
            pass
    return default + "2"


def test_the_table_and_env_example_name_the_same_variables():
    table = documented()
    assert len(table) >= 17 and set(table) == set(example())
    assert all(users and users <= set(LOADERS) for users in table.values()), table


def test_env_example_gives_every_default():
    env = example()
    for name, load in LOADERS.items():
        assert load(env) == load({}), name


@pytest.mark.parametrize("variable", sorted(documented()))
def test_a_documented_variable_is_read_by_the_capabilities_named_and_no_other(variable):
    users = documented()[variable]
    changed = {variable: other_value(variable, example()[variable])}
    for name, load in LOADERS.items():
        differs = load(changed) != load({})
        assert differs == (name in users), (
            f"{variable}: {name} {'ignores' if not differs else 'reads'} it"
        )


def test_the_code_reads_no_undocumented_variable():
    """Every name a settings module looks up is in the table."""
    looked_up = set()
    for path in [*(ROOT / "lib").glob("*/settings.py"), ROOT / "lib" / "config.py"]:
        looked_up |= set(re.findall(r"""["']([A-Z][A-Z0-9_]{2,})["']""", path.read_text("utf-8")))
    assert looked_up <= set(documented()), sorted(looked_up - set(documented()))
