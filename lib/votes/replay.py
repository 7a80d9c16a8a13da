"""The votes' stream: a second copy of every vote, kept for a while, so that votes the broker
confirmed are not lost with the votes queue.

RabbitMQ drops a queue's messages with the queue: an operator's ``delete_queue``, a policy, a
cluster mishap. A vote the broker had confirmed (the kiosk answered 202) but not yet delivered
to a worker went with it. So the votes exchange routes every vote to two queues, the votes queue
and a stream, ``<queue>.replay`` (``x-queue-type: stream``, kept ``STREAM_MAX_AGE`` or up to
``STREAM_MAX_BYTES``, whichever is less); the broker confirms a message routed to several queues
only once each of them holds it, so a 202 says both do. A stream is an append-only log that
consumers read without taking anything off it, from a point of their choosing (a time, an
offset).

When the worker finds the votes queue gone (its consumer cancelled, or the queue missing when it
declares it), it declares it again and replays the stream from ``REPLAY_MARGIN`` before its
replay mark (``sql/votes/replay_mark.sql``: a time before which every confirmed vote is stored)
up to a marker message of its own, published through the ``<queue>.replay`` exchange (bound to
the stream only, and writable by the worker's user only) once the queue is declared again: every
vote routed before the queue was back is before the marker. Votes are stored idempotently, so
those already stored change nothing.

Pure AMQP plumbing on a blocking connection; what a message means (``take``) and how votes are
stored (``store``) are the caller's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pika
from pika.exceptions import ChannelClosedByBroker, UnroutableError

from lib.errors import ConfigError

logger = logging.getLogger(__name__)

REPLAY_SUFFIX = ".replay"
STREAM_MAX_AGE = "24h"  # how long the stream keeps a vote, at most
STREAM_MAX_BYTES = 2 * 1024**3  # and how much it keeps in all (its oldest segments go first)
STREAM_SEGMENT_BYTES = 64 * 1024**2  # retention drops whole segments: keep them small
STREAM_ARGUMENTS = {
    "x-queue-type": "stream",
    "x-max-age": STREAM_MAX_AGE,
    "x-max-length-bytes": STREAM_MAX_BYTES,
    "x-stream-max-segment-size-bytes": STREAM_SEGMENT_BYTES,
}
# how far before the replay mark a replay starts: the worker's clock against the broker's (the
# stream's times are the broker's), and votes held but not yet stored when the mark was taken
REPLAY_MARGIN = timedelta(seconds=10)
REPLAY_IDLE = 30.0  # seconds without a message before a replay gives up on its marker
MARKER_PREFIX = "replay-marker "  # the message id of a marker, then its own random id


class StreamMissing(Exception):
    """The votes' stream is not there to replay (deleted, or not yet declared)."""


@dataclass(frozen=True)
class Marker:
    """A replay's marker as found in the stream: its ``offset`` there, its message ``id`` and
    when it was published (``at``, the worker's clock). Every vote before it is stored."""

    offset: int
    id: str
    at: datetime


@dataclass(frozen=True)
class Replayed:
    """What a replay read: ``messages`` (markers left out), ``votes`` among them, ``stored``
    (new rows: votes the queue had lost), ``marker`` (None: it gave up waiting for it), and
    ``stale``: it was to start at an earlier marker that is not there any more (the stream made
    again, or that far gone by its retention), and read nothing."""

    messages: int
    votes: int
    stored: int
    marker: Marker | None
    stale: bool = False


def stream_name(queue: str) -> str:
    return queue + REPLAY_SUFFIX


def declare_replay_stream(channel, queue: str, route_votes: bool) -> tuple[str, ...]:
    """The stream ``<queue>.replay`` and the exchange of that name, bound by that name; the
    stream also bound to the votes exchange ``queue`` by ``queue`` when ``route_votes`` (else
    unbound from it: no vote may be confirmed by the stream alone while the votes queue is
    refused). Returns lines worth a warning (a stream kept with other retention). Raises
    ConfigError if a queue of that name exists and is not a stream. The declaration is
    compared on a channel of its own (the broker closes one on a refusal)."""
    stream = stream_name(queue)
    notes: tuple[str, ...] = ()
    probe = channel.connection.channel()
    try:
        probe.queue_declare(stream, durable=True, arguments=STREAM_ARGUMENTS)
        probe.close()
    except ChannelClosedByBroker as exc:
        if exc.reply_code == 403:
            raise ConfigError(
                f"the worker's broker user may not declare {stream} (a user made before the "
                f"votes' stream existed?): allow it ^{queue}(\\.dead|\\.replay)?$ "
                f"(scripts/rabbitmq-users.sh, docs/operations.md 'Q3: who may vote')"
            ) from None
        if exc.reply_code != 406:
            raise
        if "x-queue-type" in exc.reply_text:
            raise ConfigError(
                f"queue {stream} exists and is not a stream ({exc.reply_text[:120]}): delete it "
                f"(rabbitmqctl delete_queue {stream}); the worker declares it (docs/q3.md, "
                f"'Queues that refuse')"
            ) from None
        notes = (
            f"stream {stream} exists with other arguments than the worker's "
            f"({exc.reply_text[:160]}): used as it is; its retention bounds the votes a lost "
            f"queue can be recovered from",
        )
    channel.exchange_declare(exchange=stream, exchange_type="direct", durable=True)
    channel.queue_bind(queue=stream, exchange=stream, routing_key=stream)
    if route_votes:
        channel.queue_bind(queue=stream, exchange=queue, routing_key=queue)
    else:
        channel.queue_unbind(queue=stream, exchange=queue, routing_key=queue)
    return notes


