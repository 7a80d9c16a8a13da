"""``lib.db.connect``'s errors: options libpq refuses are a configuration error (the worker stops
with one line rather than retrying forever), and no message repeats the password. libpq refuses
such options before it reaches any server: no service needed."""

from __future__ import annotations

import pytest

from lib.db import connect
from lib.errors import ConfigError


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("sslmode=bogus", 'invalid sslmode value: "bogus"'),
        ("nosuch=1", 'invalid connection option "nosuch"'),
        ("connect_timeout=soon", 'invalid integer value "soon"'),
    ],
)
def test_options_libpq_refuses_are_a_configuration_error_without_the_password(query, said):
    with pytest.raises(ConfigError, match=said) as caught:
        connect(f"postgresql://postgres:PW9secret@127.0.0.1:1/test?{query}")
    assert "PW9secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_driver_not_installed_is_refused_without_the_password():
    with pytest.raises(ConfigError, match="unusable database URL") as caught:
        connect("postgresql+nodriver://postgres:PW9secret@127.0.0.1:1/test")
    assert "PW9secret" not in str(caught.value)
