"""What servers' lines arrive inside: a syslog daemon's prefix, a container runtime's log file
(Docker's json-file, Kubernetes' CRI). A *wrapper* is data, one entry each in ``WRAPPERS``: how
to tell its lines, and how to take the server's line out of one (a regular expression whose
group ``line`` holds it, or a JSON key). A wrapped format (``lib.logs.parsing.formats.wrapped``:
``syslog+combined``) reads each line's inner line with the inner format's parser; lines a
container wrote on its standard error (the server's error log, not requests) are neither
requests nor rejected, as a W3C directive is not; a line that is not the wrapper's, or a piece
of a line the runtime split (CRI ``P``, Docker's without its ``\\n``), is rejected whole.

Imports no polars: detection unwraps a file's first lines in Python (``unwrap_line``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only: importing them loads polars
    import polars as pl

    from lib.logs.parsing.formats import LogFormat

_RFC3164 = r"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}"  # Nov 30 10:43:07
_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})"
_TAG = r"[^ :\[]+(?:\[[0-9]+\])?:"  # nginx: or haproxy[14389]:


@dataclass(frozen=True)
class Wrapper:
    """A way lines are carried (see the module's doc). ``prefix``: a regular expression (the
    common subset of Python's and Rust's) of what comes before the server's line, to the end
    of the wrapper's own fields, whose group ``stream`` (if any) says ``stdout`` or
    ``stderr``; ``key``: for JSON-lines wrappers, the key holding the line instead. ``whole``:
    a group of ``prefix`` that is present only when the line is whole (CRI's ``F``)."""

    name: str
    description: str
    prefix: str = ""
    key: str = ""  # JSON wrappers: where the line is; the object's "stream" says which
    whole: str = ""  # a group that is "F" for a whole line (CRI); "" where lines are whole

    @property
    def shape(self) -> str:
        """A regular expression every wrapped line matches."""
        if self.key:
            return rf'^\s*\{{.*"{self.key}"\s*:.*\}}\s*$'
        return self.prefix

    @property
    def compiled(self) -> re.Pattern:
        return _compiled(self.prefix)


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


WRAPPERS: dict[str, Wrapper] = {
    "syslog": Wrapper(
        "syslog",
        "a syslog daemon's line (RFC 3164 or RFC 5424, or rsyslog's ISO time): time, host, "
        "tag[pid]: then the server's line",
        prefix=(
            rf"^(?:<[0-9]{{1,3}}>)?(?:(?:{_RFC3164}|{_ISO}) (?:[^ ]+ )?{_TAG}"
            r"|1 [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ (?:-|(?:\[[^\]]*\])+)) "
        ),
    ),
    "docker": Wrapper(
        "docker",
        'Docker\'s json-file log: {"log":"<line>\\n","stream":"stdout","time":"..."}',
        key="log",
    ),
    "cri": Wrapper(
        "cri",
        "a Kubernetes node's container log (CRI: containerd, CRI-O): time stream F|P line",
        prefix=rf"^{_ISO} (?P<stream>stdout|stderr) (?P<tag>[FP])(?::[^ ]*)? ",
        whole="tag",
    ),
}


@dataclass(frozen=True)
class Unwrapped:
    """One wrapped line taken apart: the server's line (None: the line is not the wrapper's,
    or a piece of one), and whether it was written on standard error."""

    line: str | None
    stderr: bool = False


def unwrap_line(wrapper: Wrapper, line: str) -> Unwrapped:
    """The server's line inside ``line`` (Python: detection's few lines)."""
    if wrapper.key:
        try:
            entry = json.loads(line)
        except ValueError:
            return Unwrapped(None)
        inner = entry.get(wrapper.key) if isinstance(entry, dict) else None
        if not isinstance(inner, str) or not inner.endswith("\n"):
            return Unwrapped(None)
        return Unwrapped(inner[:-1].removesuffix("\r"), entry.get("stream") == "stderr")
    match = wrapper.compiled.match(line)
    if match is None or (wrapper.whole and match.group(wrapper.whole) != "F"):
        return Unwrapped(None)
    stderr = "stream" in match.re.groupindex and match.group("stream") == "stderr"
    return Unwrapped(line[match.end() :], stderr)


def unwrap(wrapper: Wrapper, lines: pl.Series) -> pl.DataFrame:
    """``inner`` (the server's line, null where there is none) and ``stderr`` (bool) of each
    of ``lines`` (polars: a batch)."""
    import polars as pl  # only here: detection needs none

    line = pl.col("line")
    if wrapper.key:
        frame = pl.DataFrame({"line": lines}).select(
            line.str.json_path_match(f"$.{wrapper.key}").alias("inner"),
            line.str.json_path_match("$.stream").alias("stream"),
        )
        inner = pl.col("inner")
        return frame.select(
            pl.when(inner.str.ends_with("\n"))
            .then(inner.str.strip_suffix("\n").str.strip_suffix("\r"))
            .alias("inner"),
            (pl.col("stream") == "stderr").fill_null(False).alias("stderr"),
        )
    groups = lines.str.extract_groups(f"(?P<head>{wrapper.prefix})")
    frame = pl.DataFrame({"line": lines, "g": groups}).unnest("g")
    head = pl.col("head")
    whole = pl.col(wrapper.whole) == "F" if wrapper.whole else pl.lit(True)
    stream = pl.col("stream") if "stream" in frame.columns else pl.lit(None, pl.String)
    return frame.select(
        pl.when(head.is_not_null() & whole)
        .then(line.str.slice(head.str.len_chars()))
        .alias("inner"),
        (stream == "stderr").fill_null(False).alias("stderr"),
    )


def parse_wrapped(
    fmt: LogFormat, lines: pl.Series, first_line_no: int, request_parts: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(requests, rejected)`` of a batch of a wrapped format's lines (``fmt.wrapper``,
    ``fmt.inner``): each inner line parsed by the inner format, the lines keeping their numbers;
    a rejected line is shown as it is in the file, wrapper and all."""
    import polars as pl

    from lib.logs.parsing.fields import REJECTED_SCHEMA, numbered

    if fmt.inner is None or fmt.wrapper not in WRAPPERS:
        raise ValueError(f"{fmt.name} is not a wrapped format")
    taken = numbered(lines, first_line_no)
    taken = pl.concat([taken, unwrap(WRAPPERS[fmt.wrapper], taken.get_column("line"))],
                      how="horizontal").filter(~pl.col("stderr"))  # fmt: skip
    inner = taken.get_column("inner").fill_null("")
    good, rejected = fmt.inner.parse_lines(inner, 0, request_parts)
    numbers, originals = taken.get_column("line_no"), taken.get_column("line")
    good = good.with_columns(numbers.gather(good.get_column("line_no")).alias("line_no"))
    at = rejected.get_column("line_no")
    rejected = pl.DataFrame([numbers.gather(at), originals.gather(at)]).select(*REJECTED_SCHEMA)
    return good, rejected
