"""A deterministic synthetic NASA-like access log, for when the real one cannot be fetched.

It imitates ``NASA_access_log_Aug95.gz`` in form, not in fact: Common Log Format, August 1995 at
-0400, in time order, with a daily and weekly rhythm, no requests during the Hurricane Erin
shutdown (1 Aug 14:52:01 to 3 Aug 04:36:13), heavy-tailed host popularity over realistic 1995
names (online-service proxies, universities, ccTLD hosts, IP literals), heavy-tailed paths, and
a sprinkle of the damage real logs have (truncated and empty lines, which are malformed; requests
with undecodable bytes, without a protocol, or with quotes inside, which are still requests).

Everything it produces is labelled: a sidecar ``<file>.synthetic.json`` marks the file, and
``is_synthetic`` reads it, so reports can say their input was synthetic.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
from isal import isal_zlib

SYNTHETIC_LINES = 1_569_898
MARKER_SUFFIX = ".synthetic.json"
MALFORMED_EVERY = 50_000  # about one damaged line in this many
_BATCH = 200_000
_START = datetime(1995, 8, 1)
_GAP = (datetime(1995, 8, 1, 14, 52, 2), datetime(1995, 8, 3, 4, 36, 13))  # [start, end)
_HOURS = 31 * 24

_CITIES = "den sea dfw aus cha nyc bos atl chi lax sfo phx mia hou det min stl pdx dc tf".split()
_WORDS = (
    "alpha beta gamma delta sun moon star comet orbit apollo gemini mercury saturn venus mars "
    "pluto nova vega lyra orion atlas titan luna sirius rigel polaris castor pollux draco"
).split()
_UNIVERSITIES = "umd mit cmu stanford berkeley utexas umich uiuc purdue cornell ucla".split()
_DEPARTMENTS = "cs ee phys math astro lib eng chem geo".split()
_CCTLDS = [
    ("ac.uk", 7),
    ("co.uk", 5),
    ("ca", 10),
    ("de", 9),
    ("ac.jp", 5),
    ("co.jp", 3),
    ("com.au", 4),
    ("edu.au", 3),
    ("se", 4),
    ("fr", 3),
    ("nl", 4),
    ("it", 3),
    ("com.br", 2),
    ("fi", 2),
    ("no", 2),
    ("dk", 2),
    ("ch", 2),
    ("at", 2),
    ("es", 2),
    ("ac.kr", 1),
    ("tw", 1),
    ("ac.za", 1),
    ("ac.nz", 1),
    ("mx", 1),
    ("ac.il", 1),
]  # (suffix, relative weight)
_GENERIC = "com com com net net org".split()
_ISPS = "onramp intac halcyon eskimo sover cais teleport primenet tiac ios concentric".split()
_FIRST_OCTETS = [128, 129, 130, 131, 134, 137, 140, 141, 192, 193, 194, 198, 199, 204, 205, 206]
_SECTIONS = {
    "/shuttle/missions/": ["sts-69/", "sts-70/", "sts-71/", "sts-68/", "sts-73/"],
    "/shuttle/countdown/": ["", "liftoff.html", "video/livevideo.gif", "count.gif"],
    "/history/apollo/": ["", "apollo-13/apollo-13.html", "apollo-11/apollo-11.html"],
    "/images/": [
        "NASA-logosmall.gif",
        "KSC-logosmall.gif",
        "MOSAIC-logosmall.gif",
        "USA-logosmall.gif",
        "WORLD-logosmall.gif",
        "ksclogo-medium.gif",
        "launch-logo.gif",
        "shuttle-patch-logo.gif",
    ],
    "/facilities/": ["lc39a.html", "vab.html", "mlp.html", "tour.html"],
    "/elv/": ["", "elvpage.htm", "ATLAS_CENTAUR/atlas.gif", "DELTA/delta.gif"],
}


def marker_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + MARKER_SUFFIX)


def is_synthetic(path: str | Path) -> bool:
    """True when ``path`` was written by ``generate_log`` (its marker file is beside it)."""
    return marker_path(path).exists()


def _host_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct host names, busiest first: proxies lead, then a mix of everything."""
    proxies = [f"piweba{i}y.prodigy.com" for i in range(1, 5)]
    proxies += [f"www-{c}{n}.proxy.aol.com" for c in "abcdef" for n in range(1, 7)]
    names: list[str] = list(proxies)
    seen = set(names)
    kinds = ["ip", "edu", "gov", "cctld", "generic", "netcom", "compuserve", "prodigy"]
    weights = np.array([20, 12, 3, 20, 31, 7, 5, 2], dtype=float)
    picks = rng.choice(len(kinds), size=count * 2, p=weights / weights.sum())
    numbers = rng.integers(0, 256, size=(count * 2, 4))
    cctld_p = np.array([w for _, w in _CCTLDS], dtype=float)
    cctlds = rng.choice(len(_CCTLDS), size=count * 2, p=cctld_p / cctld_p.sum())
    words = rng.integers(0, len(_WORDS), size=count * 2)
    for i, kind in enumerate(picks):
        if len(names) >= count:
            break
        a, b, c, d = (int(x) for x in numbers[i])
        word = _WORDS[words[i]]
        kind = kinds[kind]
        if kind == "ip":
            name = f"{_FIRST_OCTETS[a % len(_FIRST_OCTETS)]}.{b}.{c}.{max(d, 1)}"
        elif kind == "edu":
            uni, dept = _UNIVERSITIES[a % len(_UNIVERSITIES)], _DEPARTMENTS[b % len(_DEPARTMENTS)]
            name = f"{word}{c}.{dept}.{uni}.edu"
        elif kind == "gov":
            agency = ("ksc.nasa.gov", "jsc.nasa.gov", "noaa.gov", "af.mil")[a % 4]
            name = f"{word}{c}.{agency}"
        elif kind == "cctld":
            name = f"{word}{c}.{_WORDS[b % len(_WORDS)]}.{_CCTLDS[cctlds[i]][0]}"
        elif kind == "generic":
            isp = _ISPS[a % len(_ISPS)]
            name = f"{('slip', 'ppp', 'dial', 'pm', 'ras')[b % 5]}{c}-{d}.{isp}.{_GENERIC[a % 6]}"
        elif kind == "netcom":
            name = f"ix-{_CITIES[a % len(_CITIES)]}{b % 12 + 1}-{c % 30 + 1:02d}.ix.netcom.com"
        elif kind == "compuserve":
            name = f"dd{b % 30 + 1:02d}-{c:03d}.compuserve.com"
        else:
            name = f"disc{b}-{c}.prodigy.com"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _paths() -> list[str]:
    paths = ["/", "/ksc.html", "/shuttle/missions/missions.html", "/htbin/cdt_main.pl"]
    for section, leaves in _SECTIONS.items():
        paths += [section + leaf for leaf in leaves]
    for mission in range(50, 75):
        paths += [f"/shuttle/missions/sts-{mission}/mission-sts-{mission}.html"]
        paths += [f"/shuttle/missions/sts-{mission}/sts-{mission}-patch-small.gif"]
    return paths


