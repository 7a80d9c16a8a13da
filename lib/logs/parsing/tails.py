"""Combined with fields after it, as the compiled accelerator (``_clf.c``) reads it.

A format compiled from an Apache or nginx string that is Combined and then more fields
(``lib.logs.parsing.formats``: ``nginx_request_time``, ``ingress_nginx``, ``combined_plus``, a
custom string) has a whole-line regular expression that starts with Combined's as the format
compilers write it and goes on with a *tail*: literal text and fields. ``layout`` cuts the
pattern there and turns the tail into a short program of field shapes, which the counter
matches from the user agent's closing quote to the line's end. The program is derived from the
very pattern the ``regex`` kind parses with (no second definition), and only from shapes whose
match the counter finds exactly where the regular expression's groups are (leftmost-first, as
Rust's ``regex`` and Python's ``re`` match): a pattern with anything else gets no program, and
polars reads its lines.

The shapes, one character each in the program (``OPS``; ``_clf.GRAMMAR["tail_ops"]`` is the
build's):

- ``L``: literal text; then its length (one byte) and its bytes.
- ``Q``: an escaped quoted value, ``(?:[^"\\\\]|\\\\.)*``, between quotes of the literal text.
- ``T``, ``N``: a token, ``[^ ]*`` and ``[^ ]+``; ``I``: ``[0-9]+|-``; ``D``:
  ``[0-9]+(?:\\.[0-9]+)?|-``. Each holds no space, and is followed by literal text with a space
  in it, or by literal text or nothing at the line's end: so it runs to the next space (or the
  end) less the literal's characters before its space, the one split the regex can make.
- ``S``: nginx's upstream list, ``[^ ,]+(?:(?:, | : )[^ ,]+)*``, at the end or before a space:
  the counter takes every item a separator announces (the regex's first choice) and leaves the
  line over when the rest then does not fit.
- ``R``: ``.+``, the rest of the line (``combined_plus``).

``Layout.fields`` names the tail's fields by role, in order: a counter that reads a value (the
duration, the virtual host) finds it as the field of that index (``_clf._match_tail`` returns
every field's span). Imports nothing heavy.
"""

from __future__ import annotations

import re
from functools import cache

from lib.logs.parsing import clf
from lib.logs.parsing._format_strings import _UNQUOTED, compile_apache, compile_nginx

OPS = "LQTNIDSR"
_SHAPES = {  # a field's pattern as the format compilers write it -> its op
    clf.ESCAPED: "Q",
    "[^ ]*": "T",
    clf.TOKEN: "N",
    _UNQUOTED["bytes"]: "I",
    _UNQUOTED["duration_s"]: "D",
    _UNQUOTED["upstream_time"]: "S",
    ".+": "R",  # lib.logs.parsing.formats: combined_plus
}
_RUNS = "TNID"  # the ops that run to the next space
_META = set("\\.^$*+?{}[]|()")  # what _format_strings escapes in literal text
_GROUP = re.compile(r"\(\?P<g[0-9]+>")
MAX_LITERAL = 255  # a literal's length is one byte


class Layout:
    """What the counter reads of a format: Combined (its second field the literal ``-`` when
    ``dash_ident``, as nginx writes it), then ``program`` (``OPS``), whose fields have the roles
    ``fields``."""

    __slots__ = ("dash_ident", "program", "fields")

    def __init__(self, dash_ident: bool, program: bytes, fields: tuple[str, ...]) -> None:
        self.dash_ident = dash_ident
        self.program = program
        self.fields = fields

    def field(self, role: str) -> int | None:
        """The index of the tail's first field of ``role`` (None: it has none)."""
        return self.fields.index(role) if role in self.fields else None


@cache
def _heads() -> tuple[tuple[str, tuple[str, ...], bool], ...]:
    """Combined as the Apache and nginx compilers write it: (its pattern without the ``$``, its
    roles, whether its second field is the literal ``-``)."""
    apache = compile_apache(clf.APACHE["combined"])
    nginx = compile_nginx(clf.NGINX["combined"])
    return (apache.pattern[:-1], apache.roles, False), (nginx.pattern[:-1], nginx.roles, True)


@cache
def layout(pattern: str, roles: tuple[str, ...]) -> Layout | None:
    """The layout of a ``regex``-kind format whose whole-line ``pattern`` (fields ``roles``) is
    Combined's then a tail the counter matches exactly; None for any other."""
    for head, head_roles, dash_ident in _heads():
        if not pattern.startswith(head) or roles[: len(head_roles)] != head_roles:
            continue
        if not pattern.endswith("$") or pattern.endswith("\\$"):
            return None
        pieces = _pieces(pattern[len(head) : -1])
        program = None if pieces is None else _program(pieces)
        fields = roles[len(head_roles) :]
        if program is None or len(fields) != sum(op != "L" for op, _ in pieces):
            return None
        return Layout(dash_ident, program, fields)
    return None


def _pieces(regex: str) -> list[tuple[str, str]] | None:
    """The tail's regular expression as ``("L", literal text)`` and ``(op, "")`` pieces; None
    where it holds anything else."""
    pieces: list[tuple[str, str]] = []
    at = 0
    while at < len(regex):
        group = _GROUP.match(regex, at)
        if group:
            end = _group_end(regex, group.end())
            op = None if end is None else _SHAPES.get(regex[group.end() : end])
            if op is None:
                return None
            pieces.append((op, ""))
            at = end + 1
            continue
        char = regex[at]
        if char == "\\" and at + 1 < len(regex) and regex[at + 1] in _META:
            char, at = regex[at + 1], at + 2
        elif char in _META:
            return None
        else:
            at += 1
        if pieces and pieces[-1][0] == "L":
            pieces[-1] = ("L", pieces[-1][1] + char)
        else:
            pieces.append(("L", char))
    return pieces


def _group_end(regex: str, at: int) -> int | None:
    """The index of the ``)`` that closes the group whose text starts at ``at``."""
    depth = 1
    while at < len(regex):
        char = regex[at]
        if char == "\\":
            at += 2
            continue
        if char == "[":
            at = regex.find("]", at + 2 if regex.startswith("[^", at) else at + 1)
            if at < 0:
                return None
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return at
        at += 1
    return None


def _program(pieces: list[tuple[str, str]]) -> bytes | None:
    """The pieces as the counter's program; None when one of them is where its match would not
    be certain (see the module's doc)."""
    program = bytearray()
    for index, (op, text) in enumerate(pieces):
        before = pieces[index - 1] if index else ("L", '"')  # the user agent's closing quote
        after = pieces[index + 1] if index + 1 < len(pieces) else None  # None: the line's end
        if op == "L":
            if not text.isascii() or not text.isprintable() or len(text) > MAX_LITERAL:
                return None
            program += b"L" + bytes([len(text)]) + text.encode()
            continue
        if after is not None and after[0] != "L":
            return None  # two fields with nothing between them
        follows = after[1] if after else ""
        if op == "Q" and not (before[1].endswith('"') and follows.startswith('"')):
            return None
        if op in _RUNS and after is not None and " " not in follows and index + 2 < len(pieces):
            return None  # literal text without a space, and then another field
        if op == "S" and after is not None and not follows.startswith(" "):
            return None
        if op == "R" and after is not None:
            return None
        program += op.encode()
    return bytes(program)
