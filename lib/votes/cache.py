"""The results cache kiosks serve from: ``results.json`` and chart PNGs in one directory.

The worker writes it (each file to a temp name, then renamed, so a reader never sees half a
file); kiosks only read it, so serving results costs no database work however many kiosks ask.

Kiosks trust nothing in it but what the writer makes: a regular file with one link, directly
in ``CACHE_DIR``, of at most ``CACHE_MAX_BYTES``; a chart that is a PNG; a ``results.json`` of
the shape ``lib.votes.store.build_results`` gives it. Anything else (a symlink, a FIFO, a
device, a directory, a hard link to a file elsewhere, an oversized or odd document) is never
read as results or served: it is logged once and the last good copy the process holds is served
instead. The checks are made on the entry itself (``lstat``) and again on what was opened
(``O_NOFOLLOW``, ``fstat``), so an entry swapped for a link in between is refused too.
``CACHE_DIR`` itself and the directories above it are the operator's, followed as configured;
only what is inside it is distrusted. The writer replaces any such entry on its next cycle: a
file is always renamed over whatever the entry was, and a chart that is not trusted is drawn at
once, as a missing one is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Generic, TypeVar

from lib.output import write_json

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
CHARTS = ("totals", "timeline")  # <name>.png, drawn by lib.votes.charts.vote_<name>_chart
CACHE_MAX_BYTES = 4 * 1024 * 1024  # the default: ~20,000 buckets (4 months) of 3 candidates
MIN_CACHE_MAX_BYTES = 64 * 1024
MAX_CACHE_MAX_BYTES = 256 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The times a results document may be generated at: none before the Unix epoch, none in the last
# year datetime can hold (a time in any zone, a day either side, must exist). Within them, how
# far the writer's clock is from a kiosk's is for lib.votes.clock to judge, not the cache.
EARLIEST_GENERATED = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_GENERATED = datetime(9999, 1, 1, tzinfo=UTC)
# Never follow a link, never wait for a FIFO's writer, never leak the descriptor to a child.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

T = TypeVar("T")


class UntrustedFile(ValueError):
    """An entry of the cache that is not a file the writer made, or that cannot be served."""


def write_results(cache_dir: Path, results: dict, charts: bool = True) -> int:
    """Write the charts (when ``charts``), then ``results.json``, atomically each (a symlink or
    special file in an entry's place is replaced, never written through). A chart that fails
    to draw does not hold the figures back: ``results.json`` is written all the same, and the
    error raised after. Returns the size of ``results.json`` in bytes."""
    try:
        if charts:
            # imported here, not at the top: kiosks read this cache and never load matplotlib
            from lib.charts import save_figure
            from lib.votes import charts as drawing

            for name in CHARTS:
                draw = getattr(drawing, f"vote_{name}_chart")
                save_figure(draw(results), Path(cache_dir) / f"{name}.png")
    finally:
        written = write_json(Path(cache_dir) / RESULTS_FILE, results)
    return written.stat().st_size


def charts_missing(cache_dir: Path) -> bool:
    """Whether any chart is missing from ``cache_dir``, or is an entry kiosks do not trust (a
    symlink, a special file, a hard link): it must then be drawn, replacing the entry, whatever
    changed."""
    for name in CHARTS:
        try:
            entry = os.lstat(Path(cache_dir) / f"{name}.png")
        except OSError:
            return True
        if _refusal(entry, MAX_CACHE_MAX_BYTES) is not None:
            return True
    return False


def chart_data(results: dict) -> tuple:
    """What the charts depend on: charts are redrawn only when this changes."""
    return (
        json.dumps(results["totals"], sort_keys=True),
        json.dumps(results["distribution"][-1:], sort_keys=True),
        len(results["distribution"]),
    )


def read_cache_file(path: Path, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The bytes of ``path`` and its status, if it is a regular file with one link and at most
    ``max_bytes`` long (checked before it is opened and again on what was opened). Raises
    FileNotFoundError, UntrustedFile (saying what it is instead), or another OSError (a symlink
    put in its place in between: ELOOP)."""
    refusal = _refusal(os.lstat(path), max_bytes)
    if refusal is not None:
        raise UntrustedFile(refusal)
    with open(os.open(path, _OPEN_FLAGS), "rb") as file:
        opened = os.fstat(file.fileno())
        refusal = _refusal(opened, max_bytes)
        if refusal is not None:
            raise UntrustedFile(refusal)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UntrustedFile(f"it grew past CACHE_MAX_BYTES ({max_bytes}) while read")
    return data, opened


def _refusal(entry: os.stat_result, max_bytes: int) -> str | None:
    """Why a cache entry with this status is not served; None if it may be."""
    if not stat.S_ISREG(entry.st_mode):
        kind = "a symlink" if stat.S_ISLNK(entry.st_mode) else "not a regular file"
        return f"it is {kind} (mode {stat.filemode(entry.st_mode)})"
    if entry.st_nlink != 1:
        return f"it has {entry.st_nlink} links (a hard link to a file elsewhere?)"
    if entry.st_size > max_bytes:
        return f"it is {entry.st_size} bytes, over CACHE_MAX_BYTES ({max_bytes})"
    return None


def _stamp(entry: os.stat_result) -> tuple:
    """What changes when an entry is replaced or rewritten."""
    return (
        entry.st_dev,
        entry.st_ino,
        entry.st_mtime_ns,
        entry.st_size,
        entry.st_mode,
        entry.st_nlink,
    )


@dataclass
class CachedFile(Generic[T]):
    """One file of the cache, read (with ``read_cache_file``'s checks) only when its entry
    changes, and turned into what is served by ``parse``. The last good version is kept (one
    per process) and served while the entry is one that is not trusted or does not parse;
    each such version is logged once, and never read again."""

    path: Path
    max_bytes: int = CACHE_MAX_BYTES
    # (stamp of the version last looked at, the last good value): one attribute, so that a
    # thread never sees one without the other
    _seen: tuple = field(default=(None, None), repr=False)

    def parse(self, data: bytes, entry: os.stat_result) -> T:
        """What is served for a file holding ``data``; ValueError if it cannot be."""
        raise NotImplementedError

    def read(self) -> T | None:
        """The current version, else the last good one; None if there is neither (the file is
        missing, or nothing of it was ever good). Never raises for what is in the cache."""
        seen, good = self._seen
        try:
            entry = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:  # CACHE_DIR unreadable, or not a directory
            stamp, reason = ("lstat", exc.errno), exc.strerror
        else:
            stamp, reason = _stamp(entry), None
            if stamp == seen:
                return good
            try:
                data, opened = read_cache_file(self.path, self.max_bytes)
                value = self.parse(data, opened)
            except FileNotFoundError:
                return None
            except (OSError, ValueError, RecursionError) as exc:
                reason = (exc.strerror if isinstance(exc, OSError) else str(exc)) or repr(exc)
            else:
                self._seen = (_stamp(opened), value)
                return value
        if stamp != seen:
            logger.warning(
                "%s not used: %s; %s",
                self.path,
                reason[:200],
                "serving the last good copy" if good is not None else "nothing to serve yet",
            )
            self._seen = (stamp, good)
        return good


@dataclass(frozen=True)
class Snapshot:
    """One version of ``results.json``, with what serving it needs computed once."""

    document: dict
    generated: datetime
    prefix: bytes  # compact JSON without its closing brace: a field can be appended cheaply
    etag: str
    last_modified: str


class CachedResults(CachedFile[Snapshot]):
    """``results.json``, re-read only when the file changes (kiosks serve it often)."""

    def parse(self, data: bytes, entry: os.stat_result) -> Snapshot:
        return results_snapshot(data)


@dataclass(frozen=True)
class Chart:
    """One version of a chart's PNG, with its validators."""

    body: bytes
    etag: str
    last_modified: str


class CachedChart(CachedFile[Chart]):
    """A chart's PNG, re-read only when the file changes."""

    def parse(self, data: bytes, entry: os.stat_result) -> Chart:
        if not data.startswith(PNG_SIGNATURE):
            raise UntrustedFile("it is not a PNG")
        modified = datetime.fromtimestamp(entry.st_mtime, UTC)
        return Chart(data, entity_tag(data), format_datetime(modified, usegmt=True))


def entity_tag(data: bytes) -> str:
    """A strong entity tag for a representation made of ``data``: quoted, as RFC 9110 8.8.3
    writes one (80 bits of its SHA-1: the same tag means the same bytes)."""
    return '"' + hashlib.sha1(data, usedforsecurity=False).hexdigest()[:20] + '"'


def results_snapshot(data: bytes) -> Snapshot:
    """``results.json``'s bytes, ready to serve; ValueError saying what is wrong if they are not
    UTF-8 JSON (no NaN or Infinity, no lone surrogate, nested within the interpreter's recursion
    limit) of the shape ``check_results`` takes."""
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        generated = check_results(document)
        compact = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    except RecursionError:
        raise ValueError("it nests too deep") from None
    except UnicodeError as exc:  # not UTF-8, or a lone surrogate that cannot be written back
        raise ValueError(f"it is not UTF-8 throughout: {exc.reason}") from None
    return Snapshot(
        document,
        generated,
        compact[:-1],
        entity_tag(compact),
        format_datetime(generated.astimezone(UTC), usegmt=True),
    )


def _no_constant(name: str) -> None:
    raise ValueError(f"it holds {name}, which is not JSON")


def check_results(document: object) -> datetime:
    """When a results document was generated, if it has the shape ``build_results`` gives it:
    every key that writes, with its type (counts are non-negative integers, per candidate id
    exactly), and a ``generated_at`` with a zone, from ``EARLIEST_GENERATED`` to before
    ``LATEST_GENERATED`` (UTC). ``time_zone`` and the buckets' ``local_time`` may be
    missing (documents written before they were added); keys it does not know are let through
    (a newer writer may add one). ValueError says what is wrong."""
    if not isinstance(document, dict):
        raise ValueError("it is not a JSON object")
    generated = _generated_at(document.get("generated_at"))
    candidates = document.get("candidates")
    if not isinstance(candidates, list) or not all(
        isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("name"), str)
        for c in candidates
    ):
        raise ValueError("candidates is not a list of objects with a string id and name")
    ids = {c["id"] for c in candidates}
    for key in ("total_votes", "other_votes", "bucket_minutes"):
        _count(document.get(key), key)
    for key in ("totals", "last_10_minutes"):
        _counts(document.get(key), key, ids)
    if not isinstance(document.get("time_zone", ""), str):
        raise ValueError("time_zone is not a string")
    distribution = document.get("distribution")
    if not isinstance(distribution, list):
        raise ValueError("distribution is not a list")
    for entry in distribution:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("bucket"), str)
            and isinstance(entry.get("local_time", ""), str)
        ):
            raise ValueError("distribution holds an entry without a string bucket")
        _counts(entry.get("votes"), "a bucket's votes", ids)
    return generated


