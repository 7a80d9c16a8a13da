"""Fuzzing the compiled fast path (lib/logs/parsing/_clf.c): real-looking Common and Combined
lines, and Combined lines with fields after it (each format the counter reads a tail of),
mutated, cut short and mixed into blocks, fed to ``Counter.add``.

Nothing may crash it (``scripts/sanitize-clf.sh`` runs these tests with AddressSanitizer and
UBSan, which also catch a read one byte too far), its answer must describe the block it was
given, and the summary through it must equal the polars path's for every block. The randomness
is seeded: a failure comes back the same on the next run.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.logs.counting.counted import summarize_block
from lib.logs.counting.parsed import summarize_lines
from lib.logs.datasets.synthetic import generate_log
from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import FORMATS as REGISTERED
from tests.conftest import NASA_SLICE
from tests.support.log_corpus import VARIANTS
from tests.support.summaries import CHOICES, WINDOW, assert_same_outcome, outcome
from tests.support.trailing import TRAILING

_clf = accelerators._built(accelerators.ACCELERATORS["clf"].module)
pytestmark = pytest.mark.skipif(_clf is None, reason="the C parser is not built")

FORMATS = ("common", "combined", *TRAILING)
GOOD = b'h.example - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 5'
REF = b' "http://r/" "Mozilla/1.0 (X11)"'
TAILS = {  # each format's tail, and near misses of it (its neighbours' tails among them)
    "nginx_main": [b' "203.0.113.9, 10.0.0.1"', b' "-"', b' "a\\" b"', b' "a" "b"', b""],
    "apache_combined_duration": [b" 5890", b" -", b" " + b"9" * 40, b" 5.5", b" 1 2"],
    "nginx_request_time": [b" 0.006", b" -", b" 12", b" 0.", b" -0.5", b" 0.006 "],
    "nginx_upstream_host": [
        b" 0.002, 1.044 example.org",
        b" 0.002 : 1.044, 0.5 a.example:8080",
        b" - ",
        b" 0.002,1.044 example.org",
        b" 0.002, 1.044",
    ],
    "ingress_nginx": [
        b" 309 0.006 [default-web-8080] [] 10.0.0.12:8080 0 0.006 404 2461904",
        b" 309 0.006 [a] [b] 10.0.0.1:80, 10.0.0.2:80 0, 512 0.002, 1.044 502, 200 x",
        b" - - [] [] - - - - -",
        b" 309 0.006 [a] [] 10.0.0.1:80 : 10.0.0.2:80 0 : 5 0.1 : 0.2 200 : 200 x",
        b" 309 0.006 [a] [] a b c d",
    ],
    "traefik_clf": [
        b' 1 "web@docker" "http://10.0.0.12:8080" 5ms',
        b' 17 "-" "-" 0ms',
        b' 1 "r\\"q" "u" 5.5ms',
        b' 1 "r" "u" 5',
    ],
    "combined_plus": [b' 0.004 "-" cache=HIT', b" x", b"  ", b" "],
}
HAND_WRITTEN = {
    "common": [
        GOOD,
        GOOD.replace(b" 5", b" -"),
        GOOD.replace(b"GET /", b'GET /" 200 5'),
        b'h - - [18/Aug/1995:12:30:00 -0400] "" 200 ' + b"9" * 18,
        GOOD + REF,  # Combined, in a Common log: the polars path's second chance
    ],
    "combined": [
        GOOD + REF,
        GOOD + b' "-" "a \\" b"',
        GOOD + b' "" ""',
        GOOD.replace(b"GET /", b'GET /" 500 9 "x" "y') + REF,
        GOOD,  # Common, in a Combined log
    ],
} | {name: [GOOD + REF + tail for tail in tails] + [GOOD + REF] for name, tails in TAILS.items()}

# what a mutation inserts: quoting, control and non-ASCII bytes, too many digits
SPECIALS = [b'"', b"\\", b'\\"', b"\x00", b"\r", b"\x1f", b"\x7f", b"\x80", b"\xff", b"\xc3\xa9"]
SPECIALS += [b" ", b"[", b"]", b"\t", b"\n", b"-", b"9" * 19, b"1" * 40, b"\xef\xbb\xbf"]
# a field put at one of its edges: (the field, its edge values). Not 31/Dec/9999:23, which with
# a zone west of UTC fails both paths (a special block below): it would hide every other line of
# its block from the comparison.
EDGES = [
    (
        rb"\d\d/[A-Za-z]{3}/\d{4}:\d\d",
        [b"29/Feb/1900:12", b"29/Feb/2000:12", b"29/Feb/1996:00", b"29/Feb/1995:00"]
        + [b"31/Apr/1995:12", b"30/Feb/2000:00", b"00/Aug/1995:12", b"32/Jan/1995:12"]
        + [b"01/Jan/0999:00", b"01/Jan/999:00", b"01/Jan/1000:00", b"31/Dec/9998:23"]
        + [b"01/Jan/9999:00", b"31/Dec/9999:00", b"18/Aug/1995:24", b"18/aug/1995:12"],
    ),
    (rb":\d\d:\d\d ", [b":59:59 ", b":59:60 ", b":60:00 ", b":99:99 "]),
    (rb"[+-]\d{4}\]", [b"+2400]", b"-2359]", b"+2359]", b"-0060]", b"+0000]", b"*0400]"]),
    (rb" [0-9.]+$", [b" -", b" " + b"9" * 40, b" 1.", b" -1", b" 0.5", b" 5 6", b" "]),
    (rb", ", [b",", b" , ", b" : ", b", , ", b", -, "]),
    (rb'" "', [b'"  "', b'""', b'" x "', b'" - "']),
    (rb"\[[^ ]*\]", [b"[]", b"[a]]", b"[a b]", b"[", b"]"]),
    (
        rb'" \d{3} (\d+|-)',
        [b'" 200 ' + b"9" * 18, b'" 200 ' + b"9" * 19, b'" 200 ' + b"0" * 18, b'" 200 -']
        + [b'" 200 ', b'" 20 5', b'" 2000 5', b'" 200 -5', b'" 999 1', b'" 000 0'],
    ),
]
EDGES = [(re.compile(field), values) for field, values in EDGES]
KINDS = 6  # the mutations below


def mutate(line: bytes, kind: int, at: int, pick: int) -> bytes:
    """One mutation of ``line``: ``kind`` says which, ``at`` (modulo the length) where and
    ``pick`` what."""
    at %= len(line) + 1
    if kind == 0:  # a byte replaced by any byte
        return line[:at] + bytes([pick % 256]) + line[at + 1 :]
    if kind == 1 and at < len(line):  # a bit flipped
        return line[:at] + bytes([line[at] ^ 1 << pick % 8]) + line[at + 1 :]
    if kind == 2:  # something inserted
        return line[:at] + SPECIALS[pick % len(SPECIALS)] + line[at:]
    if kind == 3:  # 1 to 3 bytes deleted
        return line[:at] + line[at + 1 + pick % 3 :]
    if kind in (1, 4):  # cut short (or no bit to flip)
        return line[:at]
    field, values = EDGES[pick % len(EDGES)]
    value = values[pick // len(EDGES) % len(values)]
    return field.sub(lambda _: value, line, count=1)


def block_of(lines: list[bytes], ending: bytes, last_ending: bool, cut: int | None) -> bytes:
    """The lines joined by ``ending``, with one after the last if ``last_ending``, cut after
    ``cut`` bytes (modulo the length) if given: perhaps in the middle of a line."""
    block = ending.join(lines) + (ending if last_ending and lines else b"")
    return block if cut is None else block[: cut % (len(block) + 1)]


def split_lines(block: bytes) -> list[bytes]:
    """The block's lines as block_to_lines splits them: one per newline, and an unterminated
    last one; each with its carriage return, if any."""
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


PRINTABLE = re.compile(rb"[\x20-\x7e]*")


def assert_describes(block: bytes, answer: tuple) -> int:
    """``Counter.add``'s answer fits the block: its number of lines, the left-over lines by
    index and by their text, and every line it counted is printable ASCII. Returns how many it
    counted."""
    lines, _, indices, texts = answer
    split = split_lines(block)
    assert lines == len(split)
    if indices is None:  # mostly not this format: nothing counted
        assert texts is None
        return 0
    assert indices == sorted(set(indices)) and texts == [split[i] for i in indices]
    left = set(indices)
    for index, line in enumerate(split):
        if index not in left:
            assert PRINTABLE.fullmatch(line.removesuffix(b"\r")), line
    return lines - len(indices)


REFERER_AND_AGENT = re.compile(rb' "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"$')


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, list[bytes]]:
    """Lines to start from, per format: a small synthetic log (Combined, and the same lines
    without referer and agent, as generate_log writes them in Common), the hand-written ones,
    and the real NASA slice (Common) when it is there."""
    path = generate_log(tmp_path_factory.mktemp("corpus") / "c.log", 400, log_format="combined")
    combined = path.read_bytes().splitlines()
    common = [REFERER_AND_AGENT.sub(b"", line) for line in combined]
    lines = {"common": common + HAND_WRITTEN["common"], "combined": combined}
    lines["combined"] += HAND_WRITTEN["combined"]
    if NASA_SLICE.exists():
        lines["common"] += NASA_SLICE.read_bytes().splitlines()
    for name in TRAILING:  # the deployment corpus's lines of the format, and the hand-written
        variants = [variant for variant in VARIANTS.values() if variant.detect_as == name]
        # combined_plus, which no server writes by that name: every other one's lines
        variants = variants or [v for v in VARIANTS.values() if v.detect_as in TRAILING]
        written = [line.encode() for variant in variants for line in variant.lines()]
        lines[name] = written + HAND_WRITTEN[name]
    return lines


def random_block(rng: random.Random, lines: list[bytes], most: int = 40) -> bytes:
    """Up to ``most`` lines of ``lines``, about half of them mutated (some twice)."""
    chosen = []
    for _ in range(rng.randint(0, most)):
        line = rng.choice(lines)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            at, pick = rng.randrange(1 << 20), rng.randrange(1 << 20)
            line = mutate(line, rng.randrange(KINDS), at, pick)
        chosen.append(line)
    cut = rng.randrange(1 << 20) if rng.random() < 0.2 else None
    return block_of(chosen, rng.choice([b"\n", b"\n", b"\r\n"]), rng.random() < 0.8, cut)


@pytest.mark.parametrize("name", FORMATS)
def test_thousands_of_mutated_blocks_are_answered_for(corpus, name):
    # one Counter for them all, as for a partition's blocks: its tables grow across them
    rng = random.Random(f"add-{name}")
    counter = accelerators.counter(REGISTERED[name], *WINDOW.micros())
    counted = 0
    for _ in range(1500 if name in ("common", "combined") else 500):
        block = random_block(rng, corpus[name])
        counted += assert_describes(block, counter.add(block))
    assert counter.result()[0] == counted > 3_000


@pytest.mark.parametrize("name", FORMATS)
def test_big_blocks_of_mutated_lines_summarize_the_same_both_ways(corpus, name):
    # thousands of mutations compared at once: any line read otherwise changes the summary
    rng = random.Random(f"big-{name}")
    for _ in range(3):
        block = random_block(rng, corpus[name], most=5000)
        fast = outcome(summarize_block, block, WINDOW, CHOICES[name])
        assert not isinstance(fast, str)  # a line failing both paths would hide the others
        assert_same_outcome(fast, outcome(summarize_lines, block, WINDOW, CHOICES[name]))


# a block as hypothesis draws it: lines (by their index in the corpus, and their mutations),
# how they end, and where the block is cut
MUTATION = st.tuples(st.integers(0, KINDS - 1), st.integers(0, 1 << 20), st.integers(0, 1 << 20))
LINE = st.tuples(st.integers(0, 1 << 20), st.lists(MUTATION, max_size=2))
BLOCK = st.tuples(
    st.lists(LINE, max_size=30),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 1 << 20)),
)


def drawn_block(lines: list[bytes], drawn: tuple) -> bytes:
    """The block ``BLOCK`` drew, made of ``lines``."""
    picks, ending, last_ending, cut = drawn
    chosen = []
    for which, mutations in picks:
        line = lines[which % len(lines)]
        for mutation in mutations:
            line = mutate(line, *mutation)
        chosen.append(line)
    return block_of(chosen, ending, last_ending, cut)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(FORMATS), drawn=BLOCK)
def test_mutated_blocks_summarize_the_same_both_ways(corpus, name, drawn):
    block = drawn_block(corpus[name], drawn)
    counter = accelerators.counter(REGISTERED[name], *WINDOW.micros())
    assert_describes(block, counter.add(block))
    fast = outcome(summarize_block, block, WINDOW, CHOICES[name])
    assert_same_outcome(fast, outcome(summarize_lines, block, WINDOW, CHOICES[name]))


def edge_lines(line: bytes) -> list[bytes]:
    """``line`` with each field at each of its edges."""
    return [field.sub(lambda _, v=v: v, line, count=1) for field, values in EDGES for v in values]


def special_blocks() -> dict[str, tuple[bytes, tuple[str, ...]]]:
    """Blocks at the edges, and the formats each is read as."""
    good = {"common": GOOD, "combined": GOOD + REF}
    good |= {name: GOOD + REF + tails[0] for name, tails in TAILS.items()}
    huge = 8 << 20  # a whole block's worth
    blocks = {}
    for name, line in good.items():
        edges = edge_lines(line)
        ours = {
            f"{name} edges": b"\n".join(x for edge in edges for x in (line, edge, line)),
            f"{name} one huge line": line.replace(b"GET /", b"GET /" + b"a" * huge),
            f"{name} a long line and a newline": line.replace(b"GET /", b"GET /" + b"a" * 9999)
            + b"\n",
            f"{name} many lines, no final newline": b"\n".join([line] * 20_000),
            f"{name} huge bytes": line.replace(b" 200 5", b" 200 " + b"9" * (1 << 20)),
            f"{name} a huge tail": line + b" " + b"9" * (1 << 20),
        }
        blocks |= {which: (block, (name,)) for which, block in ours.items()}
    everything = {
        "empty": b"",
        "a newline": b"\n",
        "a CR and a newline": b"\r\n",
        "newlines": b"\n" * 1000,
        "a CR": b"\r",
        "NULs": b"\x00" * 4096,
        "one huge line of digits": b"9" * (1 << 20),
        "one huge line of quotes": b'"' * (1 << 20),
        "one huge line of backslashes and quotes": b'\\"' * (1 << 19),
        "the last hour of 9999 west of UTC": GOOD.replace(b"18/Aug/1995:12", b"31/Dec/9999:23"),
    }
    return blocks | {which: (block, FORMATS) for which, block in everything.items()}


SPECIAL_BLOCKS = special_blocks()


@pytest.mark.parametrize("which", list(SPECIAL_BLOCKS))
def test_special_blocks_summarize_the_same_both_ways(which):
    block, names = SPECIAL_BLOCKS[which]
    for name in names:
        counter = accelerators.counter(REGISTERED[name], *WINDOW.micros())
        assert_describes(block, counter.add(block))
        fast = outcome(summarize_block, block, WINDOW, CHOICES[name])
        assert_same_outcome(fast, outcome(summarize_lines, block, WINDOW, CHOICES[name]))


def test_the_edges_are_taken_where_they_are_certain():
    # the edge blocks are not all left to polars: the in-range edges take the fast path
    lines = edge_lines(GOOD)
    counter = _clf.Counter(False, *WINDOW.micros())
    _, _, left, _ = counter.add(b"\n".join(x for edge in lines for x in (GOOD, edge, GOOD)))
    taken = {lines[i // 3] for i in range(len(lines) * 3) if i % 3 == 1 and i not in left}
    assert GOOD.replace(b"18/Aug/1995:12", b"29/Feb/2000:12") in taken
    assert GOOD.replace(b"18/Aug/1995:12", b"31/Dec/9998:23") in taken
    assert GOOD.replace(b"18/Aug/1995:12", b"01/Jan/9999:00") not in taken
    assert GOOD.replace(b"18/Aug/1995:12", b"31/Apr/1995:12") not in taken
