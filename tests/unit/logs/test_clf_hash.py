"""The fast path's hash tables (lib/logs/parsing/_clf.c) against keys crafted to collide: the hash
is seeded, and a table whose finds probe too far re-seeds itself, so counting stays linear even for
someone who knows the seed.

The keys are made by running the hash's steps backwards from one chosen result (each step is
invertible: an xor with the seed, a multiplication by an odd constant, an xor with the value
shifted right by 29 or 32 bits), so these tests repeat _clf.c's constants; the first assertions
of each test fail if those change.
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lib.logs.counting.counted import BlockSummaries
from lib.logs.datasets.synthetic import generate_log
from lib.logs.parsing import accelerators
from lib.logs.parsing.formats import FORMATS, FormatChoice
from lib.logs.window import Window
from tests.support.summaries import assert_same

_clf = accelerators._built(accelerators.ACCELERATORS["clf"].module)
pytestmark = pytest.mark.skipif(_clf is None, reason="the C parser is not built")

SEED = 1995  # the seed the keys are crafted for, as if it had leaked
MANY = 100_000
FEW = 5_000  # without the guard, quadratic: 12.5 million probes
WINDOW = Window.parse("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")

# hash_bytes' constants: the lanes' starting values and multipliers, and int_slot's multipliers
START_H, START_G = 0x9E3779B97F4A7C15, 0x6A09E667F3BCC909
MUL_H, MUL_G = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
MUL_INT = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def _u64(value: int) -> np.uint64:
    return np.uint64(value & MASK)


def _inverse(odd: int) -> np.uint64:
    return np.uint64(pow(odd, -1, 1 << 64))


def _unfold(x: np.ndarray, shift: int) -> np.ndarray:
    """The x that ``x ^= x >> shift`` turned into the given values."""
    out = x.copy()
    for step in range(shift, 64, shift):
        out ^= x >> np.uint64(step)
    return out


def _g_lane(v: np.ndarray, seed: int) -> np.ndarray:
    """hash_bytes' second lane after the first 16 bytes of a 16-byte key (bytes 8-15 = v)."""
    rotated = (seed << 32 | seed >> 32) & MASK
    g = (_u64((START_G ^ rotated) + 16) ^ v) * np.uint64(MUL_G)
    return g ^ (g >> np.uint64(29))


def _h_lane(w: np.ndarray, seed: int) -> np.ndarray:
    """hash_bytes' first lane after the first 16 bytes of a key (bytes 0-7 = w)."""
    h = (_u64(START_H ^ seed) ^ w) * np.uint64(MUL_H)
    return h ^ (h >> np.uint64(32))


def _hashes16(keys: np.ndarray, seed: int) -> np.ndarray:
    """hash_bytes of 16-byte keys (an n x 2 array of little-endian words), all at once."""
    x = (_h_lane(keys[:, 0], seed) ^ _g_lane(keys[:, 1], seed)) * np.uint64(MUL_G)
    return x ^ (x >> np.uint64(29))


def _as_bytes(words: np.ndarray) -> list[bytes]:
    raw = words.astype("<u8").tobytes()
    return [raw[i : i + 16] for i in range(0, len(raw), 16)]


def colliding_keys(n: int, seed: int) -> list[bytes]:
    """n distinct 16-byte keys with one and the same hash under ``seed``: any second half,
    and the first half that makes the two lanes xor to one value."""
    v = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    h = np.uint64(0x0123456789ABCDEF) ^ _g_lane(v, seed)
    w = (_unfold(h, 32) * _inverse(MUL_H)) ^ _u64(START_H ^ seed)
    return _as_bytes(np.stack([w, v], axis=1))


def colliding_ints(n: int, seed: int) -> list[int]:
    """n distinct int keys (the hours' table) whose mixed values share their low 32 bits under
    ``seed``: one slot in every table up to 2**32 slots."""
    x = (np.arange(n, dtype=np.uint64) << np.uint64(32)) | np.uint64(0x5EED)
    x = _unfold(x, 29) * _inverse(MUL_G)
    x = _unfold(x, 32) * _inverse(MUL_INT)
    return (x ^ _u64(seed)).view(np.int64).tolist()


def colliding_hosts(seed: int, slots: int = 4096) -> list[bytes]:
    """Host names (16 letters and digits) that share their home slot in a table of ``slots``
    slots under ``seed``, found by hashing a million random ones with ``_hashes16``."""
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
    letters = np.random.default_rng(seed).choice(alphabet, size=(1 << 20, 16))
    words = letters.view("<u8")
    chosen = words[(_hashes16(words, seed) & np.uint64(slots - 1)) == 0]
    return _as_bytes(chosen)


