"""The breakdowns of a summary whose size grows with the log (URLs, their queries and times,
visitors), kept within a bound however many distinct values the log holds, with the error the
bound costs stated. Pure functions of frames: no I/O.

- **URLs** (and the times taken per URL, and the queries' sample): at most ``URL_CAP`` kept
  (the caps are ``lib.logs.counting.caps``'s),
  the busiest. When a merge holds more, the rest are dropped and the largest count dropped is
  added to ``error``: no URL's count is short by more than the sum of those (a URL dropped and
  seen again starts from what it had since), and a URL not listed has at most that many
  requests. While nothing was dropped (any log with fewer distinct URLs) every count is exact.
  Chosen over a sketch (Space-Saving, Count-Min): exact in the common case, mergeable in any
  order, and its error bound is a plain number.
- **Distinct values** (queries per URL, visitors per day): hashes, sampled as distinct-sampling
  does (Gibbons, 2001): a sample at level ``l`` keeps the hashes below ``2**(64 - l)``, one in
  ``2**l`` of the distinct values whatever their frequency; a count is the sample's count times
  ``2**l`` (exact at level 0). A merge takes the highest level of its parts and raises it
  until the sample fits ``cap``.
- **Times taken**: counted in buckets of width ``GAMMA`` on a log scale (an HDR-style histogram);
  a percentile is read as its bucket's geometric middle: within ``sqrt(GAMMA) - 1`` (2.5%) of
  the nearest-rank percentile of the times logged.
"""

from __future__ import annotations

import importlib
import math
import zlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import polars as pl

from lib.logs.counting import caps
from lib.logs.counting.ranking import busiest

GAMMA = 1.05  # the ratio between two buckets' bounds
_LOG_GAMMA = math.log(GAMMA)


@dataclass(frozen=True)
class BoundedUrls:
    urls: pl.DataFrame  # url, requests, bytes
    durations: pl.DataFrame  # url, bucket, requests
    queries: pl.DataFrame  # url, query
    error: int  # what any count may be short by (0: exact)


def top_urls(
    urls: pl.DataFrame, durations: pl.DataFrame, queries: pl.DataFrame, error: int
) -> BoundedUrls:
    """The ``URL_CAP`` busiest of ``urls`` (ties by URL), the durations and queries of those;
    ``error`` grown by the largest count dropped."""
    cap = caps.URL_CAP
    if urls.height <= cap:
        return BoundedUrls(urls, durations, queries, error)
    ranked = busiest(urls, cap + 1, "url")  # the first dropped has the most of those dropped
    kept, dropped = ranked.head(cap), ranked.slice(cap)
    names = kept.select("url")
    return BoundedUrls(
        kept,
        durations.join(names, on="url", how="semi", nulls_equal=True),
        queries.join(names, on="url", how="semi", nulls_equal=True),
        error + int(dropped.get_column("requests").max()),
    )


def distinct(samples: list[tuple[pl.DataFrame, int]], cap: int) -> tuple[pl.DataFrame, int]:
    """The union of distinct-hash ``samples`` (a frame of distinct rows and its level each) as
    one sample of at most ``cap`` rows, and its level. A set: its rows come in no set order
    (only their count is read)."""
    level = max((lvl for _, lvl in samples), default=0)
    frames = [_at(frame, level) for frame, _ in samples if not frame.is_empty()]
    frames = frames or [samples[0][0]]  # all empty: one of them, for its schema
    merged = _union(frames)
    while merged.height > cap:
        level += 1
        merged = _at(merged, level)
    return merged, level


