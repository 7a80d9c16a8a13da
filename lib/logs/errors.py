"""Q1's own exceptions (``lib.errors`` has the shared ones)."""

from lib.errors import ProjectError


class LogReadError(ProjectError):
    """An access log cannot be read: missing, not a text log (an archive, binary data...), or its
    compressed stream is damaged or truncated."""


class DownloadError(ProjectError):
    """A download failed or its result did not verify."""


class EngineError(ProjectError):
    """The Dask cluster could not be reached, had no workers, or lost a task's worker."""


class LogFormatError(ProjectError):
    """A log's lines are not in a format Q1 can read (none parses them, or too few)."""


class TooManyRejected(LogFormatError):
    """More of a log's lines were rejected than ``max_rejected`` allows: the lines are not all
    in the format they were read with, and answers would leave them out."""


class StateError(ProjectError):
    """A state directory cannot be used: another run holds it, it was made with other settings
    or by a newer version, or it is damaged."""
