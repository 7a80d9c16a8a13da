"""The vote message, shared by the kiosk (which makes it) and the worker (which stores it).

A vote is made by a kiosk from an HTTP body, stamped with the kiosk's id and the time, encoded
as a small JSON message for RabbitMQ, and decoded (and validated again: a queue can hold
anything) by the worker. Every refusal is a ``VoteError`` carrying an HTTP status and a reason
that is safe to show to a client.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from lib.errors import ConfigError, ProjectError

MESSAGE_VERSION = 1
MAX_BODY_BYTES = 1024  # a vote is a few dozen bytes; anything larger is refused with 413
MAX_MESSAGE_BYTES = 4096  # a vote message is ~130 bytes; the worker refuses larger ones unread
MAX_JSON_DEPTH = 8  # a vote is one object of strings; deeper bodies are refused unparsed
BUCKET = timedelta(minutes=10)
# The times a message may carry: none before the Unix epoch (no kiosk clock says so), none in the
# last year datetime can hold (so the time in any zone, a day either side, still exists), which
# keeps every later step (PostgreSQL, the buckets, labels in VOTES_TIME_ZONE) within range.
EARLIEST_CAST_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_CAST_AT = datetime(9999, 1, 1, tzinfo=UTC)
_MESSAGE_FIELDS = frozenset({"v", "vote_id", "candidate", "kiosk_id", "cast_at"})
_VOTE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_KIOSK_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PUBLISHER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # a RabbitMQ user name
_CANDIDATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class VoteError(ProjectError):
    """A vote that cannot be accepted: ``status`` is the HTTP status, ``reason`` says why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str

    @property
    def label(self) -> str:
        """The name as chart fonts can draw it: the id and any Latin part of the name."""
        latin = "".join(c for c in self.name if ord(c) < 0x2E80).strip()
        return f"{self.id} {latin}".strip()


@dataclass(frozen=True)
class Vote:
    vote_id: str
    candidate: str
    kiosk_id: str
    cast_at: datetime  # timezone-aware, UTC


def parse_candidates(spec: str) -> dict[str, Candidate]:
    """``"1=薯片 chips,2=林林 lam lam"`` -> ``{"1": Candidate("1", "薯片 chips"), ...}`` in order;
    raise ConfigError if an entry is malformed or an id repeats."""
    candidates: dict[str, Candidate] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        cid, sep, name = entry.partition("=")
        cid, name = cid.strip(), name.strip()
        if not sep or not _CANDIDATE_ID.match(cid) or not name:
            raise ConfigError(
                f"CANDIDATES entry {entry!r} is not 'id=name' (id: 1-16 of A-Za-z0-9_-)"
            )
        if cid in candidates:
            raise ConfigError(f"CANDIDATES names candidate {cid!r} twice")
        candidates[cid] = Candidate(cid, name)
    if not candidates:
        raise ConfigError("CANDIDATES is empty")
    return candidates


def check_kiosk_id(kiosk_id: str) -> str:
    """The kiosk id if it is 1-32 of ``A-Za-z0-9_-``; else ConfigError."""
    if not _KIOSK_ID.match(kiosk_id):
        raise ConfigError(f"kiosk id must be 1-32 of A-Za-z0-9_-, got {kiosk_id!r}")
    return kiosk_id