def _union(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The distinct rows of ``frames``, each of distinct rows. Usually one is big (the compiled
    counter's) and the rest a few rows (the lines it left over): the others' new rows are added
    to the biggest, which is only scanned, not hashed (unique over all of them hashed every
    row: 56 ms on 441,000 visitors)."""
    if len(frames) == 1:
        return frames[0]
    frames = sorted(frames, key=lambda frame: frame.height, reverse=True)
    biggest, rest = frames[0], pl.concat(frames[1:]).unique()
    hashed = biggest.columns[1]
    shared = biggest.filter(pl.col(hashed).is_in(rest.get_column(hashed).implode()))
    new = rest.join(shared, on=biggest.columns, how="anti", nulls_equal=True)
    return pl.concat([biggest, new]) if not new.is_empty() else biggest


def _at(frame: pl.DataFrame, level: int) -> pl.DataFrame:
    """The rows of a sample kept at ``level``: hashes below ``2**(64 - level)``."""
    if level == 0:
        return frame
    if level >= 64:
        return frame.clear()
    hashed = pl.col(frame.columns[1])
    return frame.filter(hashed < pl.lit(1 << (64 - level), dtype=pl.UInt64))


def estimate(count: int, level: int) -> int:
    """How many distinct values a sample of ``count`` at ``level`` stands for."""
    return count << level


def key_hash(key: bytes) -> int:
    """The 64-bit hash a key is sampled by: its CRC-32 (the high half) and Adler-32 (zlib's
    two checksums), so that the compiled counter (``_clf.c``) computes the very same."""
    return zlib.crc32(key) << 32 | zlib.adler32(key)


def key_hashes(keys: pl.Series) -> pl.Series:
    """``key_hash`` of each of ``keys`` (text, UTF-8), as UInt64: by the compiled counter's
    ``key_hashes`` when it is built (several times faster), else one by one."""
    encoded = [key.encode() for key in keys.to_list()]
    compiled = _compiled()
    hashes = compiled.key_hashes(encoded) if compiled else [key_hash(key) for key in encoded]
    return pl.Series(keys.name, hashes, dtype=pl.UInt64)


@cache
def _compiled() -> ModuleType | None:
    """The compiled counter's module (``lib/logs/parsing/_clf.c``), or None where it is not
    built."""
    try:
        return importlib.import_module("lib.logs.parsing._clf")
    except ImportError:
        return None


def query_key(url: pl.Expr, query: pl.Expr) -> pl.Expr:
    """The key of a URL's query: ``url NUL query``."""
    return pl.concat_str([url.fill_null(""), pl.lit("\0"), query])


def visitor_key(day: pl.Expr, host: pl.Expr, agent: pl.Expr) -> pl.Expr:
    """The key of a visitor: ``day NUL client NUL user-agent`` (the day as 2026-12-31, UTC; no
    agent logged: empty)."""
    parts = [day.dt.to_string("%Y-%m-%d"), host.fill_null(""), agent.fill_null("")]
    return pl.concat_str(parts, separator="\0")


def duration_bucket(duration_us: pl.Expr) -> pl.Expr:
    """The bucket of a time taken in microseconds: -1 for none (0), else floor(log_GAMMA(t))."""
    value = duration_us.cast(pl.Float64)
    bucket = (value.log() / _LOG_GAMMA).floor()
    return pl.when(value < 1).then(-1).otherwise(bucket).cast(pl.Int16)


def bucket_value(bucket: int) -> float:
    """What a bucket stands for, in microseconds: the geometric middle of its bounds."""
    return 0.0 if bucket < 0 else GAMMA ** (bucket + 0.5)


def percentiles(buckets: pl.DataFrame, shares: tuple[float, ...]) -> list[float | None]:
    """Nearest-rank percentiles (``shares`` in (0, 1]) of the times counted in ``buckets``
    (``bucket``, ``requests``), in microseconds; None each when there is none."""
    rows = buckets.group_by("bucket").agg(pl.col("requests").sum()).sort("bucket")
    total = int(rows.get_column("requests").sum() or 0)
    if not total:
        return [None for _ in shares]
    cumulative = rows.get_column("requests").cum_sum().to_list()
    names = rows.get_column("bucket").to_list()
    found = []
    for share in shares:
        rank = max(1, math.ceil(share * total))
        index = next(i for i, seen in enumerate(cumulative) if seen >= rank)
        found.append(bucket_value(names[index]))
    return found
