"""A Q1 run with a state directory: read what is new in the logs (``update``), then answer any
window of whole hours from the state alone (``answer``).

The answers are those of a run over every line the state has read, the window applying to
every answer (as ``--window-only`` does): a window's requests, hosts, statuses, URLs, countries
and so on. What belongs to the files rather than to hours (lines, rejected lines, requests per
format) is for everything read. A window's ends must fall on whole hours (UTC), the state's
grain; none given, it is everything read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from lib.errors import ConfigError
from lib.logs.counting.hourly import window_summary
from lib.logs.counting.ranking import Named
from lib.logs.counting.summary import LogSummary
from lib.logs.engines.engine import EngineRun
from lib.logs.engines.plan import Plan, make_plan
from lib.logs.filters import RequestFilter
from lib.logs.parsing.clients import ClientRule
from lib.logs.parsing.formats import AUTO, FORMATS, FormatChoice, LogFormat, log_format
from lib.logs.reading.blocks import BLOCK_BYTES, open_log
from lib.logs.state.files import HEAD_BYTES, Seen, Step, look_at, plan_steps
from lib.logs.state.hosts import DEFAULT
from lib.logs.state.reading import CHUNK_BYTES, read_new
from lib.logs.state.store import State
from lib.logs.window import NAMES, OPEN_END, OPEN_START, Window

ENGINE = "state"  # how results.json names a run answered from a state directory


@dataclass(frozen=True)
class Update:
    """What a run read: each input file's step, the text read and how long it took."""

    steps: list[Step] = field(default_factory=list)
    text_bytes: int = 0
    seconds: float = 0.0

    @property
    def notes(self) -> list[str]:
        return [step.note for step in self.steps if step.note]


def settings_of(log_format: str, rule: ClientRule, only: RequestFilter) -> dict:
    """What a state's counts depend on, as it records them (a window is not: it is asked of
    the state)."""
    filters = replace(only, window_only=False).describe()
    client = {"rule": rule.client, "trusted": sorted(map(str, rule.trusted))}
    return {"format": log_format, "client": client, "filters": filters}


def open_state(
    directory: str | Path,
    log_format: str,
    rule: ClientRule,
    only: RequestFilter,
    geo_cache: Path | None = None,
) -> State:
    """The state directory ``directory`` (made if need be) for runs with these settings;
    ``geo_cache`` as for ``lib.logs.geo.attribution.offline_countries``. StateError."""
    return State(directory, settings_of(log_format, rule, only), geo_cache)


def plan_inputs(log_path, log_format: str, rule: ClientRule, base: Path | None = None) -> Plan:
    """The files ``log_path`` names and how each is read (``make_plan``'s, local): ConfigError
    for a stream, which has no offsets to keep."""
    plan = make_plan(log_path, "local", base=base, log_format=log_format, client=rule)
    if plan.streams:
        for stream in plan.streams:
            stream.close()
        raise ConfigError("a state directory keeps offsets in files: name files, not a stream")
    return plan


def update(
    state: State,
    plan: Plan,
    only: RequestFilter,
    block_bytes: int = BLOCK_BYTES,
    chunk_bytes: int = CHUNK_BYTES,
) -> Update:
    """Read what is new in ``plan``'s files into ``state``, a chunk at a time, each committed
    with the offset it ends at. Raises LogReadError."""
    began = time.perf_counter()
    steps = plan_steps([look_at(path) for path in plan.files], state.logs())
    read = 0
    for step in steps:
        known = step.known
        if step.skip:
            if known is not None and not step.duplicate:  # its own file: renamed, compressed?
                if step.note or step.seen.same_file != known.same_file:
                    state.moved(step.seen, known, step.note)
            continue
        note, seen = step.note, step.seen
        choice = plan.choice_for(seen.path)
        lines = known.lines if known else 0
        header = known.header if known else None
        offset = step.start
        for chunk in read_new(step, choice, only, lines, header, block_bytes, chunk_bytes):
            if known is None and chunk.end == 0:
                if note:
                    state.note(seen.path, note)
                break  # nothing whole to read: no log to know it by yet
            seen = _with_head(seen, chunk.end)
            known = state.commit(seen, known, chunk, note)
            read += chunk.end - offset
            offset, note = chunk.end, None
    return Update(steps, read, time.perf_counter() - began)


