"""The formats that are Combined and then more fields (lib/logs/parsing/tails.py), and their
tails as hypothesis draws them, each field's value often at its edges: for the tests that hold
the compiled counter to the polars path on them."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from lib.logs.counting.bounded import GAMMA
from lib.logs.parsing import tails
from lib.logs.parsing.formats import FORMATS

# every registered format the counter reads Combined and a tail of (test_tails.py checks the
# list is the one expected)
TRAILING = tuple(
    name for name, fmt in FORMATS.items() if fmt.kind == "regex" and fmt.accelerator == "clf"
)


def layout_of(name: str) -> tails.Layout:
    fmt = FORMATS[name]
    found = tails.layout(fmt.pattern, fmt.roles)
    assert found is not None, name
    return found


def ops(program: bytes) -> list[tuple[str, str]]:
    """A tail program read back: ``("L", text)`` for literal text, ``(op, "")`` for a field."""
    found, at = [], 0
    while at < len(program):
        op = chr(program[at])
        if op == "L":
            length = program[at + 1]
            found.append((op, program[at + 2 : at + 2 + length].decode()))
            at += 2 + length
        else:
            found.append((op, ""))
            at += 1
    return found


def edge(values: list, others: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), others)


PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
# an escaped field as the servers write it: no bare quote or backslash; \" and \\ as escapes
ESCAPED = st.lists(
    st.one_of(
        st.sampled_from([c for c in PRINTABLE if c not in '"\\']), st.sampled_from(['\\"', "\\\\"])
    ),
    max_size=20,
).map("".join)
NO_SPACE = st.text(st.sampled_from(PRINTABLE[1:]), max_size=10)
# a list item; none starting with ':' (with one, ' : ' may be a separator or the end of the
# list, and the counter leaves lines it cannot tell over: test_tails.py draws those)
ITEM = st.text(st.sampled_from([c for c in PRINTABLE if c not in " ,"]), min_size=1, max_size=8)
ITEM = edge(["-", "10.0.0.1:80", "0.002", "unix:/run/x.sock"], ITEM.filter(lambda s: s[0] != ":"))
NUMBER = st.integers(0, 10**12).map(str)
DECIMAL = st.builds("{}.{}".format, NUMBER, st.integers(0, 10**6).map(str))
# times taken at and beside the bounds of bounded.duration_bucket (1.05**k microseconds), in
# microseconds, and as seconds and milliseconds that are those microseconds
_BOUNDS = sorted(
    {
        b + d
        for k in range(1, 560)
        for b in (math.ceil(GAMMA**k),)
        for d in (-1, 0, 1)
        if b < 10**12
    }
)
AT_BOUNDS = st.sampled_from(_BOUNDS).map(str)
AT_BOUNDS_S = st.sampled_from(_BOUNDS).map(lambda us: f"{us // 10**6}.{us % 10**6:06d}")
AT_BOUNDS_MS = st.sampled_from(_BOUNDS).map(lambda us: f"{us // 1000}.{us % 1000:03d}")


@st.composite
def upstream_list(draw, item: st.SearchStrategy = ITEM) -> str:
    items = draw(st.lists(item, min_size=1, max_size=4))
    joined = items[0]
    for one in items[1:]:
        joined += draw(st.sampled_from([", ", " : "])) + one
    return joined


VALUES = {  # a field's value, by its op (tails.OPS)
    "Q": edge(["", "-", '\\"', "a b", 'a \\" b'], ESCAPED),
    "T": edge(["", "-", "]", "a]b", "[x]", "ms", '"', "0,1"], NO_SPACE),
    "N": edge(["-", "]", '"', "a]b"], NO_SPACE.filter(bool)),
    "I": edge(
        ["-", "0", "007", "1", "2", "9" * 40, "4611686018427387904"], st.one_of(NUMBER, AT_BOUNDS)
    ),
    "D": edge(
        [
            "-",
            "0",
            "0.000",
            "9" * 40 + ".5",
            "1.0",
            "0.0000005",
            "0.0000015",
            "0." + "0" * 30 + "1",
        ],
        st.one_of(NUMBER, DECIMAL, AT_BOUNDS, AT_BOUNDS_S, AT_BOUNDS_MS),
    ),
    "S": edge(["-", "0.002, 1.044", "- : 0.5", "a, b : c"], upstream_list()),
    "R": edge(
        ["-", "x", '"', " ", '0.004 "-" cache=HIT', "a  b "],
        st.text(st.sampled_from(PRINTABLE), min_size=1, max_size=20),
    ),
}


@st.composite
def tail(draw, name: str) -> str:
    """A tail of the format ``name`` that its pattern matches, from the user agent's closing
    quote to the line's end."""
    return "".join(
        text if op == "L" else draw(VALUES[op]) for op, text in ops(layout_of(name).program)
    )