def vote_from_request(
    body: bytes,
    content_type: str | None,
    kiosk_id: str,
    candidates: dict[str, Candidate],
    now: datetime | None = None,
) -> Vote:
    """Validate an HTTP request body (``{"candidate": "1", "vote_id": "..."}``) into a Vote.

    ``vote_id`` is optional: a client that retries sends the same one, so the vote counts once;
    without it the kiosk makes one. Raises VoteError (413 too large, 415 not JSON, 400 malformed,
    nested too deep, a key repeated or an unknown candidate).
    """
    if len(body) > MAX_BODY_BYTES:
        raise VoteError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise VoteError(415, "Content-Type must be application/json")
    try:
        data = _strict_json(body.decode("utf-8"), "body")
    except UnicodeDecodeError:
        raise VoteError(400, "body is not UTF-8") from None
    except ValueError:
        raise VoteError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise VoteError(400, 'body must be a JSON object like {"candidate": "1"}')
    unknown = sorted(set(data) - {"candidate", "vote_id"})
    if unknown:
        raise VoteError(400, f"unexpected fields: {', '.join(map(repr, unknown))[:200]}")
    candidate = data.get("candidate")
    if isinstance(candidate, int) and not isinstance(candidate, bool):
        candidate = str(candidate)
    if not isinstance(candidate, str) or candidate not in candidates:
        raise VoteError(400, f"candidate must be one of {', '.join(candidates)}")
    vote_id = data.get("vote_id")
    if "vote_id" not in data:
        vote_id = uuid.uuid4().hex
    elif not isinstance(vote_id, str) or not _VOTE_ID.fullmatch(vote_id):  # no "\n" after
        raise VoteError(400, "vote_id must be 8-64 of A-Za-z0-9_-")
    return Vote(vote_id, candidate, kiosk_id, now or datetime.now(UTC))


def _strict_json(text: str, what: str) -> object:
    """``text`` parsed as JSON, refused (VoteError 400, naming ``what``: body, message) if it nests
    deeper than ``MAX_JSON_DEPTH`` (checked before parsing: the parser recurses) or repeats a key
    (which parsers resolve differently); ValueError if it is not JSON."""
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH:  # else it cannot nest that deep:
        _check_depth(text, what)  # a vote has one "{", and the scan costs a step a character
    return _decoder(what).decode(text)


def _check_depth(text: str, what: str) -> None:
    """VoteError 400 if ``text`` nests brackets deeper than ``MAX_JSON_DEPTH`` outside strings."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise VoteError(400, f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1


_DECODERS: dict[str, json.JSONDecoder] = {}  # by what they refuse in: one made per call before


def _decoder(what: str) -> json.JSONDecoder:
    """A JSON decoder refusing a repeated key (VoteError 400, naming ``what``); kept, as json's
    own default decoder is, and shared by threads as that one is."""
    decoder = _DECODERS.get(what)
    if decoder is None:

        def unique(pairs: list[tuple[str, object]]) -> dict:
            found = dict(pairs)
            if len(found) != len(pairs):
                keys = [key for key, _ in pairs]
                repeated = next(key for key in keys if keys.count(key) > 1)
                raise VoteError(400, f"{what} repeats the key {repeated[:40]!r}")
            return found

        decoder = _DECODERS.setdefault(what, json.JSONDecoder(object_pairs_hook=unique))
    return decoder


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps made one a call with these


def encode(vote: Vote) -> bytes:
    """The vote as a UTF-8 JSON message body."""
    return _ENCODER.encode(
        {
            "v": MESSAGE_VERSION,
            "vote_id": vote.vote_id,
            "candidate": vote.candidate,
            "kiosk_id": vote.kiosk_id,
            "cast_at": vote.cast_at.astimezone(UTC).isoformat(),
        }
    ).encode()


def decode(body: bytes, candidates: dict[str, Candidate], user_id: str | None) -> Vote:
    """A message back into a Vote, validated as strictly as at the kiosk; VoteError(400) says
    what is wrong with a message that is not a vote, and nothing else is raised, whatever the
    body. The kiosk's identity is ``user_id``, the message property RabbitMQ checked against the
    publishing connection's user, never the body's ``kiosk_id`` (which a kiosk could write as it
    likes). Refused unparsed: a body over ``MAX_MESSAGE_BYTES`` or nested over
    ``MAX_JSON_DEPTH``; refused as well: a repeated key, an unknown field, a value of the wrong
    type, and a ``cast_at`` outside ``EARLIEST_CAST_AT``..``LATEST_CAST_AT``, so that whatever
    decodes, PostgreSQL stores."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise VoteError(400, f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        data = _strict_json(body.decode("utf-8"), "message")
    except (UnicodeDecodeError, ValueError):
        raise VoteError(400, "message is not UTF-8 JSON") from None
    if not isinstance(data, dict) or not _is_int(data.get("v"), MESSAGE_VERSION):
        raise VoteError(400, f"message is not a version {MESSAGE_VERSION} vote")
    unknown = sorted(set(data) - _MESSAGE_FIELDS)
    if unknown:
        raise VoteError(
            400, f"message has unexpected fields: {', '.join(map(repr, unknown))[:100]}"
        )
    vote_id, candidate, cast_at = (data.get(key) for key in ("vote_id", "candidate", "cast_at"))
    if not isinstance(vote_id, str) or not _VOTE_ID.fullmatch(vote_id):
        raise VoteError(400, "message has no valid vote_id")
    if not isinstance(candidate, str) or candidate not in candidates:
        raise VoteError(400, f"message names unknown candidate {str(candidate)[:20]!r}")
    if not isinstance(user_id, str) or not _PUBLISHER.fullmatch(user_id):
        raise VoteError(400, "message has no user_id property naming the kiosk's broker user")
    return Vote(vote_id, candidate, user_id, _cast_at(cast_at))