def _hour_bounds() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hour of the month: the allowed [lo, hi) seconds outside the outage, and a weight."""
    gap_lo = int((_GAP[0] - _START).total_seconds())
    gap_hi = int((_GAP[1] - _START).total_seconds())
    lo = np.arange(_HOURS) * 3600
    hi = lo + 3600
    lo2 = np.where((lo >= gap_lo) & (lo < gap_hi), np.minimum(gap_hi, hi), lo)
    hi2 = np.where((hi > gap_lo) & (hi <= gap_hi), np.maximum(gap_lo, lo2), hi)
    hour_of_day = np.arange(_HOURS) % 24
    weekday = np.array([(_START + timedelta(hours=int(h))).weekday() for h in range(_HOURS)])
    daily = 0.35 + np.exp(-(((hour_of_day - 14) / 4.5) ** 2))  # afternoon peak, quiet nights
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    weight = daily * weekly * (hi2 - lo2) / 3600
    return lo2, hi2, weight


def _damage(rng: np.random.Generator, lines: list[str], index: np.ndarray) -> tuple[dict, int]:
    """Replace some lines by damaged ones; return ``{position: bytes}`` and the malformed count."""
    special: dict[int, bytes] = {}
    malformed = 0
    for k, i in enumerate(index.tolist()):
        line = lines[i]
        kind = k % 5
        if kind == 0:  # truncated mid-line: malformed
            special[i] = line[: int(rng.integers(1, len(line) - 12))].encode()
            malformed += 1
        elif kind == 1:  # an empty line: malformed
            special[i] = b""
            malformed += 1
        elif kind == 2:  # undecodable bytes in the request: still a request, answered 400
            head = line.split(' "', 1)[0]
            special[i] = head.encode() + b' "\x16\xb1\x02\x01\x00\x00\xc0..." 400 -'
        elif kind == 3:  # no protocol: still a request
            head = line.split(' "', 1)[0]
            special[i] = head.encode() + b' "GET /" 200 7280'
        else:  # quotes and a Latin-1 byte inside the request: still a request
            head = line.split(' "', 1)[0]
            special[i] = head.encode() + b' "GET /facts\xe9faq"12".html HTTP/1.0" 404 -'
    return special, malformed


class _GzipWriter:
    """gzip with a fixed header (no name, mtime 0), so the same content gives the same bytes."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.packer = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)  # 31: gzip wrapper

    def write(self, data: bytes) -> None:
        self.raw.write(self.packer.compress(data))

    def __enter__(self) -> _GzipWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.raw.write(self.packer.flush())


