"""Writing files atomically (temp file + rename), so no reader sees half of one."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path


def replace_file(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Create or replace ``path`` with what ``write(temp_path)`` writes; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | Path, data: object) -> Path:
    """Write ``data`` as indented UTF-8 JSON to ``path`` atomically; return the path."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    return replace_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
