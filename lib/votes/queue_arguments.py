"""The votes queues' arguments: what is declared, and whether a queue that already exists with
other arguments could lose votes.

Declared on both queues: ``x-queue-type`` (``lib.votes.queue_type``) and ``x-overflow:
reject-publish``, so that a full queue refuses a publish (the broker nacks it and the kiosk
answers 503) instead of dropping the oldest vote it holds; on the votes queue also
``x-max-length`` when ``VOTES_QUEUE_MAX_LENGTH`` is set (the dead-letter queue has no limit: a
dead letter the worker cannot publish would hold up its batch).

RabbitMQ compares a declaration with an existing queue one argument at a time: a declaration
that differs is refused (PRECONDITION_FAILED, 406, which closes the channel) naming one argument
and the queue's value of it. ``ArgumentProbe`` reads each refusal and declares again with the
queue's value where that value cannot lose a vote, until the broker accepts the declaration (then
every argument it compares is known) or a value shows up that could lose votes: a message TTL, a
queue expiry, a delivery limit, an overflow that drops (``drop-head``), a length limit without
``x-overflow`` (RabbitMQ then drops from the head), or an argument this module does not know.
Arguments RabbitMQ does not know are not compared (and do nothing). Policies are not visible over
AMQP at all: see docs/q3.md on what a policy may set.

Pure logic: the callers (``lib.votes.broker``) do the declaring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lib.votes.queue_type import PRECONDITION_FAILED, mismatch, queue_arguments

OVERFLOW = "x-overflow"
REFUSING = ("reject-publish", "reject-publish-dlx")  # a full queue nacks the publish
LIMITS = ("x-max-length", "x-max-length-bytes")
# arguments whose presence alone can lose a vote, and how
LOSING = {
    "x-message-ttl": "expires each vote after {} ms",
    "x-expires": "deletes itself, votes and all, after {} ms without a consumer",
    "x-delivery-limit": "drops a vote delivered {} times (a worker that reconnects redelivers)",
}
# arguments that lose nothing, whatever their value: taken as the queue has them
HARMLESS = frozenset(
    {
        "x-dead-letter-exchange",
        "x-dead-letter-routing-key",
        "x-dead-letter-strategy",
        "x-queue-leader-locator",
        "x-queue-master-locator",
        "x-quorum-initial-group-size",
        "x-single-active-consumer",
        "x-max-in-memory-length",
        "x-max-in-memory-bytes",
        "x-queue-mode",
        "x-queue-version",
        "x-max-priority",
    }
)
MAX_ROUNDS = 16  # more arguments than RabbitMQ compares: something else is going on
_INTEGER_TYPES = frozenset(
    {"byte", "short", "signedint", "long", "unsignedbyte", "unsignedshort", "unsignedint"}
)
_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<key>[^']+)' for queue .*: received .*? but current is "
    r"(?:(?P<none>none)|the value '(?P<value>.*)' of type '(?P<type>[a-z]+)'|'(?P<same>.*)')$"
)
_ABSENT = object()  # the queue has no such argument


def declared_arguments(queue_type: str, max_length: int = 0) -> dict[str, object]:
    """The arguments a votes queue is declared with: its type, ``x-overflow: reject-publish``,
    and ``x-max-length`` if ``max_length`` (0: no limit)."""
    arguments: dict[str, object] = {**queue_arguments(queue_type), OVERFLOW: REFUSING[0]}
    if max_length:
        arguments["x-max-length"] = max_length
    return arguments


@dataclass(frozen=True)
class Verdict:
    """What a probe found. ``problem``: why the queue must not take votes (one line), None if it
    may; ``could_lose``: the problem is a queue that could lose votes, or one this code cannot
    judge (not merely of the other type); ``notes``: how the queue differs from the declaration
    without losing anything, each a line worth a warning."""

    problem: str | None = None
    could_lose: bool = False
    notes: tuple[str, ...] = ()


class ArgumentProbe:
    """Declare ``arguments``; on a refusal pass its code and text to ``refused``, which says
    whether to declare again (None: ``arguments`` now holds the queue's value of the argument
    named), or the verdict; once a declaration is accepted, ``accepted`` gives the verdict."""

    def __init__(self, queue: str, queue_type: str, max_length: int = 0):
        self.queue, self.queue_type, self.max_length = queue, queue_type, max_length
        self.arguments = declared_arguments(queue_type, max_length)
        self.found: dict[str, object] = {}  # what the refusals said the queue has (or _ABSENT)
        self.rounds = 0

    def refused(self, reply_code: int, reply_text: str) -> Verdict | None:
        self.rounds += 1
        type_line = mismatch(self.queue, self.queue_type, reply_code, reply_text)
        if type_line is not None:
            return Verdict(type_line)
        found = (
            _inequivalent(reply_text, self.arguments)
            if reply_code == PRECONDITION_FAILED
            else None
        )
        if found is None:
            return self._cannot_judge(f"the broker refused its declaration: {reply_text[:160]}")
        key, value = found
        self.found[key] = value
        if self.rounds > MAX_ROUNDS:
            return self._cannot_judge(f"more than {MAX_ROUNDS} of its arguments differ")
        if key in LOSING and value is not _ABSENT:
            return self._loses(LOSING[key].format(value), f"{key}={value}")
        if key == OVERFLOW and value is not _ABSENT and value not in REFUSING:
            return self._loses("drops the oldest votes when full", f"{OVERFLOW}={value}")
        if key not in LOSING and key != OVERFLOW and key not in LIMITS and key not in HARMLESS:
            shown = "none" if value is _ABSENT else value
            return self._cannot_judge(f"it has {key}={shown}, an argument this code does not know")
        limit = self._limit()
        if limit is not None and self.found.get(OVERFLOW) is _ABSENT:
            return self._loses(
                "drops the oldest votes when full", f"{limit} without {OVERFLOW}: drop-head"
            )
        if value is _ABSENT:
            self.arguments.pop(key, None)
        else:
            self.arguments[key] = value
        if key == OVERFLOW and value is _ABSENT:
            # never declare a limit without an overflow that refuses: should the queue go
            # meanwhile, this declaration would make one that drops
            for other in LIMITS:
                if other not in self.found:
                    self.arguments.pop(other, None)
        return None

    def accepted(self) -> Verdict:
        notes = []
        if self.found.get(OVERFLOW) is _ABSENT:
            notes.append(
                f"queue {self.queue} has no {OVERFLOW} (declared before it was set): a length "
                f"limit set by a policy would drop votes, not refuse them; re-create it to get "
                f"{OVERFLOW}={REFUSING[0]} (docs/q3.md, 'Queues that refuse')"
            )
        if "x-max-length" in self.found:
            have = self.found["x-max-length"]
            notes.append(
                f"queue {self.queue} has x-max-length={'none' if have is _ABSENT else have}, "
                f"not VOTES_QUEUE_MAX_LENGTH={self.max_length}: a queue's arguments are fixed "
                f"when it is made; re-create it to change them"
            )
        return Verdict(notes=tuple(notes))

    def _limit(self) -> str | None:
        """The length limit a refusal said the queue has, as ``key=value``, if any."""
        for key in LIMITS:
            value = self.found.get(key, _ABSENT)
            if value is not _ABSENT:
                return f"{key}={value}"
        return None

    def _loses(self, what: str, because: str) -> Verdict:
        return Verdict(f"queue {self.queue} could lose votes: it {what} ({because})", True)

    def _cannot_judge(self, why: str) -> Verdict:
        return Verdict(f"queue {self.queue} cannot be trusted with votes: {why}", True)


def _inequivalent(reply_text: str, sent: dict[str, object]) -> tuple[str, object] | None:
    """The argument a 406 names and the queue's value of it (``_ABSENT`` if it has none), as a
    value a declaration can repeat; None if the text says anything else, or names a value of a
    type this cannot repeat exactly (a float, a table)."""
    matched = _INEQUIVALENT.search(reply_text)
    if matched is None:
        return None
    key = matched["key"]
    if matched["none"]:
        return key, _ABSENT
    if matched["same"] is not None:  # of the type that was sent
        text = matched["same"]
        kind = type(sent.get(key))
        if kind is int:
            return (key, int(text)) if re.fullmatch(r"-?[0-9]+", text) else None
        return key, text
    text, kind = matched["value"], matched["type"]
    if kind in _INTEGER_TYPES and re.fullmatch(r"-?[0-9]+", text):
        return key, int(text)
    if kind in ("longstr", "shortstr"):
        return key, text
    if kind == "bool" and text in ("true", "false"):
        return key, text == "true"
    return None
