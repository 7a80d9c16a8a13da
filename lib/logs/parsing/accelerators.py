"""Compiled accelerators of log formats: C code that reads the lines of a format it is certain
of, with the GIL released, and counts them straight into a summary's counts; every other line
is left over for the format's own parser. An accelerator is attached to a format entry
(``LogFormat.accelerator``), never a definition of its own: ``_clf.c`` takes its rules from
``lib.logs.parsing.clf`` and the differential tests hold it to the ``clf`` kind's answers; for
Combined with fields after it (a ``regex``-kind format) it matches a program of the fields
``lib.logs.parsing.tails`` derives from the format's own pattern, held to the ``regex`` kind's.

Optional: built by ``setup.py`` where a C compiler is found; without one ``counter`` returns
None and the format's parser reads every line, with the same answers. Imports no polars.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lib.logs.counting import caps
from lib.logs.parsing import clf, tails
from lib.logs.parsing.formats import FormatChoice, LogFormat
from lib.logs.parsing.roles import DURATION_SCALES

if TYPE_CHECKING:
    from lib.logs.window import Window


class Accelerator:
    """A compiled module and how a counter of it is made for a format and a window. (Plain
    classes here, not dataclasses: a command defines them before it starts reading, and a
    dataclass costs half a millisecond to define.)"""

    __slots__ = ("module", "make")

    def __init__(self, module: str, make: Callable[[ModuleType, LogFormat, int, int], Any]):
        self.module = module  # the compiled module's name
        self.make = make  # (module, fmt, start, end) -> a counter


def _bounds() -> dict[str, int]:
    """What bounds a counter's breakdowns (``lib.logs.counting.caps``), as they are now."""
    return {
        "url_cap": caps.URL_CAP,
        "query_cap": caps.QUERY_CAP,
        "visitor_cap": caps.VISITOR_CAP,
    }


def _clf_counter(module: ModuleType, fmt: LogFormat, start: int, end: int) -> Any | None:
    """``_clf.Counter`` of Common or Combined (the ``clf`` kind), or of a ``regex``-kind format
    that is Combined and then fields (``lib.logs.parsing.tails``: its layout)."""
    if fmt.kind == "clf":
        if fmt.roles not in (clf.COMMON_ROLES, clf.COMBINED_ROLES):
            return None  # fields the counter does not read
        return module.Counter(fmt.roles == clf.COMBINED_ROLES, start, end, **_bounds())
    found = tails.layout(fmt.pattern, fmt.roles)
    if found is None or fmt.escapes != "backslash":  # the agent read as Apache and nginx escape it
        return None
    timed = [role for role in DURATION_SCALES if role in found.fields]  # as field_values picks
    duration = found.field(timed[0]) if timed else None
    vhost = found.field("vhost")
    return module.Counter(
        True,
        start,
        end,
        tail=found.program,
        dash_ident=found.dash_ident,
        duration_field=-1 if duration is None else duration,
        duration_scale=DURATION_SCALES[timed[0]] if timed else 1,
        vhost_field=-1 if vhost is None else vhost,
        **_bounds(),
    )


ACCELERATORS = {"clf": Accelerator("lib.logs.parsing._clf", _clf_counter)}


@cache
def _built(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:  # built without a C compiler
        return None


def counter_for(choice: FormatChoice, window: Window) -> Any | None:
    """``counter`` of the choice's primary format, counting in ``window``, when its clients are
    the peers' addresses the accelerator reads and no filter leaves requests out (a client taken
    from a forwarding header, or a filter, leaves every line to polars)."""
    if choice.client.source(choice.primary.roles) != "host" or window.only.active:
        return None
    made = counter(choice.primary, *window.micros())
    if made is None or not getattr(made, "breakdowns", False):
        return None  # a build that counts no URLs, bytes per host... (lib.logs.counting.bounded)
    return made


def counter(fmt: LogFormat, start_us: int, end_us: int) -> Any | None:
    """A new counter of ``fmt``'s lines, with a window ``[start_us, end_us)`` in microseconds
    since 1970 UTC (see ``_clf.Counter``); None when ``fmt`` has no accelerator or it is not
    built."""
    if fmt.accelerator is None:
        return None
    accelerator = ACCELERATORS[fmt.accelerator]
    module = _built(accelerator.module)
    return None if module is None else accelerator.make(module, fmt, start_us, end_us)


def certainly_read(fmt: LogFormat, lines: Sequence[str]) -> int:
    """How many of ``lines`` ``fmt``'s parser certainly reads, by its accelerator: a lower
    bound (0 without one, or when it leaves most of them over)."""
    counting = counter(fmt, 0, 1)
    if counting is None or not lines:
        return 0
    text = ("\n".join(lines) + "\n").encode("utf-8", "replace")
    read, _, left_over, _ = counting.add(text)
    return 0 if left_over is None else read - len(left_over)


class Counted:
    """What a counter made of one block: its lines, the bytes sent by the lines it counted, the
    indices (0-based, in the block) and text of the lines it left over, and whether the block
    ends with a newline."""

    __slots__ = ("lines", "fast_bytes", "indices", "raw", "terminated")

    def __init__(
        self, lines: int, fast_bytes: int, indices: list[int], raw: list[bytes], terminated: bool
    ) -> None:
        self.lines = lines
        self.fast_bytes = fast_bytes
        self.indices = indices
        self.raw = raw
        self.terminated = terminated

    @property
    def held(self) -> int:
        """The bytes of left-over text it keeps."""
        return sum(map(len, self.raw))


def count(counting: Any, block: bytes) -> Counted | None:
    """Count a block of whole lines into ``counting`` (a ``counter``; the GIL released);
    None when it left most of the lines over and counted none (the block is not mostly of its
    format: its parser reads it whole)."""
    lines, fast_bytes, indices, raw = counting.add(block)
    if indices is None:
        return None
    return Counted(lines, fast_bytes, indices, raw, block.endswith(b"\n"))
