"""The time window Q1's top hosts are counted in: a half-open interval with time-zone-aware
ends. Imports no polars (a command parses it before the rest of Q1 is loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lib.errors import ConfigError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The question's window: 18-20 August 1995 in the NASA server's zone.
DEFAULT_WINDOW = ("1995-08-18T00:00:00-04:00", "1995-08-21T00:00:00-04:00")


@dataclass(frozen=True)
class Window:
    """A half-open time interval ``start <= t < end`` with time-zone-aware ends."""

    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        """Build a window from ISO 8601 strings that carry a UTC offset; raise ConfigError."""
        ends = []
        for name, text in (("window_start", start), ("window_end", end)):
            try:
                value = datetime.fromisoformat(text)
            except (TypeError, ValueError):
                raise ConfigError(f"{name} is not an ISO 8601 time: {text!r}") from None
            if value.tzinfo is None or value.utcoffset() is None:
                raise ConfigError(f"{name} needs a UTC offset, e.g. {text}-04:00")
            ends.append(value)
        if not ends[0] < ends[1]:
            raise ConfigError(f"window_start {start} must be before window_end {end}")
        return cls(ends[0], ends[1])

    def micros(self) -> tuple[int, int]:
        """Its ends in microseconds since 1970 UTC, exactly."""
        return micros(self.start), micros(self.end)


def micros(moment: datetime) -> int:
    """Microseconds since 1970 UTC, exactly."""
    return (moment - _EPOCH) // timedelta(microseconds=1)
