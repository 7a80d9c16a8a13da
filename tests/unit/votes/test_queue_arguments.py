"""The votes queues' arguments: what is declared, and the probe that tells a queue that could lose
votes from one that refuses when full, from RabbitMQ's refusals (the texts as RabbitMQ 3.10 on
this machine gives them)."""

from __future__ import annotations

import pytest

from lib.votes.queue_arguments import ArgumentProbe, declared_arguments


def refusal(key: str, received: str, current: str) -> str:
    return (
        f"PRECONDITION_FAILED - inequivalent arg '{key}' for queue 'votes' in vhost '/': "
        f"received {received} but current is {current}"
    )


def value(text: str, kind: str = "signedint") -> str:
    return f"the value '{text}' of type '{kind}'"


class Broker:
    """A queue as RabbitMQ compares a declaration with it: the first argument (in RabbitMQ's
    order) whose value differs is refused, naming the queue's value."""

    ORDER = (
        "x-expires",
        "x-message-ttl",
        "x-dead-letter-exchange",
        "x-max-length",
        "x-max-length-bytes",
        "x-max-in-memory-length",
        "x-overflow",
        "x-queue-leader-locator",
        "x-delivery-limit",
        "x-queue-type",
    )

    def __init__(self, **arguments):
        self.arguments = {k.replace("_", "-"): v for k, v in arguments.items()}
        self.declarations = 0

    def declare(self, sent: dict) -> tuple[int, str] | None:
        self.declarations += 1
        for key in self.ORDER:
            have, want = self.arguments.get(key), sent.get(key)
            if have == want:
                continue
            shown = lambda v: "none" if v is None else value(str(v), _kind(v))  # noqa: E731
            return 406, refusal(key, shown(want), shown(have))
        return None


def _kind(v) -> str:
    return "longstr" if isinstance(v, str) else "bool" if isinstance(v, bool) else "signedint"


def judge(broker: Broker, max_length: int = 0):
    probe = ArgumentProbe("votes", "quorum", max_length)
    while (refused := broker.declare(probe.arguments)) is not None:
        verdict = probe.refused(*refused)
        if verdict is not None:
            return verdict, probe
    return probe.accepted(), probe


def test_the_declaration_refuses_when_full():
    assert declared_arguments("quorum") == {
        "x-queue-type": "quorum",
        "x-overflow": "reject-publish",
    }
    assert declared_arguments("classic", 5000) == {
        "x-queue-type": "classic",
        "x-overflow": "reject-publish",
        "x-max-length": 5000,
    }


def test_a_queue_as_declared_passes_at_the_first_declaration():
    broker = Broker(x_queue_type="quorum", x_overflow="reject-publish")
    verdict, _ = judge(broker)
    assert verdict.problem is None and verdict.notes == () and broker.declarations == 1


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        # the queue, re-declared by someone else
        (
            {"x_max_length": 5, "x_overflow": "drop-head"},
            "queue votes could lose votes: it drops the oldest votes when full "
            "(x-overflow=drop-head)",
        ),
        # a limit without x-overflow: RabbitMQ drops from the head
        (
            {"x_max_length": 5},
            "queue votes could lose votes: it drops the oldest votes when full "
            "(x-max-length=5 without x-overflow: drop-head)",
        ),
        (
            {"x_max_length_bytes": 100, "x_overflow": "reject-publish", "x_message_ttl": 60000},
            "queue votes could lose votes: it expires each vote after 60000 ms "
            "(x-message-ttl=60000)",
        ),
        ({"x_expires": 100000, "x_overflow": "reject-publish"}, "after 100000 ms without a"),
        ({"x_delivery_limit": 3, "x_overflow": "reject-publish"}, "drops a vote delivered 3"),
    ],
)
def test_a_queue_that_could_lose_votes_is_named_with_what_and_why(arguments, said):
    verdict, probe = judge(Broker(x_queue_type="quorum", **arguments))
    assert verdict.could_lose and said in verdict.problem
    assert "drop-head" not in str(probe.arguments.get("x-overflow"))  # never declared


