"""The grammar of the Common Log Format (NCSA; the NASA log's, Apache's ``common``) and of its
extension ``combined`` (Apache's and nginx's default), defined once.

    host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status bytes
    host ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "request" status bytes "referer" "user-agent"

Everything that reads these lines takes its rules from here: the polars parser of the ``clf``
kind (``lib.logs.parsing.kinds.clf``), the compiled accelerator (``_clf.c``, through the header
``_clf_grammar.h`` that ``c_header`` writes and a test keeps equal), and the Apache and nginx
format compiler (``lib.logs.parsing._format_strings``) for the tokens they share. Imports nothing
heavy: a command reads it before polars is loaded.

- ``host``, ``ident``, ``user``: any run of characters but a space, not empty.
- The time stamp, ``STAMP_LAYOUT``: fixed width, a month by its English abbreviation, the zone
  as ``+hhmm`` or ``-hhmm``; read as local time at that offset, compared in UTC.
- The request: anything between the quotes, quotes and undecodable bytes included (the 1995
  servers did not escape it; the server still answered it, usually 400).
- ``status``: three digits. ``bytes``: up to ``BYTES_DIGITS`` digits (any such number fits an
  Int64), or ``-`` where no body was sent.
- ``referer`` and ``user-agent`` (Combined): between quotes, escaped as the servers write them
  (Apache ``\\"``, nginx ``\\x22``: any character but a quote or a backslash, or a backslash and
  any), so a quote inside never ends them early.
"""

from __future__ import annotations

TOKEN = r"[^ ]+"  # host, ident, user
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BYTES_DIGITS = 18  # any number of 18 digits fits an Int64; 19 may not
STATUS_DIGITS = 3
STATUS = f"[0-9]{{{STATUS_DIGITS}}}"
BYTES = f"(?:[0-9]{{1,{BYTES_DIGITS}}}|-)"
ESCAPED = r'(?:[^"\\]|\\.)*'  # an escaped field's text: no bare quote or backslash

# The time stamp, one (field, width) or literal text at a time: `dd/Mon/yyyy:HH:MM:SS +zzzz`.
STAMP_LAYOUT: tuple[tuple[str, int] | str, ...] = (
    ("day", 2),
    "/",
    ("month", 3),
    "/",
    ("year", 4),
    ":",
    ("hour", 2),
    ":",
    ("minute", 2),
    ":",
    ("second", 2),
    " ",
    ("sign", 1),
    ("zone", 4),  # hhmm
)
_FIELD_PATTERNS = {"month": "[A-Za-z]{3}", "sign": "[+-]"}  # the others: digits


def _stamp() -> tuple[str, dict[str, tuple[int, int]], tuple[tuple[int, str], ...]]:
    """The stamp's regular expression, each field's (start, width), and the literal text's
    (position, character)."""
    pattern, fields, literals, at = [], {}, [], 0
    for piece in STAMP_LAYOUT:
        if isinstance(piece, str):
            pattern.append(piece)
            literals += [(at + i, char) for i, char in enumerate(piece)]
            at += len(piece)
            continue
        name, width = piece
        pattern.append(_FIELD_PATTERNS.get(name, f"[0-9]{{{width}}}"))
        fields[name] = (at, width)
        at += width
    return "".join(pattern), fields, tuple(literals)


STAMP, STAMP_FIELDS, STAMP_LITERALS = _stamp()
STAMP_WIDTH = sum(width for _, width in STAMP_FIELDS.values()) + len(STAMP_LITERALS)
# What the stamp's fields say, as slices of it: the local minute polars parses with a strptime
# format, the second and the zone it adds apart (lib.logs.parsing.fields.with_clf_time).
MINUTE_SLICE = (0, STAMP_FIELDS["minute"][0] + STAMP_FIELDS["minute"][1])
MINUTE_FORMAT = "%d/%b/%Y:%H:%M"
SECOND_SLICE = STAMP_FIELDS["second"]
ZONE_SLICE = (STAMP_FIELDS["sign"][0], 1 + STAMP_FIELDS["zone"][1])  # e.g. -0400
# The years the compiled accelerator reads itself: those chrono parses and Python's datetime
# holds even after the zone moves the time by a day (polars hands first/last times to Python).
# Lines of other years are left to the polars parser, which decides.
CERTAIN_YEARS = (1000, 9998)