def _with_head(seen: Seen, end: int) -> Seen:
    """``seen`` with the head a log read to ``end`` is known by (read again if the file grew
    between the first look and the read)."""
    if len(seen.head) >= min(end, HEAD_BYTES):
        return seen
    with open_log(seen.path) as text:
        return replace(seen, head=text.read(HEAD_BYTES))


def state_summary(state: State, window: Window, named: Named = DEFAULT):
    """The summary of the requests in ``window`` from the state alone, with what belongs to
    the files for everything read, its hosts those ``named`` and every host counted by place
    (``LogSummary.host_groups``); and those hosts' offline countries (``places``)."""
    start = OPEN_START if window.given_start is None else window.start
    end = OPEN_END if window.given_end is None else window.end
    tables, read = state.window_and_read(start, end, named)
    inside = int(tables["hours"].get_column("requests").sum() or 0)
    return tables["places"], window_summary(
        tables,
        named,
        lines=read["lines"],
        rejected=read["rejected"],
        rejected_examples=read["rejected_examples"],
        rejected_reasons=read["rejected_reasons"],
        formats=read["formats"],
        filtered=read["filtered"] + read["requests"] - inside,
    )


def state_window(start: str | None, end: str | None, only: RequestFilter, names=NAMES) -> Window:
    """The window asked of a state (``Window.parse``, on whole hours), applying to every
    answer; none given: everything read. ConfigError naming the end by ``names``."""
    window = Window.parse(start, end, names).on_hours(names)
    if window.given_start is None and window.given_end is None:
        return replace(Window.whole(), only=replace(only, window_only=False))
    return replace(window, only=replace(only, window_only=True))


def read_and_summarize(
    state: State,
    log_path,
    window: Window,
    log_format: str,
    rule: ClientRule,
    base: Path | None = None,
    named: Named = DEFAULT,
) -> Summarized:
    """Read what is new in ``log_path`` into ``state``, then summarize ``window`` from the
    state, its hosts those ``named`` (``lib.logs.q1.answer_state`` answers it)."""
    began = time.perf_counter()
    if log_path:
        plan = plan_inputs(log_path, log_format, rule, base)
        read = update(state, plan, replace(window.only, window_only=False))
    else:
        plan, read = plan_of_state(state, log_format, rule), Update()
    state.checkpoint_soon()  # while the window is read and answered
    places, summary = state_summary(state, window, named)
    run = EngineRun(ENGINE, len(plan.files), 1, None, None, time.perf_counter() - began)
    return Summarized(plan, read, summary, places, run)


def plan_of_state(state: State, log_format: str, rule: ClientRule) -> Plan:
    """A plan naming the logs ``state`` has read (whether their files are still there or not),
    each with the format most of its requests were read in: what the answers say of their
    input when no log is named (nothing is read)."""
    formats = state.formats()
    if not formats:
        raise ConfigError(f"state directory {state.directory} has read no log yet: name the logs")
    choices = tuple(
        (path, FormatChoice.of(_format_named(name, log_format), rule))
        for path, name in formats.items()
    )
    files = tuple(Path(path) for path in formats)
    return Plan(files, ENGINE, (), 1, None, 1, choices, str(state.directory))


def _format_named(name: str, asked: str) -> LogFormat:
    """The registered format ``name``, else the one the state was made with."""
    if name in FORMATS:
        return FORMATS[name]
    return log_format(asked) if asked != AUTO else FORMATS["common"]


@dataclass(frozen=True)
class Summarized:
    """A window summarized from a state, with what the run read first."""

    plan: Plan
    read: Update
    summary: LogSummary
    places: pl.DataFrame  # the offline countries of the summary's hosts (those named)
    run: EngineRun
