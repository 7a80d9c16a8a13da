"""The service's documented entry points: ``python service/<role>.py`` from anywhere and
``python -m service.<role>`` from the repository root run the same code, and log under the
module's name. (They stop at a bad setting, before any connection: no service needed.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROLES = {
    "kiosk": ["--kiosk-id", "k1", "--port", "0"],
    "worker": [],
    "results_writer": [],
}


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *command],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("form", ["script", "module"])
def test_an_entry_point_starts_and_says_who_it_is(role, form, tmp_path):
    if form == "script":  # from elsewhere, by path: the documented `python service/<role>.py`
        command, cwd = [str(ROOT / "service" / f"{role}.py")], tmp_path
    else:
        command, cwd = ["-m", f"service.{role}"], ROOT
    helped = run([*command, "--help"], cwd)
    assert helped.returncode == 0 and "usage:" in helped.stdout, helped.stderr
    refused = run([*command, *ROLES[role]], cwd, BATCH_SIZE="none")
    assert refused.returncode == 2, refused.stderr
    assert f"service.{role}" in refused.stderr  # the logger's name is the module's
    assert "BATCH_SIZE must be a positive int" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("role", ["kiosk", "worker"])
@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DATABASE_URL", "postgresql://u:hunter2@h:port/db", "DATABASE_URL is malformed"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is malformed"),
        ("AMQP_URL", "amqp://u:hunter2@h:port/%2F", "AMQP_URL is malformed"),
        ("AMQP_URL", "rabbit", "AMQP_URL is malformed"),
        ("KIOSK_TOKEN", "hunter2", "KIOSK_TOKEN must be at least 16"),
        ("KIOSK_TOKEN", "   ", "KIOSK_TOKEN must be at least 16"),
    ],
)
def test_a_bad_url_or_token_stops_a_program_with_one_line(role, variable, value, said, tmp_path):
    done = run([str(ROOT / "service" / f"{role}.py"), *ROLES[role]], tmp_path, **{variable: value})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], done.stderr
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--workers", "0", "--workers must be 1 to 64, got 0"),
        ("--threads", "0", "--threads must be 1 to 1024, got 0"),
        ("--threads", "-3", "--threads must be 1 to 1024, got -3"),
        ("--request-timeout", "0", "--request-timeout must be 0.5 to 600, got 0.0"),
        ("--request-timeout", "nan", "--request-timeout must be 0.5 to 600, got nan"),
        ("--port", "70000", "--port must be 0 to 65535, got 70000"),
        ("--max-connections", "0", "--max-connections must be 1 to 100000, got 0"),
        ("--clock-offset", "inf", "--clock-offset must be -86400 to 86400, got inf"),
    ],
)
def test_a_nonsense_kiosk_option_stops_it_at_start_with_one_line(option, value, said, tmp_path):
    # before: --workers 0 or --threads 0 listened and never answered, a bad port a traceback
    done = run(
        [str(ROOT / "service" / "kiosk.py"), "--kiosk-id", "k1", "--port", "0", option, value],
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], done.stderr
