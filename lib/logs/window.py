"""The time window Q1's top hosts are counted in: a half-open interval with time-zone-aware
ends, either of which may be open. Imports no polars (a command parses it before the rest of Q1
is loaded).

Ends are ISO 8601 times with an offset; a date alone is a day in UTC (as the start, its first
instant; as the end, the first instant after it: ``--window-start 2026-05-12 --window-end
2026-05-12`` is that whole day). With neither end given, the window is the question's (18-20
August 1995, EDT) for the NASA log, and the whole log for any other (``choose_window``): the
answers say which (``Window.origin``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lib.errors import ConfigError
from lib.logs.filters import RequestFilter
from lib.logs.reading.synthetic_marker import is_synthetic

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The question's window: 18-20 August 1995 in the NASA server's zone.
DEFAULT_WINDOW = ("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")
NASA_NAMES = ("NASA_access_log_",)  # how the NASA logs' files are named (July and August 1995)
OPEN_START = datetime.min.replace(tzinfo=UTC)  # an end not given: before any request
OPEN_END = datetime.max.replace(tzinfo=UTC)  # after any request
NAMES = ("window_start", "window_end")  # how the notebook names the ends
GIVEN, NASA, WHOLE = "given", "the NASA question's (18-20 August 1995, EDT)", "the whole log"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Window:
    """A half-open time interval ``start <= t < end`` with time-zone-aware ends (``OPEN_START``
    and ``OPEN_END`` where none was given); ``origin`` says where it came from; ``only``, which
    requests a run counts at all (``lib.logs.filters``: none left out by default)."""

    start: datetime
    end: datetime
    origin: str = GIVEN
    only: RequestFilter = field(default=RequestFilter())

    @classmethod
    def parse(cls, start: str | None, end: str | None, names: tuple[str, str] = NAMES) -> Window:
        """A window from ISO 8601 texts (see the module's doc; empty or None: open at that
        end). ConfigError, one line naming the end by ``names`` (the option or parameter the
        user set) with an example that works when pasted."""
        first = _end(start, names[0], after_day=False) or OPEN_START
        last = _end(end, names[1], after_day=True) or OPEN_END
        if not first < last:
            raise ConfigError(f"{names[0]} {start} must be before {names[1]} {end}")
        return cls(first, last)

    @classmethod
    def whole(cls) -> Window:
        return cls(OPEN_START, OPEN_END, WHOLE)

    @property
    def given_start(self) -> datetime | None:
        return None if self.start == OPEN_START else self.start

    @property
    def given_end(self) -> datetime | None:
        return None if self.end == OPEN_END else self.end

    def describe(self) -> str:
        """``2026-05-12T00:00:00+00:00 <= t < 2026-05-13T00:00:00+00:00``, ``t >= ...``,
        ``t < ...``, or ``the whole log``."""
        start, end = self.given_start, self.given_end
        if start is None and end is None:
            return WHOLE
        if end is None:
            return f"t >= {start.isoformat()}"
        if start is None:
            return f"t < {end.isoformat()}"
        return f"{start.isoformat()} <= t < {end.isoformat()}"

    def on_hours(self, names: tuple[str, str] = NAMES) -> Window:
        """This window, checked to end on whole hours (UTC), the grain a state directory keeps
        (``lib.logs.state``). ConfigError naming the end by ``names``, with the hours around."""
        for end, name in ((self.given_start, names[0]), (self.given_end, names[1])):
            utc = None if end is None else end.astimezone(UTC)
            if utc is not None and (utc.minute or utc.second or utc.microsecond):
                past = timedelta(
                    minutes=utc.minute, seconds=utc.second, microseconds=utc.microsecond
                )
                hour = end - past
                later = (hour + timedelta(hours=1)).isoformat()
                raise ConfigError(
                    f"{name} {end.isoformat()} is not on a whole hour, the grain a state "
                    f"directory keeps (e.g. {hour.isoformat()} or {later})"
                )
        return self

    def micros(self) -> tuple[int, int]:
        """Its ends in microseconds since 1970 UTC, exactly."""
        return micros(self.start), micros(self.end)


def _end(text: str | None, name: str, after_day: bool) -> datetime | None:
    """One end of a window, None when not given (see ``Window.parse``)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if _DATE.fullmatch(text):
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            raise ConfigError(f"{name} is not a date: {text!r} (e.g. 2026-05-12)") from None
        return day + timedelta(days=1) if after_day else day
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} is not an ISO 8601 time: {text!r} (e.g. 2026-05-12T00:00:00+02:00, or a "
            "date alone: 2026-05-12, a day in UTC)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(
            f"{name} needs a UTC offset: {text!r} (e.g. {value.isoformat()}+00:00; or a date "
            "alone, a day in UTC)"
        )
    return value


def choose_window(
    start: str | None, end: str | None, files: Iterable[str | Path], names: tuple[str, str] = NAMES
) -> Window:
    """The window asked for; with neither end given, the NASA question's for the NASA logs
    (their files' names, or the synthetic stand-in's label) and the whole log for any other."""
    if (start or "").strip() or (end or "").strip():
        return Window.parse(start, end, names)
    paths = [Path(path) for path in files]
    nasa = paths and all(path.name.startswith(NASA_NAMES) or is_synthetic(path) for path in paths)
    if nasa:
        question = Window.parse(*DEFAULT_WINDOW)
        return Window(question.start, question.end, NASA)
    return Window.whole()


def micros(moment: datetime) -> int:
    """Microseconds since 1970 UTC, exactly."""
    return (moment - _EPOCH) // timedelta(microseconds=1)
