"""The kiosk publisher's connection hands pika's frames to the socket whole: a message's method,
header and body frames as one buffer, a held batch's messages as one, the bytes and their order
unchanged and pika's counts kept (no broker needed: what pika would emit is collected)."""

from __future__ import annotations

from pika import frame, spec

from lib.votes.broker import _CoalescingConnection, persistent


def connection() -> tuple[_CoalescingConnection, list[bytes]]:
    """A connection that never connects: what it emits is collected."""
    made = _CoalescingConnection.__new__(_CoalescingConnection)
    made.bytes_sent = made.frames_sent = 0
    emitted: list[bytes] = []
    made._adapter_emit_data = emitted.append
    return made, emitted


def message(tag: int) -> list[bytes]:
    """A publish's frames as pika marshals them."""
    body = b'{"vote": %d}' % tag
    method = spec.Basic.Publish(exchange="votes", routing_key="votes", mandatory=True)
    return [
        frame.Method(1, method).marshal(),
        frame.Header(1, len(body), persistent(f"vote-{tag}", "kiosk")).marshal(),
        frame.Body(1, body).marshal(),
    ]


def test_a_message_is_one_buffer_of_its_frames():
    made, emitted = connection()
    frames = message(1)
    made._output_marshaled_frames(frames)
    assert emitted == [b"".join(frames)]
    assert (made.frames_sent, made.bytes_sent) == (3, sum(map(len, frames)))


def test_a_held_batch_is_one_buffer_in_order_and_nothing_before_it_ends():
    made, emitted = connection()
    batch = [message(tag) for tag in range(4)]
    with made.held():
        for frames in batch:
            made._output_marshaled_frames(frames)
        assert emitted == []
    assert emitted == [b"".join(f for frames in batch for f in frames)]
    assert made.frames_sent == 12
    made._output_marshaled_frames(message(9))  # after the block: one buffer a message again
    assert emitted[1:] == [b"".join(message(9))]


def test_what_was_held_is_sent_even_if_the_batch_fails_half_way():
    made, emitted = connection()
    try:
        with made.held():
            made._output_marshaled_frames(message(1))
            raise OSError("the next publish failed")
    except OSError:
        pass
    assert emitted == [b"".join(message(1))]


def test_an_empty_batch_sends_nothing():
    made, emitted = connection()
    with made.held():
        pass
    assert emitted == [] and made.frames_sent == 0
