"""Parser kinds: the ways lines of a log become requests, one module each and one line in
``KINDS``.

A *format* (``lib.logs.parsing.formats.LogFormat``) is data: its name, the kind that parses it,
a whole-line pattern, the role of each field. A *kind* is the code that parses every format of
its sort; it declares what ``ParserKind`` says:

- ``parse(fmt, lines, first_line_no, request_parts)``: a batch of lines (a polars String
  Series) to ``(requests, rejected)``. ``requests`` has the columns of
  ``lib.logs.parsing.fields.PARSED_SCHEMA``, plus ``referer`` and ``user_agent`` when the
  format's roles have them (or, cheaper, the two as logged in one ``referer_agent`` column,
  cut apart per distinct pair by ``lib.logs.parsing.kinds.clf.split_pairs``), plus
  ``forwarded_for`` and ``real_ip`` as logged when the roles have them (``host`` may then be
  null: ``lib.logs.parsing.client_address`` sets it to the client), plus ``request``,
  ``method``, ``path`` and ``protocol`` with ``request_parts``; ``rejected`` has ``line_no``
  and ``line``. Both in line order, numbered from ``first_line_no``. Lines it cannot read are
  rejected, never dropped.
- How a file is claimed needs nothing of the kind: each format's ``pattern`` is a regular
  expression every line it reads matches (in the common subset of Python's and Rust's syntax),
  and ``lib.logs.parsing.detect`` gives a file to the format that parses the most of its first
  lines. Formats a file declares itself (a W3C ``#Fields:`` header) are built by
  ``lib.logs.parsing.formats.HEADERS``.

Adding a kind (say JSON lines) is a module here defining ``KIND``, a line below, and formats of
that kind in ``lib.logs.parsing.formats.FORMATS``; docs/q1.md shows one. The modules are
imported when a format of theirs first parses lines (they load polars); this registry, like the
formats', imports nothing heavy, so a command plans its run before polars is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from lib.errors import ConfigError

if TYPE_CHECKING:  # for the annotations only: importing them loads polars
    import polars as pl

    from lib.logs.parsing.formats import LogFormat

KINDS: dict[str, str] = {
    "clf": "lib.logs.parsing.kinds.clf",  # Common and Combined: a fixed prefix and suffix
    "regex": "lib.logs.parsing.kinds.regex",  # a regular expression with a group per field
    "json": "lib.logs.parsing.kinds.json_objects",  # a JSON object a line, fields by path
    "declared": "lib.logs.parsing.kinds.declared",  # header lines name the fields (W3C)
}

Parse = Callable[["LogFormat", "pl.Series", int, bool], "tuple[pl.DataFrame, pl.DataFrame]"]


@dataclass(frozen=True)
class ParserKind:
    """A way of parsing lines, shared by every format of its kind (see the module's doc)."""

    name: str
    description: str
    parse: Parse


@cache
def load(name: str) -> ParserKind:
    """The kind called ``name``, its module imported on first use. Raises ConfigError for a name
    not in ``KINDS``."""
    if name not in KINDS:
        raise ConfigError(f"unknown parser kind {name!r}: one of {', '.join(KINDS)}")
    kind: Any = importlib.import_module(KINDS[name]).KIND
    if not isinstance(kind, ParserKind) or kind.name != name:
        raise TypeError(f"{KINDS[name]}.KIND is not the ParserKind {name!r}")
    return kind
