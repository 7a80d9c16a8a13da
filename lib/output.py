"""Writing files atomically (temp file + rename), so no reader sees half of one."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replacing(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` (``os.replace``) only if the block succeeds; the
    folder is created if need be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("xb") as raw:
            yield raw
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: object) -> Path:
    """Write ``data`` as indented UTF-8 JSON to ``path`` atomically; return the path."""
    with replacing(path) as out:
        out.write((json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode())
    return Path(path)
