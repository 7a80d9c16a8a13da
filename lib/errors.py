"""The project's exceptions: one base class, a few specific kinds."""


class ProjectError(Exception):
    """Base class: every error this project raises on purpose."""


class ConfigError(ProjectError):
    """A setting or parameter is missing or malformed."""


class LogReadError(ProjectError):
    """An access log cannot be read (missing, not gzip, truncated compressed stream)."""


class DownloadError(ProjectError):
    """A download failed or its result did not verify."""


class DatabaseError(ProjectError):
    """The database is unreachable or refused a statement (the message is one readable line)."""


class EngineError(ProjectError):
    """The Dask cluster could not be reached, had no workers, or lost a task's worker."""