def test_a_limit_that_refuses_is_taken_as_the_queue_has_it_with_a_note():
    broker = Broker(x_queue_type="quorum", x_overflow="reject-publish", x_max_length=1000)
    verdict, probe = judge(broker, max_length=5000)
    assert verdict.problem is None and probe.arguments["x-max-length"] == 1000
    assert verdict.notes == (
        "queue votes has x-max-length=1000, not VOTES_QUEUE_MAX_LENGTH=5000: a queue's "
        "arguments are fixed when it is made; re-create it to change them",
    )


def test_a_queue_of_the_earlier_declaration_is_used_with_a_note_saying_what_to_do():
    broker = Broker(x_queue_type="quorum")  # as the code before x-overflow declared it
    verdict, probe = judge(broker, max_length=100)
    assert verdict.problem is None and len(verdict.notes) == 2
    assert verdict.notes[0].startswith("queue votes has no x-overflow (declared before it was")
    # it was never declared with a limit and no x-overflow: that queue would drop
    assert "x-max-length" not in probe.arguments and "x-overflow" not in probe.arguments


def test_harmless_arguments_are_taken_and_judged_past():
    broker = Broker(
        x_queue_type="quorum",
        x_dead_letter_exchange="elsewhere",
        x_queue_leader_locator="balanced",
        x_overflow="reject-publish",
        x_max_in_memory_length=10,
    )
    verdict, probe = judge(broker)
    assert verdict.problem is None and verdict.notes == ()
    assert probe.arguments["x-queue-leader-locator"] == "balanced" and broker.declarations == 4


def test_a_harmless_argument_does_not_hide_a_losing_one_after_it():
    broker = Broker(x_queue_type="quorum", x_queue_leader_locator="balanced", x_delivery_limit=2)
    verdict, _ = judge(broker)
    assert verdict.could_lose and "x-delivery-limit=2" in verdict.problem


def test_the_other_type_is_the_type_line_and_not_a_loss():
    verdict = ArgumentProbe("votes", "quorum").refused(
        406, refusal("x-queue-type", value("quorum", "longstr"), "none")
    )
    assert verdict.problem == (
        "queue votes exists as a classic queue; VOTES_QUEUE_TYPE=quorum needs it drained and "
        "deleted, or set VOTES_QUEUE_TYPE=classic"
    )
    assert not verdict.could_lose


@pytest.mark.parametrize(
    "text",
    [
        refusal("x-unheard-of", "none", value("1")),
        refusal("x-max-length", "none", value("1.5", "double")),
        "PRECONDITION_FAILED - inequivalent arg 'x-max-len",  # cut short
        "PRECONDITION_FAILED - something else entirely",
    ],
)
def test_what_cannot_be_judged_is_not_trusted(text):
    verdict = ArgumentProbe("votes", "quorum").refused(406, text)
    assert verdict.could_lose and verdict.problem.startswith("queue votes cannot be trusted")


def test_the_same_type_form_is_read_as_the_type_sent():
    probe = ArgumentProbe("votes", "quorum", 6)
    assert probe.refused(406, refusal("x-max-length", "'6'", "'5'")) is None
    assert probe.arguments["x-max-length"] == 5
    verdict = probe.refused(406, refusal("x-overflow", "'reject-publish'", "'drop-head'"))
    assert verdict.could_lose and "(x-overflow=drop-head)" in verdict.problem


def test_a_probe_gives_up_after_too_many_rounds():
    probe = ArgumentProbe("votes", "quorum")
    verdicts = [
        probe.refused(406, refusal("x-queue-leader-locator", "none", value("x", "longstr")))
        for _ in range(20)
    ]
    assert verdicts[0] is None and "more than 16" in next(v for v in verdicts if v).problem
