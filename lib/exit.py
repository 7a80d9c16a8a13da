"""Leaving a command-line run quickly, once its work is done and written.

An interpreter that has imported polars spends 0.05-0.15 s on its way out freeing every module
and object one by one (measured on this project's 2-vCPU VM: 8-10% of a Q1 run on the
synthetic month), work whose only effect is on memory the process is about to give back.
``leave`` does what matters of that way out (the ``atexit`` handlers, logging's flush, the
standard streams' flush) and then ends the process at once.

For the end of a command's ``__main__`` only, once everything it writes is closed: files still
open elsewhere would not be flushed. Tests call ``main()`` and never reach it.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys


def leave(status: int | None) -> None:
    """End the process with ``status`` (None: 0) after the atexit handlers, logging's flush
    and the standard streams' flush, skipping the interpreter's teardown. Output that cannot
    be written (stdout closed early, as by ``| head``) makes a successful run exit 1."""
    atexit._run_exitfuncs()  # CPython's own way out runs exactly these first
    logging.shutdown()
    code = status or 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a broken pipe; a stream closed by the program
            if stream is sys.stdout and code == 0:
                code = 1
    os._exit(code)
