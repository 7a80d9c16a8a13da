"""The ``json`` parser kind: one JSON object a line (nginx ``escape=json``, Caddy, Traefik, an
application's own), each role's value found by a path into the object (``LogFormat.keys``:
``request.remote_ip``, ``request.headers.User-Agent[0]``; ``a|b``: the first of them that is
there). Values come out as text, JSON escapes decoded; numbers as their digits (a fraction with
an exponent, ``1.5e-7``, as ``0.00000015``: the same number). A line that is not a JSON object,
or lacks a time or a client, is rejected.

Each line is parsed once: lines are decoded many at a time (polars' ``str.json_decode``) into
a struct holding just the values the paths reach, every leaf read as text. Decoding fails for
all the lines decoded together if one is not JSON, or holds an object or a list where the paths
expect text (or text where they go on into an object), so those are decoded again in smaller
pieces (``_decoded``); the lines of pieces that still fail, and lines with a ``\\ud800``-style
escape (which the decoder turns into a NUL where the other reader refuses a lone one), are read
path by path (``str.json_path_match``: an object or a list as its JSON text, an invalid line
rejected). A value given as text where a path expects a list (``"User-Agent": "curl"`` for
``User-Agent[0]``) is read as the list's only item; a key written twice counts the first time
(path by path, the last); objects and lists nest to about 1,000 levels (path by path, 127).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from lib.logs.parsing import fields as f
from lib.logs.parsing.field_values import Fields, requests_and_rejected
from lib.logs.parsing.formats import JSON_OBJECT
from lib.logs.parsing.kinds import ParserKind

_PART = 1024  # lines decoded at once
_PIECE = 64  # lines of a part that failed decoded again at once
_DENSE = 3  # the first pieces of a part that failed: all failing, none of it is decoded
_SURROGATE = r"\\u[dD][89a-fA-F]"  # a UTF-16 surrogate's escape: read by json_path_match
_STEP = re.compile(r"(?P<name>[^\[\]]+)(?P<indices>(?:\[[0-9]+\])*)")
_DECODE_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException)


def parse(
    fmt, lines: pl.Series, first_line_no: int = 1, with_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse ``lines`` as JSON objects holding ``fmt.roles`` at ``fmt.keys``; returns
    ``(requests, rejected)`` as ``lib.logs.parsing.kinds`` describes them."""
    frame = f.numbered(lines, first_line_no)
    shaped = _shaped(frame, fmt.pattern)
    candidates, unread = _split(frame, shaped)
    unread = unread.select(*f.REJECTED_SCHEMA)
    tree, paths = _plan(fmt.roles, fmt.keys)
    parts, slow = [], candidates
    if tree.children and candidates.height:
        texts = candidates.get_column("line")
        plain = ~texts.str.contains(_SURROGATE)
        if plain.all():
            values, decoded = _decoded(texts, tree.dtype())
        else:
            values, decoded = _decoded(texts.filter(plain), tree.dtype())
            decoded = plain.clone().scatter(plain.arg_true(), decoded)
        fast, slow = _split(candidates, decoded)
        fast = fast.with_columns(values)
        parts.append(_read(fast, _fields(fmt.roles, fmt.keys, paths), with_parts))
    if slow.height or not parts:
        parts.append(_read(slow, _fields(fmt.roles, fmt.keys, {}), with_parts))
    if len(parts) == 1 and unread.is_empty():
        return parts[0]
    good = pl.concat([good for good, _ in parts]).sort("line_no")
    rejected = pl.concat([*(rejected for _, rejected in parts), unread]).sort("line_no")
    return good, rejected


