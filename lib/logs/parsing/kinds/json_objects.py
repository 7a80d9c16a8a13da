"""The ``json`` parser kind: one JSON object a line (nginx ``escape=json``, Caddy, Traefik, an
application's own), each role's value found by a path into the object (``LogFormat.keys``:
``request.remote_ip``, ``request.headers.User-Agent[0]``; ``a|b``: the first of them that is
there). Values come out as text, JSON escapes decoded; numbers as their digits. A line that is
not a JSON object, or lacks a time or a client, is rejected.
"""

from __future__ import annotations

import re

import polars as pl

from lib.logs.parsing import fields as f
from lib.logs.parsing.field_values import Fields, requests_and_rejected
from lib.logs.parsing.kinds import ParserKind


def parse(
    fmt, lines: pl.Series, first_line_no: int = 1, with_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse ``lines`` as JSON objects holding ``fmt.roles`` at ``fmt.keys``; returns
    ``(requests, rejected)`` as ``lib.logs.parsing.kinds`` describes them."""
    frame = f.numbered(lines, first_line_no).lazy()
    matched = pl.col("line").str.contains(fmt.pattern)
    return requests_and_rejected(frame, _fields(fmt.roles, fmt.keys), matched, with_parts)


def _fields(roles: tuple[str, ...], keys: tuple[str, ...]) -> Fields:
    """Role -> the expression of its value, the first of its paths that is there."""
    found: Fields = {}
    for role, key in zip(roles, keys, strict=True):
        if role == "other" or role in found:
            continue
        values = [pl.col("line").str.json_path_match(json_path(path)) for path in key.split("|")]
        found[role] = values[0] if len(values) == 1 else pl.coalesce(values)
    return found


def json_path(path: str) -> str:
    """``request.headers.User-Agent[0]`` as a JSONPath (``$.request.headers.User-Agent[0]``),
    a name that is not an identifier in brackets (``@timestamp``: ``$['@timestamp']``)."""
    steps = []
    for step in path.split("."):
        name, bracket, index = step.partition("[")
        plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name)
        steps.append((f".{name}" if plain else f"['{name}']") + bracket + index)
    return "$" + "".join(steps)


KIND = ParserKind("json", "one JSON object a line, each field found by its path", parse)
