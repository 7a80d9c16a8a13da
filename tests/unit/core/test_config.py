"""The environment helpers every capability's settings are read with."""

from __future__ import annotations

import pytest

from lib.config import number
from lib.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "kind", "zero_ok", "expected"),
    [
        ("2", float, False, 2.0),
        ("0", float, True, 0.0),
        ("0.05", float, False, 0.05),
        ("7", int, False, 7),
    ],
)
def test_a_number_in_range_is_read(text, kind, zero_ok, expected):
    assert number({"N": text}, "N", "1", kind, zero_ok) == expected


def test_the_default_is_read_when_the_variable_is_unset():
    assert number({}, "N", "3", int) == 3


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "1e999", "-1", "0", "x", ""])
def test_a_number_out_of_range_or_not_finite_is_refused_naming_the_variable(text):
    with pytest.raises(ConfigError, match="^RESULTS_INTERVAL must be a positive float"):
        number({"RESULTS_INTERVAL": text}, "RESULTS_INTERVAL", "2", float)