# The roles of the fields, in order (lib.logs.parsing.roles).
COMMON_ROLES = ("host", "ident", "user", "time_clf", "request", "status", "bytes")
COMBINED_ROLES = (*COMMON_ROLES, "referer", "user_agent")
# The same formats as an Apache LogFormat would write them (their compiled regular expression
# differs: it reads the request as an escaped field, and bytes of any length).
APACHE = {
    "common": r"%h %l %u %t \"%r\" %>s %b",
    "combined": r"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"",
}
# nginx's predefined combined (ident is the literal text `-`), which its other formats extend
NGINX = {
    "combined": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
}

# Whole-line shapes, in the common subset of Python's `re` and Rust's `regex` syntax. A line is
# read when PREFIX matches at its start, the SUFFIX at its end, and the two do not overlap.
PREFIX = rf'^{TOKEN} {TOKEN} {TOKEN} \[{STAMP}\] "'
SUFFIX = rf'" {STATUS} {BYTES}$'
COMBINED_SUFFIX = rf'" {STATUS} {BYTES} "{ESCAPED}" "{ESCAPED}"$'
PAIR = rf'^"(?P<referer>{ESCAPED})" "(?P<user_agent>{ESCAPED})"$'  # Combined's last two
COMMON_LINE = rf'^{TOKEN} {TOKEN} {TOKEN} \[{STAMP}\] ".*" {STATUS} {BYTES}$'
COMBINED_LINE = COMMON_LINE[:-1] + f' "{ESCAPED}" "{ESCAPED}"$'


def c_header() -> str:
    """``_clf_grammar.h``: what the compiled accelerator needs of this grammar, as C."""
    digits = [
        str(start + i)
        for name, (start, width) in STAMP_FIELDS.items()
        if name not in _FIELD_PATTERNS
        for i in range(width)
    ]
    literals = ", ".join(f"{{{at}, '{char}'}}" for at, char in STAMP_LITERALS)
    months = "\n".join(
        f"    case '{a}' << 16 | '{b}' << 8 | '{c}': return {number};"
        for number, (a, b, c) in enumerate(MONTHS, 1)
    )
    lines = [
        "/* Generated by `python -m lib.logs.parsing.clf > lib/logs/parsing/_clf_grammar.h` from",
        " * lib/logs/parsing/clf.py, the grammar's one definition; a test keeps the two equal.",
        " * Do not edit by hand. */",
        "#ifndef CLF_GRAMMAR_H",
        "#define CLF_GRAMMAR_H",
        "",
        f"#define CLF_BYTES_DIGITS {BYTES_DIGITS}",
        f"#define CLF_STATUS_DIGITS {STATUS_DIGITS}",
        f"#define CLF_STAMP_WIDTH {STAMP_WIDTH}",
        f"#define CLF_YEAR_MIN {CERTAIN_YEARS[0]}",
        f"#define CLF_YEAR_MAX {CERTAIN_YEARS[1]}",
        *(
            f"#define CLF_{name.upper()}_AT {start} /* width {width} */"
            for name, (start, width) in STAMP_FIELDS.items()
        ),
        "",
        "/* The stamp's positions that hold a digit, and its literal characters. */",
        f"static const int CLF_STAMP_DIGITS[{len(digits)}] = {{{', '.join(digits)}}};",
        "static const struct { int at; char c; } "
        f"CLF_STAMP_LITERALS[{len(STAMP_LITERALS)}] = {{",
        f"    {literals}}};",
        "",
        "static const char CLF_MONTHS[12][4] = {",
        "    " + ", ".join(f'"{month}"' for month in MONTHS) + "};",
        "",
        "/* The month the three characters at p name exactly, 1-12; 0 for any other text. */",
        "static inline int",
        "clf_month(const char *p)",
        "{",
        "    switch (((unsigned char)p[0] << 16) | ((unsigned char)p[1] << 8) |",
        "            (unsigned char)p[2]) {",
        months,
        "    }",
        "    return 0;",
        "}",
        "",
        "#endif",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(c_header(), end="")
