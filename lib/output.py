"""Writing results: JSON replaced atomically (temp file + rename), so no reader sees half."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: str | Path, data: object) -> Path:
    """Write ``data`` as indented UTF-8 JSON to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)
    return path
