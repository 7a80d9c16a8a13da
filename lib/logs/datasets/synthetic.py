"""A deterministic synthetic NASA-like access log, for when the real one cannot be fetched.

It imitates ``NASA_access_log_Aug95.gz`` in form, not in fact: Common Log Format, August 1995 (or
another month, e.g. July 1995 as a second month) at -0400, in time order, with a daily and weekly
rhythm and, in August, no requests during the Hurricane Erin shutdown (after 1 Aug 14:52:01,
before 3 Aug 04:36:13). Host popularity is heavy-tailed over about 75,000 procedurally named
1995-style hosts (online-service proxies at the top, then dial-ups, universities, government,
ccTLD hosts and IP literals); paths are heavy-tailed over a few hundred NASA-like pages and images.
About one line in 50,000 is damaged the way real logs are: truncated or empty lines (malformed),
and requests with undecodable bytes, without a protocol or with a quote inside (still requests).

It can also write the same log in the Combined Log Format (``log_format="combined"``): every line
then ends with a ``"referer" "user-agent"`` drawn from pools of 1995-era and a few modern values
(many referers ``-``; a few agents hold a quote, written ``\\"`` as Apache escapes it). Those are
drawn from a random stream of their own, so hosts, times, requests, statuses, sizes and damaged
lines are those of the Common version of the same seed, and so are Q1's answers.

Everything it produces is labelled: a sidecar ``<file>.synthetic.json`` marks the file as
synthetic, and ``lib.logs.reading.synthetic_marker.is_synthetic`` reads it, so reports can say
their input was synthetic.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
from isal import igzip

from lib.logs.reading.synthetic_marker import marker_path
from lib.output import replacing, write_json

SYNTHETIC_LINES = 1_569_898
DAMAGE_EVERY = 50_000  # one damaged line in this many
HOST_POOL = 85_000  # candidate hosts; about 75,000 of them appear in a full-size log
_BATCH = 200_000  # lines formatted and written at once: bounds memory
MONTH = (1995, 8)  # the default month: August 1995, local time -0400
LOG_FORMATS = ("common", "combined")  # what ``generate_log`` can write
_OUTAGES = {  # seconds after the month's start with no requests, [start, end)
    (1995, 8): (14 * 3600 + 52 * 60 + 2, 86_400 * 2 + 4 * 3600 + 36 * 60 + 13),  # Hurricane Erin
}
_HOST_ZIPF = (1.2, 60.0)  # p(rank k) ~ (k + q) ** -s: heavy tail, flattened head
_PATH_ZIPF = (1.1, 5.0)
_STATUSES = (200, 304, 302, 404, 403, 500)
_STATUS_P = (0.89349, 0.08, 0.02, 0.0064, 0.0001, 0.00001)

_WORDS = (
    "apollo atlas comet delta draco gemini hubble luna mars nova orion pluto rigel saturn sirius "
    "titan vega venus zeus eagle falcon hawk raven cedar maple oak pine aspen birch willow"
).split()
_MACHINES = "pc mac sun sparc hp ws lab node term gw x dial user".split()
_SYLLABLES = "ka ki ku to na ni ma mi ra ri sa yo ha be lo ve de an er in on el go ta shi".split()
_DEPTS = "cs ee phys math astro lib eng chem geo me bio acc cc".split()
_UNIS = (
    "umd mit cmu stanford berkeley utexas umich uiuc purdue cornell ucla ufl umn asu gatech psu "
    "wisc uiowa colorado rice byu vt ncsu rpi tamu"
).split()
_GOV = (
    "ksc.nasa.gov jsc.nasa.gov gsfc.nasa.gov jpl.nasa.gov msfc.nasa.gov larc.nasa.gov noaa.gov "
    "nih.gov lanl.gov llnl.gov ornl.gov nist.gov af.mil navy.mil army.mil"
).split()
_STATES = "fl tx ca ny va md oh il wa co".split()
_ISPS = (
    "onramp halcyon netcom intac eskimo sover cais teleport primenet tiac ios concentric "
    "inetnebr pipeline gate iadfw interramp mindspring"
).split()
_COMPANIES = (
    "att ibm hp dec sun sgi boeing lockheed rockwell intel apple motorola unisys tandem bdm "
    "mitre rand sri"
).split()
_CITIES = "den sea dfw aus cha nyc bos atl chi lax sfo phx mia hou det min stl pdx dca".split()
# country code: (weight, second-level labels); "" means directly under the country code
_CCTLDS = {
    "ca": (10, ["", "", "on", "bc", "ab"]),
    "uk": (9, ["ac", "ac", "co", "demon.co"]),
    "de": (8, ["", ""]),
    "jp": (7, ["ac", "co", "or", "ad"]),
    "au": (5, ["edu", "com", "oz"]),
    "se": (4, [""]),
    "nl": (4, [""]),
    "fr": (3, [""]),
    "it": (3, [""]),
    "fi": (3, [""]),
    "br": (2, ["com", ""]),
    "no": (2, [""]),
    "dk": (2, [""]),
    "ch": (2, [""]),
    "at": (2, ["ac", ""]),
    "es": (2, [""]),
    "be": (1, [""]),
    "kr": (1, ["ac", "co"]),
    "tw": (1, ["edu"]),
    "za": (1, ["ac", "co"]),
    "nz": (1, ["ac", "co"]),
    "il": (1, ["ac"]),
    "mx": (1, [""]),
}
# first octets (or two) of IP literals, with weights: mostly US networks, some RIPE and APNIC
_IP_PREFIXES = {
    "128.159": 3, "163.206": 2, "128": 4, "129": 4, "130": 3, "131": 3, "134": 3, "137": 2,
    "140": 3, "141": 2, "143": 2, "152": 2, "155": 2, "158": 2, "192": 6, "198": 8, "199": 9,
    "204": 9, "205": 8, "206": 5, "193": 6, "194": 5, "202": 3, "203": 2, "133": 2,
}  # fmt: skip
_PATH_HEAD = """/ksc.html /history/apollo/images/apollo-logo1.gif / /images/launch-logo.gif
    /shuttle/countdown/ /shuttle/countdown/count70.gif /shuttle/missions/
    /shuttle/missions/missions.html /htbin/cdt_main.pl /history/apollo/"""
_PATH_EXTRAS = """/history/history.html /history/apollo/apollo.html /shuttle/countdown/liftoff.html
    /elv/elvpage.htm /elv/ATLAS_CENTAUR/atlas.gif /elv/DELTA/delta.gif /whats-new.html
    /shuttle/technology/sts-newsref/stsref-toc.html /facts/faq.html /shuttle/countdown/video/"""
_IMAGES = (
    "NASA-logosmall KSC-logosmall MOSAIC-logosmall USA-logosmall WORLD-logosmall "
    "ksclogo-medium launch-logo ksclogosmall launchmedium construct kscmap-tiny "
    "shuttle-patch-logo shuttle-patch-small"
).split()


# The Combined format's extras, as (text, weight). Agents: mostly 1995 browsers (Netscape 1.x
# ahead), some robots and a few modern clients; two hold a quote, one a backslash.
_AGENTS = (
    ("Mozilla/1.1N (Windows; I; 16bit)", 200),
    ("Mozilla/1.22 (Windows; I; 16bit)", 140),
    ("Mozilla/1.22 (Windows; I; 32bit)", 60),
    ("Mozilla/1.1N (Macintosh; I; 68K)", 60),
    ("Mozilla/1.2N (Macintosh; I; PPC)", 40),
    ("Mozilla/2.0b1 (Windows; I; 32bit)", 30),
    ("Mozilla/1.1N (X11; I; SunOS 4.1.3 sun4m)", 30),
    ("Mozilla/1.1N (X11; I; IRIX 5.3 IP22)", 10),
    ("Mozilla/1.1N (X11; I; Linux 1.2.8 i486)", 10),
    ("NCSA Mosaic/2.0.0b4 (Windows x86)", 50),
    ("NCSA_Mosaic/2.6 (X11;SunOS 4.1.3 sun4m)  libwww/2.12 modified", 20),
    ("Spyglass_Mosaic/2.1 libwww/2.15_Spyglass", 20),
    ("AIR_Mosaic(16bit)/v1.00.198.07", 20),
    ("IBM WebExplorer DLL /v1.03", 20),
    ("IWENG/1.2.003", 5),
    ("Prodigy-WB/1.3e", 5),
    ("NetCruiser/V2.1", 10),
    ("MacWeb/1.00ALPHA3", 10),
    ("Lynx/2.3 BETA libwww/2.14", 30),
    ("Lynx/2.4 libwww/2.14", 20),
    ("Cello/1.01a", 10),
    ("WebCrawler/3.0 Robot libwww/4.0D", 10),
    ("MOMspider/1.00 libwww-perl/0.40", 5),
    ('Mozilla/1.1N (Windows; I; 16bit; "Trumpet Winsock 2.0")', 4),
    ('ArachneSpider/0.9 ("Arachne" crawler; +http://spider.example.edu/)', 2),
    ("Mozilla/2.0 (compatible; C:\\WINDOWS\\NETSCAPE.INI)", 1),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", 8),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", 4),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", 3),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 3),
    ("curl/8.5.0", 2),
    ("-", 5),
)  # fmt: skip
# an online service's own browser, which most of its proxy's lines come from
_SERVICE_AGENTS = {"prodigy.com": "Prodigy-WB/1.3e", "proxy.aol.com": "IWENG/1.2.003"}
_SITE = "http://www.ksc.nasa.gov"
# pages of the site that link to the others (an image's referer is one of them)
_INTERNAL_REFERERS = (
    ("/ksc.html", 40), ("/", 15), ("/shuttle/countdown/", 20), ("/shuttle/missions/", 8),
    ("/shuttle/missions/missions.html", 8), ("/history/apollo/", 6),
    ("/history/history.html", 4), ("/shuttle/countdown/liftoff.html", 3),
    ("/shuttle/missions/sts-69/mission-sts-69.html", 3), ("/facilities/lc39a.html", 2),
    ("/whats-new.html", 3),
)  # fmt: skip
_EXTERNAL_REFERERS = (
    ("http://www.yahoo.com/Science/Space/", 20),
    ("http://www.yahoo.com/Government/Agencies/Independent_Agencies/NASA/", 8),
    ("http://www.lycos.com/cgi-bin/pursuit?query=space+shuttle", 8),
    ("http://webcrawler.com/cgi-bin/WebQuery?searchText=nasa+shuttle", 6),
    ("http://home.netscape.com/home/whats-cool.html", 6),
    ("http://www.ncsa.uiuc.edu/SDG/Software/Mosaic/Docs/whats-new.html", 5),
    ("http://www.nasa.gov/", 10),
    ("http://www.jsc.nasa.gov/", 4),
    ("http://www.einet.net/galaxy/Engineering-and-Technology/Aerospace.html", 3),
    ("http://cuiwww.unige.ch/w3catalog?shuttle", 2),
    ("https://www.google.com/", 4),
    ("https://duckduckgo.com/", 1),
    ("https://en.wikipedia.org/wiki/Kennedy_Space_Center", 2),
    ("https://web.archive.org/web/1995/http://www.ksc.nasa.gov/", 1),
)
_NO_REFERER = 0.4  # share of lines whose browser sent no referer ("-")
_EXTERNAL = 0.3  # share of the other page requests referred from another site
_OWN_AGENT = 0.85  # share of a host's lines sent with its usual agent


def _pick(seq, x: int):
    return seq[x % len(seq)]


def _label(r: list[int]) -> str:
    """A machine label: ``pc12``, ``orion``, ``kitaro4``."""
    kind = r[0] % 3
    if kind == 0:
        return f"{_pick(_MACHINES, r[1])}{r[2] % 60}"
    if kind == 1:
        return _pick(_WORDS, r[1])
    return f"{_pick(_SYLLABLES, r[1])}{_pick(_SYLLABLES, r[2])}{_pick(_SYLLABLES, r[3])}{r[4] % 9}"


def _place(r: list[int]) -> str:
    """An invented institution name of two or three syllables: ``yamashi``, ``kona``."""
    parts = [_pick(_SYLLABLES, x) for x in r[: 2 + r[-1] % 2]]
    return "".join(parts)


def _ip(r: list[int]) -> str:
    prefix = _pick(_IP_PREFIX_LIST, r[0])
    octets = [str(x % 254 + 1) for x in r[1 : 4 - prefix.count(".")]]
    return ".".join([prefix, *octets])


def _dialup(r: list[int]) -> str:
    isp, tld = _pick(_ISPS, r[0]), _pick(("com", "net", "net"), r[1])
    return _pick(
        (
            f"slip{r[2] % 200}.{isp}.{tld}",
            f"ppp{r[2] % 40}-{r[3] % 250}.{isp}.{tld}",
            f"dialup-{r[2] % 8}-{r[3] % 250}.{_pick(_CITIES, r[4])}.{isp}.{tld}",
            f"pm{r[2] % 30}-{r[3] % 32}.{isp}.{tld}",
        ),
        r[5],
    )


def _online_service(r: list[int]) -> str:
    if r[0] % 3:
        return f"ix-{_pick(_CITIES, r[1])}{r[2] % 12 + 1}-{r[3] % 30 + 1:02d}.ix.netcom.com"
    dialin = f"ad{r[1] % 16:02d}-{r[2] % 80:03d}" if r[4] % 3 else f"slip{r[3] % 300}"
    return f"{dialin}.compuserve.com"


def _company(r: list[int]) -> str:
    tld = "org" if r[0] % 6 == 0 else "com"
    name = _pick(_COMPANIES, r[1]) if r[2] % 2 else _place(r[3:6])
    return f"{_label(r[6:11])}.{name}.{tld}"


def _edu(r: list[int]) -> str:
    uni = _pick(_UNIS, r[0]) if r[1] % 3 else _place(r[2:5])
    return f"{_label(r[5:10])}.{_pick(_DEPTS, r[10])}.{uni}.edu"


def _gov(r: list[int]) -> str:
    if r[0] % 10 == 0:  # a school district under .us
        return f"{_label(r[1:6])}.{_place(r[6:9])}.k12.{_pick(_STATES, r[9])}.us"
    return f"{_label(r[1:6])}.{_pick(_GOV, r[6])}"


def _cctld(r: list[int]) -> str:
    cc = _pick(_CCTLD_LIST, r[0])
    second = _pick(_CCTLDS[cc][1], r[1])
    place = _place(r[2:5])
    if cc == "jp" and second == "ac":
        place += "-u"
    elif cc == "de" and r[5] % 2:
        place = "uni-" + place
    dept = f"{_pick(_DEPTS, r[6])}." if r[7] % 2 else ""
    return ".".join(x for x in (_label(r[8:13]), dept + place, second, cc) if x)


_IP_PREFIX_LIST = [p for p, w in _IP_PREFIXES.items() for _ in range(w)]
_CCTLD_LIST = [cc for cc, (w, _) in _CCTLDS.items() for _ in range(w)]
# share of distinct hosts by kind (percent); the busiest ranks are proxies, set apart
_KINDS: list[tuple[Callable[[list[int]], str], int]] = [
    (_ip, 20),
    (_dialup, 22),
    (_online_service, 10),
    (_company, 9),
    (_edu, 14),
    (_gov, 5),
    (_cctld, 20),
]


def _proxies() -> list[str]:
    """The online services' web proxies, which carry the most traffic."""
    names = [f"piweba{i}y.prodigy.com" for i in range(1, 6)]
    names += [f"www-{c}{n}.proxy.aol.com" for c in "abcdef" for n in range(1, 7)]
    return names + [f"ix-{c}1-01.ix.netcom.com" for c in ("den", "sea", "nyc")]