def _is_int(value: object, expected: int) -> bool:
    """``value`` is the integer ``expected`` itself (not ``true``, not ``1.0``)."""
    return type(value) is int and value == expected


def _cast_at(value: object) -> datetime:
    """A message's ``cast_at`` as a UTC time within the bounds; VoteError otherwise."""
    if not isinstance(value, str) or len(value) > 64:
        raise VoteError(400, "message has no valid cast_at time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise VoteError(400, "message has no valid cast_at time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise VoteError(400, "message cast_at has no time zone")
    try:
        when = when.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise VoteError(400, f"message cast_at {value!r} is out of range") from None
    if not EARLIEST_CAST_AT <= when < LATEST_CAST_AT:
        raise VoteError(
            400,
            f"message cast_at {value!r} is out of range "
            f"({EARLIEST_CAST_AT:%Y-%m-%d} to {LATEST_CAST_AT:%Y-%m-%d} UTC)",
        )
    return when


def check_cast_at(
    vote: Vote, now: datetime, skew: timedelta, opens_at: datetime | None = None
) -> Vote:
    """``vote`` if its time is one the server accepts: not later than ``now`` (the worker's
    clock) plus ``skew`` (a kiosk's clock may be off by that much: ``VOTE_CLOCK_SKEW``), not
    before ``opens_at`` (the opening of the vote, if set); one stamped later than ``now``, within
    ``skew``, is returned stamped ``now`` (no vote was cast after it arrived). However old
    otherwise: a vote may wait in the queue through a long outage. Raises VoteError(400)."""
    if vote.cast_at > now + skew:
        raise VoteError(
            400,
            f"cast_at {vote.cast_at.isoformat()} is later than the worker's clock "
            f"({now.astimezone(UTC).isoformat(timespec='seconds')}) plus "
            f"VOTE_CLOCK_SKEW ({skew.total_seconds():g}s)",
        )
    if opens_at is not None and vote.cast_at < opens_at:
        raise VoteError(
            400,
            f"cast_at {vote.cast_at.isoformat()} is before the vote opened "
            f"(VOTES_OPEN_AT {opens_at.isoformat()})",
        )
    return replace(vote, cast_at=now.astimezone(UTC)) if vote.cast_at > now else vote


def bucket_start(when: datetime) -> datetime:
    """The start of the 10-minute bucket holding ``when`` (UTC, aligned to the hour)."""
    when = when.astimezone(UTC)
    return when.replace(minute=when.minute - when.minute % 10, second=0, microsecond=0)
