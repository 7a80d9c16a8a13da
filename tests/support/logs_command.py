"""``python -m lib.logs`` run as an operator runs it: a child process, from a working directory,
with settings from its environment; the finished process (exit status, stdout, stderr) is what a
test asserts on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_logs(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run ``python -m lib.logs ARGS`` to its end. ``env`` is added to this process's
    environment (the project importable from anywhere); ``stdin``, when given, is fed to it as
    bytes, and its output is bytes too (else text)."""
    return subprocess.run(
        [sys.executable, "-m", "lib.logs", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        input=stdin,
        capture_output=True,
        text=stdin is None,
        timeout=timeout,
    )
