"""Planning a Q1 run: which files, in which format, cut into which pieces, read by which
engine. One step that returns a ``Plan``; an engine (``lib.logs.engines``) carries it out.

The format of each file is the one asked for, or with ``auto`` the registered format that
parses its first lines (``lib.logs.parsing.detect``); either way a line in another registered
format is still read (a server's configuration changed mid-file).

- ``local``: the files one after another in this process, each decompressed by one thread while
  its blocks are counted and parsed on a thread per core (``lib.logs.engines.local``).
- ``dask``: one task per piece on a Dask cluster (``lib.logs.engines.dask_engine``): a plain
  file is cut into byte ranges, a gzip or zstd file more than one task slot's share of the work
  into ranges of its text (``lib.logs.reading.partitions.balance``), a bzip2 or xz file is one
  piece; the biggest pieces go first.
- ``auto``: ``dask`` when a scheduler address is given (a cluster: more machines than this
  one), ``local`` otherwise, whatever the input's size. On one machine the local engine is the
  faster and the leaner since its threads parse with the GIL released (the compiled fast path):
  on a 1.2 GB plain log, 2.8x a LocalCluster's speed in a third of its memory
  (``bench/q1_big.py``, docs/benchmarks.md).

A stream (standard input named ``-``, a pipe, a process substitution:
``lib.logs.reading.streams``) is opened here, its head read for detection and kept, and handed
to the engine in the plan (``Plan.streams``), which reads it once, from the same first byte. Only
the local engine reads streams (``auto`` takes it for them); the dask engine's workers open
files by name, so it refuses them.

Planning imports no polars for a Common or Combined log (detection settles those without it),
so a command plans and starts reading before it loads the rest of Q1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lib.errors import ConfigError
from lib.logs.engines.engine import choose_engine, worker_count
from lib.logs.errors import LogFormatError
from lib.logs.parsing.clients import ClientRule
from lib.logs.parsing.detect import detect
from lib.logs.parsing.formats import AUTO, FORMATS, FormatChoice, log_format
from lib.logs.reading.blocks import iter_blocks, open_log, open_text
from lib.logs.reading.partitions import PARTITION_BYTES, Partition, balance, plan_partitions
from lib.logs.reading.paths import resolve_paths
from lib.logs.reading.streams import StreamInput, check_distinct, is_stream, open_stream

SAMPLE_BYTES = 64 * 1024  # the start of a file that detection reads
SAMPLE_LINES = 200


@dataclass(frozen=True)
class Plan:
    """What a run reads and where."""

    files: tuple[Path, ...]  # absolute, distinct, sorted
    engine: str  # "local" or "dask"
    pieces: tuple[Partition, ...]  # what is read, in the order it is handed out
    workers: int | None  # local threads or LocalCluster processes (None: a cluster's own)
    scheduler: str | None  # the Dask scheduler's address; None: this process or a LocalCluster
    slots: int  # pieces read at once
    choices: tuple[tuple[str, FormatChoice], ...] = ()  # per file: how its lines are read
    named: str | list[str] = ""  # the input as it was given: a file, a glob, or a list
    # the files that are streams, opened and their heads read; the engine reads each once
    streams: tuple[StreamInput, ...] = ()

    def choice_for(self, path: str) -> FormatChoice:
        """How the lines of ``path`` are read."""
        return dict(self.choices)[path]

    def stream_for(self, path: str) -> StreamInput | None:
        """The stream ``path`` names, None for a file."""
        return next((stream for stream in self.streams if stream.name == path), None)


def make_plan(
    log_path: str | Path | Iterable[str | Path],
    engine: str = "auto",
    scheduler: str | None = None,
    workers: int | None = None,
    partition_bytes: int = PARTITION_BYTES,
    base: Path | None = None,
    log_format: str = AUTO,
    client: ClientRule | None = None,
    stdin: BinaryIO | None = None,
) -> Plan:
    """Plan reading ``log_path`` (a file, a glob or a list; relative to ``base``, default the
    working directory; ``-`` for standard input, pipes by their paths).

    Args:
        engine: ``auto``, ``local`` or ``dask``.
        scheduler: a Dask scheduler's address (Q1's ``DASK_SCHEDULER_ADDRESS``); asked how many
            tasks it runs at once. None: the dask engine starts a LocalCluster.
        workers: local threads, or LocalCluster worker processes (default: the CPU count).
        partition_bytes: the byte range a Dask task reads from a plain file; a gzip or zstd
            file is cut into ranges no shorter than a quarter of it.
        log_format: ``auto`` (detected per file), a registered format's name, or an Apache
            ``LogFormat`` / nginx ``log_format`` string.
        client: who a request's client is (``lib.logs.parsing.clients``; default: the address
            the server logged as its peer).
        stdin: standard input, which the command hands down for ``-`` (its binary buffer).

    Raises ConfigError (no such file, unknown engine or format, ``-`` without ``stdin``, a
    stream for the dask engine), LogFormatError (no known format reads a file's first lines),
    LogReadError or EngineError.
    """
    named = str(log_path) if isinstance(log_path, (str, Path)) else [str(p) for p in log_path]
    files = resolve_paths(log_path, base)
    rule = client or ClientRule()
    chosen = choose_engine(engine, scheduler)
    piped = [path for path in files if is_stream(path)]
    if piped and chosen == "dask":
        if engine == "dask":
            raise ConfigError(dask_refuses_stream(str(piped[0])))
        chosen = "local"  # auto: a cluster cannot read a stream, this process can
    streams: list[StreamInput] = []
    try:
        for path in piped:
            streams.append(open_stream(path, stdin))
        check_distinct(streams)
        for stream in streams:  # refused now if it is not a log, as a file is
            open_text(stream.sample(), stream.name).close()
        by_name = {stream.name: stream for stream in streams}
        choices = tuple(
            (str(path), choose_format(path, log_format, by_name.get(str(path)), rule))
            for path in files
        )
        declared = [path for path, choice in choices if choice.primary.header is not None]
        parts = plan_partitions(
            [p for p in files if str(p) not in by_name], partition_bytes, whole=declared
        )
    except BaseException:
        for stream in streams:
            stream.close()
        raise
    if chosen == "local":
        threads = worker_count(workers)
        whole = tuple(Partition(str(path)) for path in files)
        return Plan(
            tuple(files), "local", whole, threads, None, threads, choices, named, tuple(streams)
        )
    from lib.logs.engines._dask_cluster import task_slots

    slots = task_slots(scheduler, workers)
    pieces = balance(parts, slots, max(1, partition_bytes // 4))
    # Largest first: a big piece started last would leave the other workers idle at the end.
    biggest_first = sorted(pieces, key=lambda part: part.weight, reverse=True)
    count = None if scheduler else worker_count(workers)
    return Plan(
        tuple(files), "dask", tuple(biggest_first), count, scheduler, slots, choices, named
    )


def dask_refuses_stream(name: str) -> str:
    """Why the dask engine does not read the stream ``name``, and what to do instead."""
    return (
        f"{name} is a stream (standard input or a pipe), which the dask engine cannot read (its "
        "workers open files by name): use the local engine (--engine local) or a file"
    )


def choose_format(
    path: Path,
    requested: str = AUTO,
    stream: StreamInput | None = None,
    client: ClientRule | None = None,
) -> FormatChoice:
    """How ``path`` is read: the format ``requested``, or with ``auto`` (and ``w3c``, which
    takes its fields from the file's header) the one its first lines say (read from ``stream``
    when it is one); its clients as ``client`` says. Raises LogFormatError when nothing
    registered reads the first lines, when they start with two addresses (which of them is the
    client is the user's choice), or when the format logs no field ``client`` needs;
    ConfigError for an unknown format."""
    rule = client or ClientRule()
    declared = requested in FORMATS and FORMATS[requested].header is not None
    if requested != AUTO and not declared:
        return _with_client(path, log_format(requested), rule)
    sample = sample_lines(path, stream)
    found = detect(sample)
    if found is None and not any(line.strip() for line in sample):
        return FormatChoice.of(FORMATS["common"], rule)  # an empty log: nothing to choose by
    if found is None or (declared and found.header is None):
        tried = "a W3C #Fields: header" if declared else ", ".join(FORMATS)
        raise LogFormatError(
            f"{path}: no known log format reads its first lines (tried {tried}); "
            f"{examples(sample)}; name the format with log_format (--format: an Apache "
            "LogFormat or nginx log_format string works too)"
        )
    if found.roles[:1] == ("vhost",) and _addresses_first(sample):
        raise LogFormatError(
            f"{path}: its lines start with two addresses ({examples(sample, 1)}), which "
            f"{found.name} would read as a virtual host and a client: name the format with "
            "log_format (--format, e.g. '%{X-Forwarded-For}i %h %l %u %t \\\"%r\\\" %>s %b') "
            "and which address is the client with client (--client forwarded or remote)"
        )
    return _with_client(path, found, rule)


def _with_client(path: Path, fmt, rule: ClientRule) -> FormatChoice:
    """``fmt`` read with ``rule``; LogFormatError if the format does not log the field the rule
    takes the client from."""
    if rule.client != "remote" and rule.role not in fmt.roles:
        raise LogFormatError(
            f"{path}: its format ({fmt.name}) logs no {rule.role} field to take the client "
            f"from (client={rule.client}); name a format that does with log_format (--format), "
            "e.g. "
            "nginx's '$remote_addr - $remote_user [$time_local] \"$request\" $status "
            '$body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"\''
        )
    return FormatChoice.of(fmt, rule)


def _addresses_first(sample: list[str], share: float = 0.8) -> bool:
    """Whether most of the lines start with an IP address (or a list of them, as
    X-Forwarded-For logs one), where a virtual host's name would be."""
    firsts = [line.split(" ", 1)[0].rstrip(",") for line in sample if line.strip()]
    found = sum(1 for first in firsts if _looks_like_address(first))
    return bool(firsts) and found >= share * len(firsts)


def _looks_like_address(field: str) -> bool:
    text = field.rsplit(":", 1)[0] if field.count(":") == 1 else field  # an IPv4 with a port
    text = text.strip("[]")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def sample_lines(path: Path, stream: StreamInput | None = None) -> list[str]:
    """The first whole lines of a log (decompressed, as UTF-8), at most ``SAMPLE_LINES``: of
    the file ``path``, or of ``stream`` when it is one (its head, which its engine reads
    again)."""
    text = open_log(path) if stream is None else open_text(stream.sample(), stream.name)
    with text:
        head = next(iter_blocks(text, SAMPLE_BYTES, name=str(path)), b"")
    return head.decode("utf-8", "replace").splitlines()[:SAMPLE_LINES]


def examples(lines: list[str], count: int = 2, width: int = 120) -> str:
    """``e.g. line 1: '...', line 2: '...'``: the first non-empty lines, shortened."""
    shown = [
        f"line {number}: {line[:width] + ('...' if len(line) > width else '')!r}"
        for number, line in enumerate(lines, 1)
        if line.strip()
    ][:count]
    return "e.g. " + ", ".join(shown) if shown else "the lines are empty"