def queue_present(connection, name: str) -> bool:
    """Whether a queue ``name`` exists (a passive declare on a channel of its own)."""
    channel = connection.channel()
    try:
        channel.queue_declare(name, passive=True)
    except ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return False
        raise
    channel.close()
    return True


def start_offset(mark: datetime | None, last: Marker | None = None) -> datetime | str | Marker:
    """Where a replay starts: ``REPLAY_MARGIN`` before ``mark``, or the stream's first message
    when there is none; or at ``last``, the marker of a replay before, when that is later (every
    vote before it is stored, so an idle worker's replays read only what came since)."""
    if last is not None and (mark is None or mark - REPLAY_MARGIN <= last.at):
        return last
    return "first" if mark is None else mark - REPLAY_MARGIN


def replay(
    channel,
    queue: str,
    offset: datetime | str | Marker,
    take: Callable[[bytes, pika.BasicProperties], object | None],
    store: Callable[[Sequence[object]], int],
    batch_size: int,
    idle: float = REPLAY_IDLE,
) -> Replayed:
    """Read the stream of ``queue`` from ``offset`` (a time, ``first``, or an earlier replay's
    marker, which must be the first message read: else the replay is ``stale``) up to a marker
    published now (on ``channel``, which confirms), ``take`` turning each message into a vote
    (None: not a vote, skipped) and ``store`` storing them ``batch_size`` at a time (returning
    how many were new). Raises StreamMissing if the marker is returned (no stream bound to take
    it)."""
    stream = stream_name(queue)
    marker = MARKER_PREFIX + uuid.uuid4().hex
    published = datetime.now(UTC)
    try:
        channel.basic_publish(
            exchange=stream,
            routing_key=stream,
            body=b"",
            properties=pika.BasicProperties(delivery_mode=2, message_id=marker),
            mandatory=True,
        )
    except UnroutableError:
        raise StreamMissing(f"stream {stream} is missing") from None
    reader = channel.connection.channel()
    reader.basic_qos(prefetch_count=2 * batch_size)  # a stream needs one; acked by the batch
    messages = votes = stored = 0
    held: list[object] = []
    reached = None
    after = offset if isinstance(offset, Marker) else None
    start = after.offset if after is not None else offset
    try:
        for method, props, body in reader.consume(
            stream, arguments={"x-stream-offset": start}, inactivity_timeout=idle
        ):
            if method is None:
                break
            if after is not None:  # the first message: the earlier marker, or a stream changed
                if props.message_id != after.id or _offset(props) != after.offset:
                    return Replayed(0, 0, 0, None, stale=True)
                after = None
                continue
            if props.message_id == marker:
                reached = Marker(_offset(props), marker, published)
                reader.basic_ack(method.delivery_tag, multiple=True)
                break
            if (props.message_id or "").startswith(MARKER_PREFIX):  # another replay's
                continue
            messages += 1
            vote = take(body, props)
            if vote is not None:
                held.append(vote)
            if len(held) >= batch_size:
                stored += store(held)
                votes += len(held)
                held = []
                reader.basic_ack(method.delivery_tag, multiple=True)  # credit for more
        if held:
            stored += store(held)
            votes += len(held)
    finally:
        _close_reader(reader)
    return Replayed(messages, votes, stored, reached)


def _offset(props) -> int:
    """A stream message's offset, from the header RabbitMQ adds (-1 if missing)."""
    value = (props.headers or {}).get("x-stream-offset", -1)
    return value if isinstance(value, int) else -1


def _close_reader(reader) -> None:
    """Close a channel consuming a stream, leaving its consumer to the channel's end. pika's
    BlockingChannel cancels a consumer by rejecting the messages it holds (requeue), and its
    channel rejects those arriving before the broker's cancel-ok; RabbitMQ (3.10) implements
    no reject on a stream and closes the whole connection for one (540 NOT_IMPLEMENTED). A
    channel closed at once drops them instead (pika's channel, closing, rejects nothing), which
    costs a stream nothing: its consumers take nothing off it."""
    if not reader.is_open:
        return
    reader._impl.close()  # noqa: SLF001 - BlockingChannel.close() would cancel, rejecting
    while not reader.is_closed:
        reader.connection.process_data_events(0.05)
