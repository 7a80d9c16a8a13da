"""The votes queues' type: the declaration's arguments and the line a mismatch gives."""

from __future__ import annotations

import pytest

from lib.votes.queue_type import mismatch, queue_arguments

# What RabbitMQ 3.10 answers, as measured on this machine's node
CLASSIC_FOUND = (
    "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'votes' in vhost '/': "
    "received the value 'quorum' of type 'longstr' but current is none"
)
QUORUM_FOUND = (
    "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'votes' in vhost '/': "
    "received 'classic' but current is 'quorum'"
)


def test_both_types_are_declared_by_name():
    assert queue_arguments("quorum") == {"x-queue-type": "quorum"}
    assert queue_arguments("classic") == {"x-queue-type": "classic"}


@pytest.mark.parametrize(
    ("wanted", "text", "line"),
    [
        (
            "quorum",
            CLASSIC_FOUND,
            "queue votes exists as a classic queue; VOTES_QUEUE_TYPE=quorum needs it drained "
            "and deleted, or set VOTES_QUEUE_TYPE=classic",
        ),
        (
            "classic",
            QUORUM_FOUND,
            "queue votes exists as a quorum queue; VOTES_QUEUE_TYPE=classic needs it drained "
            "and deleted, or set VOTES_QUEUE_TYPE=quorum",
        ),
    ],
)
def test_a_queue_of_the_other_type_is_one_line_saying_what_to_do(wanted, text, line):
    assert mismatch("votes", wanted, 406, text) == line


def test_other_refusals_are_not_a_type_mismatch():
    durable = (
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'votes' in vhost '/': "
        "received 'true' but current is 'false'"
    )
    assert mismatch("votes", "quorum", 406, durable) is None
    assert mismatch("votes", "quorum", 403, CLASSIC_FOUND) is None
    assert mismatch("votes", "quorum", 404, "NOT_FOUND - no queue 'votes' in vhost '/'") is None