def _host_pool(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct host names, busiest first."""
    head = _proxies()
    names = dict.fromkeys(rng.permutation(head).tolist())
    weights = np.array([w for _, w in _KINDS], dtype=float)
    while len(names) < count:
        need = (count - len(names)) * 11 // 10 + 16  # a few names come out twice
        kinds = rng.choice(len(_KINDS), size=need, p=weights / weights.sum())
        numbers = rng.integers(0, 1 << 20, size=(need, 13)).tolist()
        for kind, r in zip(kinds.tolist(), numbers, strict=True):
            names.setdefault(_KINDS[kind][0](r))
            if len(names) == count:
                break
    return list(names)[:count]


def _paths(rng: np.random.Generator) -> list[str]:
    """A few hundred NASA-like paths, most popular first (a fixed head, a shuffled tail)."""
    head = [f"/images/{name}.gif" for name in _IMAGES[:6]] + _PATH_HEAD.split()
    tail = [f"/images/{name}.gif" for name in _IMAGES[6:]]
    for n in range(1, 74):
        mission = f"/shuttle/missions/sts-{n}/"
        tail += [f"{mission}mission-sts-{n}.html", f"{mission}sts-{n}-patch-small.gif"]
        tail += [f"{mission}images/images.html"] if n > 55 else []
    for n in range(1, 18):
        tail += [f"/history/apollo/apollo-{n}/apollo-{n}.html"]
        tail += [f"/history/apollo/apollo-{n}/apollo-{n}-patch-small.gif"]
    for name in ("lc39a", "vab", "mlp", "crawler", "tour", "spaceport", "osb", "cape"):
        tail += [f"/facilities/{name}.html", f"/images/{name}-logo.gif"]
    for name in ("winvn.html", "winvn.gif", "wvsmall.gif", "bluemarb.gif", "readme.txt"):
        tail += [f"/software/winvn/{name}"]
    for name in ("menu", "blank", "image", "text", "sound", "movie"):
        tail += [f"/icons/{name}.xbm"]
    tail += _PATH_EXTRAS.split()
    return head + rng.permutation(tail).tolist()


def _days(month: tuple[int, int]) -> int:
    return calendar.monthrange(*month)[1]


def _times(rng: np.random.Generator, lines: int, month: tuple[int, int]) -> np.ndarray:
    """``lines`` sorted request times, in seconds after the month's first midnight (local)."""
    days = _days(month)
    from_peak = np.abs(np.arange(86_400) / 3600 - 14.5)
    from_peak = np.minimum(from_peak, 24 - from_peak)
    daily = 0.25 + np.exp(-0.5 * (from_peak / 4.0) ** 2)  # afternoon peak, quiet nights
    weekday = (np.arange(days) + datetime(*month, 1).weekday()) % 7
    weekly = np.where(weekday >= 5, 0.55, 1.0)
    jitter = rng.lognormal(0.0, 0.15, size=(days, 24))  # no two hours alike
    weight = (daily.reshape(24, 3600) * (weekly[:, None] * jitter)[:, :, None]).ravel()
    if month in _OUTAGES:  # the server was down
        weight[_OUTAGES[month][0] : _OUTAGES[month][1]] = 0.0
    cdf = np.cumsum(weight, out=weight)
    u = np.sort(rng.random(lines)) * cdf[-1]
    return np.searchsorted(cdf, u, side="right")  # a zero-weight second is never chosen


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with the probabilities whose cumulative sums are ``cdf``."""
    return np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")


def _zipf_cdf(n: int, s: float, q: float) -> np.ndarray:
    return np.cumsum((np.arange(n) + q) ** -s)


class _Catalogue:
    """What the log draws from: hosts, request strings and their response sizes."""

    def __init__(self, rng: np.random.Generator, pool: int):
        self.hosts = _host_pool(rng, pool)
        self.host_cdf = _zipf_cdf(pool, *_HOST_ZIPF)
        paths = _paths(rng)
        self.path_cdf = _zipf_cdf(len(paths), *_PATH_ZIPF)
        missing = [f"/pub/{w}/readme.txt" for w in _WORDS[:8]] + [
            "/history/apollo/apollo-13.html",
            "/shuttle/missions/sts-71/images/KSC-95EC-0916.txt",
            "/images/nasa-logo.gif",
            "/shuttle/resources/orbiters/atlantis.gif",
        ]
        xy = rng.integers(1, 400, size=(500, 2)).tolist()
        clicks = [f"/cgi-bin/imagemap/countdown70?{x},{y}" for x, y in xy]
        directories = [p.rstrip("/") for p in paths if p.endswith("/") and p != "/"]
        self.n_paths = len(paths)
        self.missing = (2 * len(paths), len(missing))  # (first index, count)
        self.clicks = (self.missing[0] + len(missing), len(clicks))
        self.dirs = (self.clicks[0] + len(clicks), len(directories))
        self.post = self.dirs[0] + len(directories)
        targets = paths + paths + missing + clicks + directories
        methods = ["GET"] * len(paths) + ["HEAD"] * len(paths)
        methods += ["GET"] * (len(targets) - len(methods))
        self.requests = [f'"{m} {t} HTTP/1.0"' for m, t in zip(methods, targets, strict=True)]
        self.requests.append('"POST /cgi-bin/geturlstats.pl HTTP/1.0"')
        self.path_sizes = np.exp(rng.normal(8.0, 1.4, len(paths))).astype(np.int64) + 100

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        """Indices into hosts, requests and ``_STATUSES``, and sizes (-1 is ``-``), for ``n``
        lines."""
        host = _draw(rng, self.host_cdf, n)
        path = _draw(rng, self.path_cdf, n)
        status = _draw(rng, np.cumsum(_STATUS_P), n)
        u = rng.random(n)
        request = np.where(u < 0.003, path + self.n_paths, path)  # HEAD
        request = np.where(u > 0.9998, self.post, request)
        size = self.path_sizes[path]
        size = np.where(rng.random(n) < 0.03, (size * rng.random(n)).astype(np.int64), size)
        size = np.where((u < 0.003) | (rng.random(n) < 0.004), 0, size)
        size = np.where(rng.random(n) < 0.001, -1, size)
        size[status == 1] = 0  # 304 Not Modified: the real log writes 0
        redirect = status == 2  # 302: mostly imagemap clicks, else a directory without "/"
        click = redirect & (u < 0.9)
        request[click] = self.clicks[0] + rng.integers(0, self.clicks[1], click.sum())
        size[click] = rng.integers(80, 116, click.sum())
        bare = redirect & ~click
        request[bare] = self.dirs[0] + rng.integers(0, self.dirs[1], bare.sum())
        missing = status == 3
        request[missing] = self.missing[0] + rng.integers(0, self.missing[1], missing.sum())
        size[bare | (status >= 3)] = -1
        return host, request, status, size


def _apache_escape(text: str) -> str:
    """``text`` as Apache writes it inside a quoted log field: ``\\`` and ``"`` escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], np.ndarray]:
    """The texts of ``(text, weight)`` pairs and the cumulative sums of their weights."""
    return [text for text, _ in pairs], np.cumsum([weight for _, weight in pairs], dtype=float)


class _Visitors:
    """What the Combined format adds to a line: the referer and the user agent.

    Most of a host's lines carry its usual agent (an online service's proxy: the service's
    browser; another proxy has none, its users vary). An image is referred by a page of the
    site, another page by the site or another one; many browsers sent no referer. Every
    ``"referer" "agent"`` ending is built once: ``batch`` returns indices into ``endings``,
    whose last entry is empty (for malformed lines, which end before it).
    """

    def __init__(self, rng: np.random.Generator, catalogue: _Catalogue, proxies: int):
        self.agents, self.agent_cdf = _weighted(_AGENTS)
        internal, self.internal_cdf = _weighted(_INTERNAL_REFERERS)
        external, self.external_cdf = _weighted(_EXTERNAL_REFERERS)
        referers = [_SITE + page for page in internal] + external + ["-"]
        self.n_internal, self.n_referers = len(internal), len(referers)
        self.endings = [
            f' "{_apache_escape(referer)}" "{_apache_escape(agent)}"'
            for referer in referers
            for agent in self.agents
        ] + [""]
        self.none = len(self.endings) - 1
        self.usual = _draw(rng, self.agent_cdf, len(catalogue.hosts))
        for i, host in enumerate(catalogue.hosts[:proxies]):
            own = [a for suffix, a in _SERVICE_AGENTS.items() if host.endswith(suffix)]
            self.usual[i] = self.agents.index(own[0]) if own else -1
        images = ('.gif HTTP/1.0"', '.xbm HTTP/1.0"')
        self.inline = np.array([r.endswith(images) for r in catalogue.requests])

    def batch(self, rng: np.random.Generator, host: np.ndarray, request: np.ndarray) -> np.ndarray:
        """Indices into ``endings`` for lines with these host and request indices."""
        n = len(host)
        usual = self.usual[host]
        anyone = _draw(rng, self.agent_cdf, n)
        agent = np.where((usual >= 0) & (rng.random(n) < _OWN_AGENT), usual, anyone)
        internal = _draw(rng, self.internal_cdf, n)
        external = self.n_internal + _draw(rng, self.external_cdf, n)
        from_outside = ~self.inline[request] & (rng.random(n) < _EXTERNAL)
        referer = np.where(from_outside, external, internal)
        referer[rng.random(n) < _NO_REFERER] = self.n_referers - 1  # "-"
        return referer * len(self.agents) + agent


def _damage(rng: np.random.Generator, line: str, kind: int, nth: int) -> str:
    """``line`` damaged in one of five ways (kinds 0 and 1 leave it malformed). Raw bytes are
    carried as surrogates (``surrogateescape``) until the batch is encoded."""
    head, rest = line.split(' "', 1)
    request, answer = rest.rsplit('" ', 1)
    path = request.split(" ")[1]
    if kind == 0:  # truncated before the request's closing quote
        return line[: int(rng.integers(1, len(head) + len(request)))]
    if kind == 1:
        return ""
    if kind == 2 and nth % 2 == 0:  # binary junk (a TLS hello to port 80, say): answered 400
        junk = bytes([0x16, *rng.integers(0x80, 0x100, size=8).tolist()])
        return f'{head} "{junk.decode("utf-8", "surrogateescape")}..." 400 -'
    if kind == 2:  # a Latin-1 letter in the path
        cut = len(path) // 2
        return f'{head} "GET {path[:cut]}\udce9{path[cut + 1 :]} HTTP/1.0" 404 -'
    if kind == 3:  # no protocol
        return f'{head} "GET {path}" {answer}'
    cut = 1 + len(path) // 2  # a quote inside the request
    return f'{head} "GET {path[:cut]}"{path[cut:]} HTTP/1.0" 404 -'


def _stamps(month: tuple[int, int]) -> list[str]:
    """``01/Aug/1995:00:00`` for every minute of the month."""
    start = datetime(*month, 1)
    minutes = _days(month) * 1440
    return [(start + timedelta(minutes=m)).strftime("%d/%b/%Y:%H:%M") for m in range(minutes)]


def _write_lines(
    out: BinaryIO,
    rng: np.random.Generator,
    lines: int,
    month: tuple[int, int],
    extras_rng: np.random.Generator | None = None,
) -> int:
    """Write the log to ``out``; return how many lines are malformed. With ``extras_rng`` the
    lines are Combined: each ends with a referer and an agent drawn from it (never from
    ``rng``, so everything else is as in the Common log)."""
    catalogue = _Catalogue(rng, HOST_POOL)
    visitors = None if extras_rng is None else _Visitors(extras_rng, catalogue, len(_proxies()))
    times = _times(rng, lines, month)
    n_damaged = lines // DAMAGE_EVERY
    damaged = np.sort(rng.choice(lines, size=n_damaged, replace=False)).tolist()
    minutes = _stamps(month)
    seconds = [f":{s:02d} -0400] " for s in range(60)]
    statuses = [f" {s} " for s in _STATUSES]
    hosts, requests = catalogue.hosts, catalogue.requests
    malformed = 0
    for begin in range(0, lines, _BATCH):
        n = min(_BATCH, lines - begin)
        host, request, status, size = catalogue.batch(rng, n)
        minute, second = np.divmod(times[begin : begin + n], 60)
        batch = [
            f"{hosts[h]} - - [{minutes[m]}{seconds[s]}{requests[r]}{statuses[st]}"
            f"{'-' if b < 0 else b}"
            for h, m, s, r, st, b in zip(
                host.tolist(),
                minute.tolist(),
                second.tolist(),
                request.tolist(),
                status.tolist(),
                size.tolist(),
                strict=True,
            )
        ]
        ending = None if visitors is None else visitors.batch(extras_rng, host, request)
        while damaged and damaged[0] < begin + n:
            k = n_damaged - len(damaged)
            i = damaged.pop(0) - begin
            batch[i] = _damage(rng, batch[i], k % 5, k // 5)
            malformed += k % 5 < 2
            if ending is not None and k % 5 < 2:  # cut short before the referer
                ending[i] = visitors.none
        if ending is not None:
            endings = visitors.endings
            batch = [line + endings[e] for line, e in zip(batch, ending.tolist(), strict=True)]
        out.write(("\n".join(batch) + "\n").encode("utf-8", "surrogateescape"))
    return malformed


def _extras_rng(seed: int) -> np.random.Generator:
    """The Combined extras' own random stream: a child of ``seed``'s, independent of it."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def generate_log(
    path: str | Path,
    lines: int = SYNTHETIC_LINES,
    seed: int = 1995,
    month: tuple[int, int] = MONTH,
    log_format: str = "common",
) -> Path:
    """Write a synthetic NASA-like log, labelled by its ``<path>.synthetic.json`` marker.

    Args:
        path: the file to write; gzip (fast level) if its name ends in ``.gz``, else plain text.
            It is replaced atomically, and its marker is written just before it appears.
        lines: how many lines, damaged ones included.
        seed: the random seed; the same ``seed``, ``lines`` and ``month`` give byte-identical
            files.
        month: ``(year, month)`` the log covers, at -0400; August 1995 (the default) has the
            Hurricane Erin outage, other months have none.
        log_format: ``common`` (the NASA log's) or ``combined`` (the same lines, each with a
            referer and a user agent added; malformed lines are cut short before them).

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: ``lines`` is negative, ``month`` or ``log_format`` unknown. OSError: the
            files cannot be written.
    """
    if lines < 0:
        raise ValueError(f"lines must be >= 0, not {lines}")
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    if not 1 <= month[1] <= 12:
        raise ValueError(f"month must be (year, 1..12), not {month}")
    path = Path(path)
    rng = np.random.default_rng(seed)
    extras = _extras_rng(seed) if log_format == "combined" else None
    with replacing(path) as raw:
        if path.suffix == ".gz":  # no name and mtime 0 in the header: same input, same bytes
            gz = igzip.IGzipFile(filename="", mode="wb", compresslevel=1, fileobj=raw, mtime=0)
            with gz:
                malformed = _write_lines(gz, rng, lines, month, extras)
        else:
            malformed = _write_lines(raw, rng, lines, month, extras)
        marker = {
            "synthetic": True,
            "generator": "lib.logs.datasets.synthetic",
            "seed": seed,
            "lines": lines,
            "month": f"{month[0]}-{month[1]:02d}",
            "format": log_format,
            "malformed": malformed,
            "note": "Synthetic NASA-like log, not the real NASA_access_log_Aug95: "
            "anything computed from it describes this generator, not NASA's 1995 traffic.",
        }
        write_json(marker_path(path), marker)
    return path
