"""Which files a Q1 run reads.

``log_path`` may be one file, a glob (``logs/*.gz``, ``**`` allowed) or a list of either; plain,
gzip, bzip2, xz and zstd files mix freely (told by their first bytes, not their names).
``resolve_paths`` turns it into a sorted list of distinct absolute files, so the answers do not
depend on the order the files were named in. A glob matches regular files only, and skips the
sidecar markers of synthetic logs (``*.synthetic.json``): they describe logs, they are not logs.

Streams may be named too (``lib.logs.reading.streams``): ``-`` for standard input (at most
once; ``<stdin>`` in the list), and a named pipe, a character device, ``/dev/stdin`` or a
process substitution (``<(zcat a.gz)``) by its path, kept as given (made absolute, not
resolved: ``/dev/fd/63`` would resolve to a pipe's name that is no path).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from lib.errors import ConfigError
from lib.logs.reading.blocks import directory_message
from lib.logs.reading.streams import STDIN, STDIN_ARG, is_stream
from lib.logs.reading.synthetic_marker import MARKER_SUFFIX

_GLOB_CHARS = frozenset("*?[")


def resolve_paths(
    log_path: str | Path | Iterable[str | Path], base: Path | None = None
) -> list[Path]:
    """The files (and streams) ``log_path`` names, absolute, distinct and sorted.

    Relative names are taken from ``base`` (default: the working directory); ``-`` is standard
    input, ``<stdin>`` in the list. Raises ConfigError for an empty list, a glob that matches no
    file, ``-`` named twice, or a name that is neither a file nor a stream (a directory is told
    to name its files).
    """
    items = [log_path] if isinstance(log_path, (str, Path)) else list(log_path)
    if not items:
        raise ConfigError("log_path names no file (an empty list)")
    base = Path.cwd() if base is None else base
    found: set[Path] = set()
    for item in items:
        if str(item) == STDIN_ARG:
            if Path(STDIN) in found:
                raise ConfigError(
                    f"{STDIN_ARG!r} (standard input) is named twice: it is read once"
                )
            found.add(Path(STDIN))
            continue
        path = Path(item).expanduser()
        path = path if path.is_absolute() else base / path
        if _GLOB_CHARS.intersection(str(item)):
            matches = [
                Path(p)
                for p in glob.glob(str(path), recursive=True)
                if Path(p).is_file() and not p.endswith(MARKER_SUFFIX)
            ]
            if not matches:
                raise ConfigError(f"log_path pattern {str(item)!r} matches no file")
            found.update(m.resolve() for m in matches)
        elif path.is_file():
            found.add(path.resolve())
        elif path.is_dir():
            raise ConfigError(directory_message(str(item)))
        elif is_stream(path):
            found.add(Path(os.path.normpath(path)))
        elif path.exists():
            raise ConfigError(
                f"log_path {item} is not a regular file, a pipe or a character device"
            )
        else:
            raise ConfigError(f"log file not found: {item}")
    return sorted(found)
