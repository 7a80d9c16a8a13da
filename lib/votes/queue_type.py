"""The votes queues' type (``VOTES_QUEUE_TYPE``): the declaration's arguments, and one clear line
when a queue already exists with the other type (which RabbitMQ refuses with PRECONDITION_FAILED
and never changes in place: a queue's type is fixed when it is made).

Both types are declared with ``x-queue-type`` given: RabbitMQ takes ``classic`` as the type of a
classic queue declared without it, so queues made before the setting existed still match.
"""

from __future__ import annotations

import re

PRECONDITION_FAILED = 406
_CURRENT = re.compile(r"current is (?:none|(?:the value )?'([A-Za-z0-9_-]+)')")


def queue_arguments(queue_type: str) -> dict[str, str]:
    return {"x-queue-type": queue_type}


def mismatch(queue: str, wanted: str, reply_code: int, reply_text: str) -> str | None:
    """The line that says ``queue`` exists with another type than ``wanted`` and what to do, if
    the broker's refusal (``reply_code``, ``reply_text``) says so; else None."""
    if reply_code != PRECONDITION_FAILED or "'x-queue-type'" not in reply_text:
        return None
    found = _CURRENT.search(reply_text)
    current = (found.group(1) if found else None) or "classic"
    return (
        f"queue {queue} exists as a {current} queue; VOTES_QUEUE_TYPE={wanted} needs it drained "
        f"and deleted, or set VOTES_QUEUE_TYPE={current}"
    )
