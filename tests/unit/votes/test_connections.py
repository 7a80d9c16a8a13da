"""The connection caps of a kiosk server process (``lib.votes.connections``): a client over its
cap gives up its own longest-waiting connection, the total is shared by closing a waiting
connection of the client holding the most, a connection being answered is never closed, and
an IPv6 client is its /64."""

from __future__ import annotations

import pytest

from lib.votes.connections import PER_CLIENT, TOTAL, Admission, ConnectionCaps


def test_a_client_over_its_cap_gives_up_its_longest_waiting_connection():
    caps = ConnectionCaps(total=100, per_client=2)
    assert caps.admit("a", "10.0.0.1") == Admission(True)
    assert caps.admit("b", "10.0.0.1") == Admission(True)
    caps.busy("a")
    caps.waiting("a")  # answered: now the one that waited least
    assert caps.admit("c", "10.0.0.1") == Admission(True, "b", PER_CLIENT)
    assert caps.held("10.0.0.1") == 2 and len(caps) == 2
    assert caps.admit("x", "10.0.0.2") == Admission(True)  # another client is untouched


def test_connections_being_answered_are_never_closed():
    caps = ConnectionCaps(total=100, per_client=2)
    for connection in ("a", "b"):
        caps.admit(connection, "10.0.0.1")
        caps.busy(connection)
    assert caps.admit("c", "10.0.0.1") == Admission(False, None, PER_CLIENT)
    caps.waiting("b")
    assert caps.admit("c", "10.0.0.1") == Admission(True, "b", PER_CLIENT)


def test_the_total_is_shared_by_the_client_holding_the_most():
    caps = ConnectionCaps(total=4, per_client=4)
    for i in range(4):
        caps.admit(f"hog{i}", "10.0.0.1")
    assert caps.admit("n0", "10.0.0.2") == Admission(True, "hog0", TOTAL)
    assert caps.admit("n1", "10.0.0.2") == Admission(True, "hog1", TOTAL)
    # two each: the newcomer's client gives up its own rather than take another's share
    assert caps.admit("n2", "10.0.0.2") == Admission(True, "n0", TOTAL)
    assert caps.held("10.0.0.1") == caps.held("10.0.0.2") == 2
    assert caps.admit("m0", "10.0.0.3") == Admission(True, "hog2", TOTAL)
    assert len(caps) == 4


def test_a_full_process_refuses_when_nothing_may_be_closed():
    caps = ConnectionCaps(total=2, per_client=2)
    for connection in ("a", "b"):
        caps.admit(connection, "10.0.0.1")
        caps.busy(connection)
    assert caps.admit("c", "10.0.0.2") == Admission(False, None, TOTAL)
    assert caps.held("10.0.0.2") == 0


def test_an_ipv6_client_is_its_64_and_a_mapped_ipv4_address_its_ipv4_one():
    caps = ConnectionCaps(total=100, per_client=2)
    caps.admit("a", "2001:db8:1:2::1")
    caps.admit("b", "2001:db8:1:2:ffff::9")
    assert caps.admit("c", "2001:db8:1:2:abcd::1").closing == "a"
    assert caps.admit("d", "2001:db8:1:3::1") == Admission(True)
    caps.admit("e", "::ffff:10.0.0.1")
    assert caps.held("10.0.0.1") == 1


def test_release_forgets_a_connection_once_and_again_harmlessly():
    caps = ConnectionCaps(total=2, per_client=2)
    caps.admit("a", "10.0.0.1")
    caps.busy("a")
    caps.release("a")
    caps.release("a")
    caps.waiting("a")
    caps.busy("a")  # a closed connection is not brought back by late news of it
    assert len(caps) == 0 and caps.held("10.0.0.1") == 0


@pytest.mark.parametrize(("total", "per_client"), [(10, 0), (10, 11), (0, 0)])
def test_caps_that_admit_nothing_or_exceed_the_total_are_refused(total, per_client):
    with pytest.raises(ValueError, match="per_client <= total"):
        ConnectionCaps(total, per_client)
