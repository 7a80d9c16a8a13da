"""Which broker node a process connects to next."""

from __future__ import annotations

import socket

import pytest
from pika.exceptions import AMQPConnectionError

from lib.votes.nodes import Nodes, address

URLS = ("amqp://u:pw@a:5701/%2F", "amqp://u:pw@b:5702/%2F", "amqp://u:pw@c:5703/%2F")


def test_nodes_are_taken_in_the_order_given_round_the_list():
    nodes = Nodes(URLS)
    assert len(nodes) == 3
    assert [address(nodes.take()) for _ in range(4)] == ["a:5701", "b:5702", "c:5703", "a:5701"]
    assert [address(p) for p in nodes.in_turn()] == ["b:5702", "c:5703", "a:5701"]


def test_each_node_fails_fast_and_keeps_its_credentials():
    for params in Nodes(URLS).params:
        assert params.connection_attempts == 1 and params.socket_timeout == 3
        assert (params.credentials.username, params.credentials.password) == ("u", "pw")


def test_no_node_is_a_programming_error():
    with pytest.raises(ValueError):
        Nodes(())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


def test_connect_tries_every_node_then_raises_and_moves_on():
    urls = [f"amqp://u:pw@127.0.0.1:{_closed_port()}/%2F" for _ in range(3)]
    nodes = Nodes(urls)
    nodes.take()  # the second node is next
    with pytest.raises(AMQPConnectionError):
        nodes.connect()
    # every node was tried, from the second; the next round starts one further on, the third
    assert nodes.in_turn()[0].port == nodes.params[2].port
