"""lib.exit.leave, in child processes of its own (it ends the process it runs in)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import atexit, logging, sys
from lib.exit import leave
logging.basicConfig(stream=sys.stderr, format="%(message)s")
atexit.register(lambda: print("atexit ran"))
print("answers", end=" ")   # buffered: only a flush puts it out
logging.getLogger("x").warning("logged")
sys.stdin.read()            # the parent decides when the child goes on
leave(int(sys.argv[1]))
"""


def child(status: int) -> subprocess.Popen:
    """The child, its stdout buffered as a command's is in a pipeline (PYTHONUNBUFFERED,
    which some environments set, would write it at once)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(status)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_leave_flushes_runs_the_atexit_handlers_and_keeps_the_status():
    for status in (0, 3):
        proc = child(status)
        out, err = proc.communicate("", timeout=60)
        assert (proc.returncode, out, err) == (status, "answers atexit ran\n", "logged\n")


def test_output_that_cannot_be_written_fails_a_successful_run():
    proc = child(0)
    proc.stdout.close()  # as `| head` does before the answers are out
    _, err = proc.communicate("", timeout=60)
    assert (proc.returncode, err) == (1, "logged\n")