def _writer(raw: BinaryIO, gzip: bool):
    return _GzipWriter(raw) if gzip else contextlib.nullcontext(raw)


def generate_log(path: str | Path, lines: int = SYNTHETIC_LINES, seed: int = 1995) -> Path:
    """Write ``lines`` synthetic log lines to ``path`` (gzip if it ends in ``.gz``) atomically,
    with its ``.synthetic.json`` marker. The same ``seed`` and ``lines`` give the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    hosts = _host_names(rng, max(10, min(75_000, lines // 20)))
    host_p = 1.0 / (np.arange(len(hosts)) + 8.0) ** 1.15
    paths = _paths()
    path_p = 1.0 / (np.arange(len(paths)) + 1.0) ** 1.1
    requests = [f'"GET {p} HTTP/1.0"' for p in paths]
    requests += [f'"HEAD {p} HTTP/1.0"' for p in paths[:5]] + [
        '"POST /cgi-bin/geturlstats.pl HTTP/1.0"'
    ]
    req_p = np.concatenate([path_p / path_p.sum() * 0.995, np.full(6, 0.005 / 6)])
    lo, hi, weight = _hour_bounds()
    minutes = [
        (_START + timedelta(minutes=m)).strftime("%d/%b/%Y:%H:%M") for m in range(_HOURS * 60)
    ]
    seconds_text = [f":{s:02d} -0400] " for s in range(60)]
    statuses = np.array([200, 304, 302, 404, 403, 500])
    status_p = np.array([0.8915, 0.08, 0.02, 0.0065, 0.0015, 0.0005])
    damaged = np.sort(rng.choice(lines, size=max(lines // MALFORMED_EVERY, 0), replace=False))

    hour = np.sort(rng.choice(_HOURS, size=lines, p=weight / weight.sum()))
    offset = np.sort(rng.random(lines))  # only shapes within-hour order; stays sorted per hour
    second = (lo[hour] + (offset * (hi[hour] - lo[hour])).astype(np.int64)).astype(np.int64)
    second.sort()

    malformed = 0
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as raw, _writer(raw, gzip=path.suffix == ".gz") as out:
            for begin in range(0, lines, _BATCH):
                end = min(begin + _BATCH, lines)
                n = end - begin
                h = rng.choice(len(hosts), size=n, p=host_p / host_p.sum())
                r = rng.choice(len(requests), size=n, p=req_p)
                s = rng.choice(len(statuses), size=n, p=status_p)
                size = np.exp(rng.normal(8.3, 1.6, size=n)).astype(np.int64) + 80
                no_body = (s == 1) | (s >= 3) | ((s == 2) & (rng.random(n) < 0.9))
                no_body |= rng.random(n) < 0.01
                sec = second[begin:end]
                batch = [
                    f"{hosts[hi_]} - - [{minutes[t // 60]}{seconds_text[t % 60]}"
                    f"{requests[ri]} {statuses[si]} {'-' if nb else sz}"
                    for hi_, t, ri, si, nb, sz in zip(
                        h.tolist(),
                        sec.tolist(),
                        r.tolist(),
                        s.tolist(),
                        no_body.tolist(),
                        size.tolist(),
                        strict=True,
                    )
                ]
                here = damaged[(damaged >= begin) & (damaged < end)] - begin
                special, bad = _damage(rng, batch, here)
                malformed += bad
                encoded = [special.get(i) or line.encode() for i, line in enumerate(batch)]
                for i in special:
                    encoded[i] = special[i]
                out.write(b"\n".join(encoded) + b"\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    marker = {
        "synthetic": True,
        "generator": "lib.synthetic",
        "seed": seed,
        "lines": lines,
        "malformed": malformed,
        "note": "Synthetic NASA-like log; not the real NASA_access_log_Aug95. Answers computed "
        "from it describe this file only.",
    }
    marker_path(path).write_text(json.dumps(marker, indent=2) + "\n")
    return path
