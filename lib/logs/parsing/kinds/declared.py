"""The ``declared`` parser kind: logs whose header lines declare the fields of the lines after
them (W3C extended: IIS, CloudFront), any number of times in a file (a server restarted, its
fields changed). A batch is read block by block between its header lines, each block with the
format its header declares (``lib.logs.parsing.formats.HEADERS``) and the lines before the
first with the format given (the one in force where the batch starts: ``FormatChoice.after``
follows it along a file). Each block is parsed by the ``regex`` kind.
"""

from __future__ import annotations

import polars as pl

from lib.logs.parsing import fields as f
from lib.logs.parsing.formats import LogFormat, declared_by
from lib.logs.parsing.kinds import ParserKind
from lib.logs.parsing.kinds.regex import parse as parse_regex


def parse(
    fmt: LogFormat, lines: pl.Series, first_line_no: int = 1, with_parts: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(requests, rejected)`` of ``lines`` as ``lib.logs.parsing.kinds`` describes them, each
    line read with the format of the last header line before it (``fmt`` before the first);
    under a header that declares no format (``declared_by``), every line is rejected."""
    header = fmt.header or ""
    starts = lines.str.starts_with(header).fill_null(False).arg_true().to_list() if header else []
    bounds = [0, *starts, lines.len()]
    good, rejected, current = [], [], fmt
    for start, end in zip(bounds, bounds[1:], strict=False):
        if start in starts:
            current = declared_by(header, lines[start])
        if end > start or not starts:
            block = lines.slice(start, end - start)
            found, refused = _parse_block(current, block, first_line_no + start, with_parts)
            good.append(found)
            rejected.append(refused)
    return pl.concat(good, how="diagonal_relaxed"), pl.concat(rejected)


def _parse_block(
    fmt: LogFormat, lines: pl.Series, first_line_no: int, with_parts: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    if fmt.pattern:
        return parse_regex(fmt, lines, first_line_no, with_parts)
    numbered = f.numbered(lines, first_line_no)
    refused = numbered.filter(~pl.col("line").str.starts_with(fmt.skip_prefix or "#"))
    return pl.DataFrame(schema=f.PARSED_SCHEMA), refused.select(*f.REJECTED_SCHEMA)


KIND = ParserKind("declared", "fields declared by header lines, block by block", parse)
