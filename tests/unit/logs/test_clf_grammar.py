"""The Common/Combined grammar is defined once (lib/logs/parsing/clf.py): the compiled
accelerator's header is generated from it and this build was compiled with it; the Apache
LogFormat strings that name the same formats read the same lines, but for the two differences
the grammar states; the stamp's slices are where its layout says."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.parsing import clf, tails
from lib.logs.parsing.formats import FORMATS, log_format

HEADER = Path(clf.__file__).with_name("_clf_grammar.h")
GOOD = 'h - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 5'


def test_the_accelerators_header_is_the_grammars():
    # regenerate with: python -m lib.logs.parsing.clf > lib/logs/parsing/_clf_grammar.h
    assert HEADER.read_text() == clf.c_header()


def test_the_built_accelerator_was_compiled_with_this_grammar():
    _clf = pytest.importorskip("lib.logs.parsing._clf", reason="the C parser is not built")
    stamp_at = {name: start for name, (start, _) in clf.STAMP_FIELDS.items()}
    digits = [
        start + i
        for name, (start, width) in clf.STAMP_FIELDS.items()
        if name not in ("month", "sign")
        for i in range(width)
    ]
    assert _clf.GRAMMAR == {
        "bytes_digits": clf.BYTES_DIGITS,
        "status_digits": clf.STATUS_DIGITS,
        "stamp_width": clf.STAMP_WIDTH,
        "certain_years": clf.CERTAIN_YEARS,
        "months": clf.MONTHS,
        "stamp_digits": digits,
        "stamp_at": stamp_at,
        "tail_ops": tails.OPS,  # the shapes of a tail after Combined (lib/logs/parsing/tails.py)
    }


def test_the_stamps_slices_are_where_its_layout_says():
    stamp = "18/Aug/1995:12:30:59 -0400"
    assert len(stamp) == clf.STAMP_WIDTH
    start, length = clf.MINUTE_SLICE
    assert stamp[start : start + length] == "18/Aug/1995:12:30"
    start, length = clf.SECOND_SLICE
    assert stamp[start : start + length] == "59"
    start, length = clf.ZONE_SLICE
    assert stamp[start : start + length] == "-0400"
    assert all(stamp[at] == char for at, char in clf.STAMP_LITERALS)


def test_the_registered_formats_are_the_grammars():
    for name, roles, line in (
        ("common", clf.COMMON_ROLES, clf.COMMON_LINE),
        ("combined", clf.COMBINED_ROLES, clf.COMBINED_LINE),
    ):
        fmt = FORMATS[name]
        assert (fmt.kind, fmt.roles, fmt.pattern, fmt.accelerator) == ("clf", roles, line, "clf")
        assert log_format(clf.APACHE[name]).roles == roles  # the Apache string names them


TOKEN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=5)
REQUEST = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
ESCAPED = st.lists(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
        st.sampled_from(['\\"', "\\\\"]),
    ),
    max_size=12,
).map("".join)


@st.composite
def line(draw, combined: bool) -> tuple[str, str, str]:
    """A line at the formats' edges, with its request and its byte count."""
    request = draw(REQUEST)
    size = draw(st.one_of(st.just("-"), st.integers(0, 10**19).map(str)))
    text = (
        f'{draw(TOKEN)} {draw(TOKEN)} {draw(TOKEN)} [18/Aug/1995:12:30:00 -0400] "{request}" '
        f"{draw(st.integers(100, 599))} {size}"
    )
    if combined:
        text += f' "{draw(ESCAPED)}" "{draw(ESCAPED)}"'
    return text, request, size


def read(fmt, text: str) -> bool:
    return fmt.parse_lines(pl.Series("line", [text]))[0].height == 1


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["common", "combined"]), st.data())
def test_the_apache_strings_read_what_the_grammar_reads_but_where_it_says(name, data):
    text, request, size = data.draw(line(name == "combined"))
    raw_request = '"' in request or "\\" in request  # the grammar reads the request raw
    long_bytes = len(size) > clf.BYTES_DIGITS  # and a byte count of 18 digits at most
    if not (raw_request or long_bytes):
        assert read(FORMATS[name], text) == read(log_format(clf.APACHE[name]), text)


def test_the_two_differences_the_grammar_states():
    raw_quote = GOOD.replace("GET /", 'GET /"x')
    assert read(FORMATS["common"], raw_quote) and not read(
        log_format(clf.APACHE["common"]), raw_quote
    )
    nineteen = GOOD.replace(" 5", " " + "9" * 19)
    assert not read(FORMATS["common"], nineteen)
    assert read(log_format(clf.APACHE["common"]), nineteen)