# --- the table's own hook ---------------------------------------------------------------------


def test_crafted_keys_collide_under_their_seed_only():
    keys = colliding_keys(MANY, SEED)
    assert len(set(keys)) == MANY
    assert len({_clf._hash(key, SEED) for key in keys}) == 1  # one full 64-bit hash
    assert len({_clf._hash(key, SEED + 1) for key in keys}) == MANY


def test_colliding_keys_are_counted_in_linear_time():
    keys = colliding_keys(MANY, SEED)
    assert _clf._table_probes(keys[:FEW], SEED)[1] == 1  # (quick to fail without the guard)
    probes, reseeds = _clf._table_probes(keys, SEED)
    assert 1 <= reseeds <= 2  # a new seed scatters them
    assert probes < 2 * MANY  # random hashes: about 0.8 a key at this load


def test_without_the_guard_colliding_keys_probe_quadratically():
    keys = colliding_keys(FEW, SEED)
    assert _clf._table_probes(keys, SEED, guard=False) >= (FEW * (FEW - 1) // 2, 0)
    probes, reseeds = _clf._table_probes(keys, SEED)
    assert reseeds == 1 and probes < 3 * FEW


def test_the_hours_table_resists_crafted_collisions_too():
    keys = colliding_ints(MANY, SEED)
    assert len(set(keys)) == MANY
    probes, reseeds = _clf._table_probes(keys[:FEW], SEED, guard=False)
    assert (probes, reseeds) >= (FEW * (FEW - 1) // 2, 0)
    probes, reseeds = _clf._table_probes(keys, SEED)
    assert 1 <= reseeds <= 2 and probes < 2 * MANY


def test_ordinary_keys_never_reseed():
    hosts = [f"host{i % 7919}.example.com".encode() for i in range(MANY)]
    hours = [hour * 3_600_000_000 for hour in range(MANY)]  # as microseconds
    for seed in range(4):
        probes, reseeds = _clf._table_probes(hosts, seed)
        assert reseeds == 0 and probes < MANY
        assert _clf._table_probes(hours, seed)[1] == 0


# --- a Counter --------------------------------------------------------------------------------


def counted(counter) -> tuple:
    """Counter.result() with each key list and count list made one dict (order aside)."""
    result = counter.result()
    pairs = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (13, 14)]
    dicts = tuple(
        dict(zip(result[k], result[c], strict=True)) if result[k] else result[k] for k, c in pairs
    )
    return (result[0], result[11], result[12], *dicts)


def test_a_counter_counts_hosts_crafted_to_collide_right():
    hosts = colliding_hosts(SEED)
    assert len(hosts) > 150
    assert len({_clf._hash(host, SEED) & 4095 for host in hosts}) == 1  # one home slot
    assert _clf._table_probes(hosts, SEED)[1] >= 1  # enough to make a table re-seed
    stamp = b' - - [18/Aug/1995:12:30:00 -0400] "GET / HTTP/1.0" 200 5'
    others = [b"host%d" % (i % 97) + stamp for i in range(20_000)]  # time for threads to meet
    block = b"\n".join([host + stamp for host in hosts] + others)
    results = []
    for seed in (SEED, SEED + 1):
        counter = _clf.Counter(False, 0, 1, seed=seed)
        with ThreadPoolExecutor(2) as pool:  # in several shards that re-seed, merged at the end
            list(pool.map(counter.add, [block] * 8))
        results.append(counted(counter))
    assert results[0] == results[1]
    expected = collections.Counter(line.split(b" ")[0].decode() for line in block.split(b"\n"))
    assert results[0][3] == {host: 8 * count for host, count in expected.items()}


@pytest.mark.parametrize("name", ["common", "combined"])
def test_the_seed_does_not_change_a_summary(tmp_path, name):
    path = generate_log(tmp_path / f"{name}.log", lines=20_000, seed=11, log_format=name)
    data = path.read_bytes()
    blocks = [data[i : i + (1 << 16)] for i in range(0, len(data), 1 << 16)]
    blocks = [b[: b.rfind(b"\n") + 1] for b in blocks]  # whole lines; the cut ones left out
    choice = FormatChoice.of(FORMATS[name])
    summaries = []
    for seed in (1, 2, None):
        extra = {} if seed is None else {"seed": seed}
        counter = _clf.Counter(name == "combined", *WINDOW.micros(), **extra)
        counts = BlockSummaries(WINDOW, choice, counter)
        for block in blocks:
            counts.finish(accelerators.count(counter, block) or block)
        summaries.append(counts.counts())
    assert summaries[0].requests > 15_000
    assert_same(summaries[0], summaries[1])
    assert_same(summaries[0], summaries[2])