def _generated_at(value: object) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("generated_at is not a time")
    try:
        generated = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"generated_at {value!r} is not an ISO time") from None
    if generated.utcoffset() is None:
        raise ValueError(f"generated_at {value!r} has no time zone")
    try:
        generated = generated.astimezone(UTC)  # year 1 at +14:00 is before year 1 in UTC
        in_range = EARLIEST_GENERATED <= generated < LATEST_GENERATED
    except (ValueError, OverflowError):
        in_range = False
    if not in_range:
        raise ValueError(
            f"generated_at {value!r} is out of range ({EARLIEST_GENERATED:%Y-%m-%d} to "
            f"{LATEST_GENERATED:%Y-%m-%d} UTC)"
        )
    return generated


def _count(value: object, what: str) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} is not a non-negative integer")


def _counts(value: object, what: str, ids: set[str]) -> None:
    if not isinstance(value, dict) or value.keys() != ids:
        raise ValueError(f"{what} does not give a count for each candidate and no other")
    for count in value.values():
        _count(count, f"a count in {what}")


def staleness(generated: datetime, now: datetime | None = None) -> float:
    """Seconds since results generated at ``generated`` (``Snapshot.generated``)."""
    return max(0.0, ((now or datetime.now(UTC)) - generated).total_seconds())
