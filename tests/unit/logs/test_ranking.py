"""The busiest rows of a count table (``lib.logs.counting.ranking``): picked without sorting
every row, yet always what a full sort then ``head`` gives, ties and nulls included."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.logs.counting.ranking import busiest

KEYS = st.one_of(st.none(), st.text(max_size=3))
COUNTS = st.one_of(st.none(), st.sampled_from([0, 1, 2, 3, 2**63, 2**64 - 1]))


def full_sort(counts: pl.DataFrame, n: int, key: str, by: str) -> pl.DataFrame:
    return counts.sort([by, key], descending=[True, False], nulls_last=True).head(n)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.dictionaries(KEYS, st.tuples(COUNTS, COUNTS), max_size=40),
    n=st.integers(min_value=-1, max_value=45),
    by=st.sampled_from(["requests", "bytes"]),
)
def test_the_busiest_rows_are_those_a_full_sort_puts_first(rows, n, by):
    counts = pl.DataFrame(
        {
            "url": list(rows),
            "requests": [r for r, _ in rows.values()],
            "bytes": [b for _, b in rows.values()],
        },
        schema={"url": pl.String, "requests": pl.UInt64, "bytes": pl.UInt64},
    )
    picked = busiest(counts, n, "url", by)
    assert picked.equals(full_sort(counts, max(n, 0), "url", by))


def test_ties_go_by_key_and_a_null_key_comes_last():
    counts = pl.DataFrame({"host": ["b", None, "a", "c"], "requests": [5, 5, 5, 9]})
    assert busiest(counts, 3, "host").rows() == [("c", 9), ("a", 5), ("b", 5)]
    assert busiest(counts, 9, "host").get_column("host").to_list() == ["c", "a", "b", None]