def _read(
    frame: pl.DataFrame, found: Fields, with_parts: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``requests_and_rejected`` of lines all shaped as JSON objects."""
    return requests_and_rejected(frame.lazy(), found, pl.lit(True), with_parts)


def _split(frame: pl.DataFrame, chosen: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of ``frame`` ``chosen`` says, and the others."""
    if chosen.all():
        return frame, frame.clear()
    return frame.filter(chosen), frame.filter(~chosen)


def _shaped(frame: pl.DataFrame, pattern: str) -> pl.Series:
    """Whether each ``line`` matches ``pattern``. For ``JSON_OBJECT``, a line that starts with
    ``{`` and ends with ``}`` without a line break does; only the others are searched."""
    line = pl.col("line")
    if pattern != JSON_OBJECT:
        return frame.select(line.str.contains(pattern)).to_series()
    plain = frame.select(
        line.str.starts_with("{")
        & line.str.ends_with("}")
        & ~line.str.contains("\n", literal=True)
    ).to_series()
    if plain.all():
        return plain
    others = ~plain
    searched = frame.get_column("line").filter(others).str.contains(pattern)
    return plain.scatter(others.arg_true(), searched)


def _decoded(texts: pl.Series, dtype: pl.Struct) -> tuple[pl.Series, pl.Series]:
    """The lines of ``texts`` that decode as ``dtype``, decoded (``_j``), and whether each line
    did. Decoded ``_PART`` lines at a time (faster than all at once: measured); a part that
    fails is cut in pieces of ``_PIECE`` lines, each decoded again unless the first
    ``_DENSE`` of them all fail. The lines of a piece that fails are left undecoded (read path
    by path: cheaper than the fixed cost of decoding fewer lines at once, measured).

    The decoder reads the lines it is given as the items of one JSON array: a line
    ``{...},{...}`` would read as two items, and a string a line leaves open would run into
    the next. So each line is decoded inside an object of its own with its position,
    ``{"#":7,"v":<line>}``: the text of the next line's wrapper cannot go on a string (a
    ``#`` after its quote), and every item must be the line at its position."""
    tagged = (
        texts.to_frame("line")
        .with_row_index("#")
        .select(pl.concat_str(pl.lit('{"#":'), pl.col("#"), pl.lit(',"v":'), "line", pl.lit("}")))
        .to_series()
    )
    whole = pl.Struct({"#": pl.Int64, "v": dtype})
    pieces: dict[int, pl.Series] = {}
    failed: list[tuple[int, int]] = []
    for start in range(0, texts.len(), _PART):
        end = min(start + _PART, texts.len())
        if _decode_into(pieces, tagged, start, end, whole):
            continue
        bad: list[tuple[int, int]] = []
        for index, at in enumerate(range(start, end, _PIECE)):
            if index == len(bad) == _DENSE:
                bad = [(start, end)]
                break
            if not _decode_into(pieces, tagged, at, min(at + _PIECE, end), whole):
                bad.append((at, min(at + _PIECE, end)))
        failed += bad
    decoded = _lines_in(failed, texts.len())
    items = _joined(pieces)
    if items is not None and not _in_place(items, decoded.arg_true()):
        for start in _misplaced(pieces):
            failed.append((start, start + pieces.pop(start).len()))
        decoded, items = _lines_in(failed, texts.len()), _joined(pieces)
    if items is None:
        return pl.Series("_j", [], dtype), decoded
    return items.struct.field("v").alias("_j"), decoded


def _joined(pieces: dict[int, pl.Series]) -> pl.Series | None:
    """The pieces' items in the lines' order (None: no piece)."""
    return pl.concat([pieces[start] for start in sorted(pieces)]) if pieces else None


def _lines_in(failed: list[tuple[int, int]], count: int) -> pl.Series:
    """Whether each of ``count`` lines is outside the ``failed`` ranges."""
    decoded = pl.repeat(True, count, dtype=pl.Boolean, eager=True)
    if failed:
        at = [i for start, end in failed for i in range(start, end)]
        decoded = decoded.scatter(pl.Series(at, dtype=pl.UInt32), False)
    return decoded


def _in_place(items: pl.Series, at: pl.Series) -> bool:
    """Whether each item is the line at its position (``#``)."""
    return bool((items.struct.field("#") == at.cast(pl.Int64)).fill_null(False).all())


def _misplaced(pieces: dict[int, pl.Series]) -> list[int]:
    """The pieces (by their start) an item of which is not the line at its position."""
    return [
        start
        for start, items in pieces.items()
        if not _in_place(items, pl.int_range(start, start + items.len(), eager=True))
    ]


def _decode_into(
    pieces: dict[int, pl.Series], tagged: pl.Series, start: int, end: int, whole: pl.Struct
) -> bool:
    """Decode the lines from ``start`` to ``end`` into ``pieces[start]``; whether all did."""
    values = _decode(tagged.slice(start, end - start), whole)
    if values is not None:
        pieces[start] = values
    return values is not None


def _decode(tagged: pl.Series, whole: pl.Struct) -> pl.Series | None:
    """``tagged`` decoded as ``whole``, or None unless each line decodes into one item."""
    try:
        items = tagged.str.json_decode(whole)
    except _DECODE_ERRORS:
        return None
    return items if items.len() == tagged.len() else None


@dataclass
class _Node:
    """What a place in the object is read as: text (a leaf), an object (``children``) or a
    list (``item``)."""

    kind: str = "text"
    children: dict[str, _Node] = field(default_factory=dict)
    item: _Node | None = None

    def dtype(self) -> pl.DataType:
        if self.kind == "object":
            return pl.Struct({name: node.dtype() for name, node in self.children.items()})
        if self.kind == "list" and self.item is not None:
            return pl.List(self.item.dtype())
        return pl.String()


Steps = tuple[tuple[str, int | None], ...]  # (key, None) into an object, ("", i) into a list


def _plan(roles: tuple[str, ...], keys: tuple[str, ...]) -> tuple[_Node, dict[str, Steps]]:
    """The object's shape the roles' paths reach (every role's: which of them a request's
    columns read is lib.logs.parsing.field_values's to say), and each path that can be read
    from it (a path that goes on past a value another path reads as text, or that JSONPath
    writes otherwise, is read by ``json_path_match``)."""
    root, paths, seen = _Node("object"), {}, set()
    for role, key in zip(roles, keys, strict=True):
        if role == "other" or role in seen:
            continue
        seen.add(role)
        for text in key.split("|"):
            steps = _steps(text)
            if steps is not None and _fits(root, steps):
                _add(root, steps)
                paths[text] = steps
    return root, paths


def _steps(text: str) -> Steps | None:
    """``request.headers.User-Agent[0]`` as ``(("request", None), ("headers", None),
    ("User-Agent", None), ("", 0))``; None for a path of other forms."""
    steps: list[tuple[str, int | None]] = []
    for part in text.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            return None
        steps.append((match.group("name"), None))
        steps += [("", int(i)) for i in re.findall(r"[0-9]+", match.group("indices"))]
    return tuple(steps)


def _kind_at(steps: Steps, index: int) -> str:
    """What the value at ``steps[index]`` must be: the kind of the step after it, or text."""
    if index + 1 == len(steps):
        return "text"
    return "list" if steps[index + 1][1] is not None else "object"


def _fits(root: _Node, steps: Steps) -> bool:
    """Whether the path's values can be read with the shape ``root`` has so far."""
    node: _Node | None = root
    for index, (name, _) in enumerate(steps):
        if node is None:
            return True
        node = node.children.get(name) if name else node.item
        if node is not None and node.kind != _kind_at(steps, index):
            return False
    return True


def _add(root: _Node, steps: Steps) -> None:
    node = root
    for index, (name, _) in enumerate(steps):
        kind = _kind_at(steps, index)
        if name:
            node = node.children.setdefault(name, _Node(kind))
        else:
            node.item = node.item or _Node(kind)
            node = node.item


def _fields(roles: tuple[str, ...], keys: tuple[str, ...], paths: dict[str, Steps]) -> Fields:
    """Role -> the expression of its value, the first of its paths that is there: from the
    decoded struct ``_j`` for the paths in ``paths``, else by ``json_path_match``."""
    found: Fields = {}
    for role, key in zip(roles, keys, strict=True):
        if role == "other" or role in found:
            continue
        values = [
            _value(paths[text]) if text in paths else _matched(text) for text in key.split("|")
        ]
        found[role] = values[0] if len(values) == 1 else pl.coalesce(values)
    return found


def _value(steps: Steps) -> pl.Expr:
    value = pl.col("_j")
    for name, index in steps:
        value = (
            value.struct.field(name) if index is None else value.list.get(index, null_on_oob=True)
        )
    return value


def _matched(path: str) -> pl.Expr:
    return pl.col("line").str.json_path_match(json_path(path))


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
