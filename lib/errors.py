"""The project's exceptions shared by every capability: one base class, a few kinds.

A capability's own kinds live beside it (``lib.logs.errors``, ``lib.votes.message.VoteError``,
``lib.votes.broker.BrokerUnavailable``) and derive from ``ProjectError`` too.
"""


class ProjectError(Exception):
    """Base class: every error this project raises on purpose."""


class ConfigError(ProjectError):
    """A setting or parameter is missing or malformed."""


class DatabaseError(ProjectError):
    """The database is unreachable or refused a statement (the message is one readable line)."""
