"""Q1's settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.errors import ConfigError
from lib.logs.settings import NASA_AUG95_URLS, load_settings


def test_defaults_follow_the_data_dir():
    assert load_settings({}) == load_settings({"DATA_DIR": "data"})
    settings = load_settings({"DATA_DIR": "/srv/q1"})
    assert settings.dns_cache == Path("/srv/q1/cache/dns.json")
    assert settings.geo_cache == Path("/srv/q1/cache/geo")
    assert settings.nasa_log_urls == NASA_AUG95_URLS
    assert settings.download_timeout == 20 and settings.dask_scheduler_address is None


def test_each_variable_is_read():
    settings = load_settings(
        {
            "DNS_CACHE": "/tmp/d.json",
            "GEO_CACHE": "/tmp/geo",
            "NASA_LOG_URLS": "http://a/x.gz  http://b/y.gz",
            "DOWNLOAD_TIMEOUT": "2.5",
            "DASK_SCHEDULER_ADDRESS": "tcp://10.0.0.5:8786",
        }
    )
    assert settings.dns_cache == Path("/tmp/d.json")
    assert settings.geo_cache == Path("/tmp/geo")
    assert settings.nasa_log_urls == ("http://a/x.gz", "http://b/y.gz")
    assert settings.download_timeout == 2.5
    assert settings.dask_scheduler_address == "tcp://10.0.0.5:8786"


def test_a_notebook_parameter_overrides_its_variable_and_none_does_not():
    env = {"DNS_CACHE": "/from/env.json"}
    assert load_settings(env, dns_cache=None).dns_cache == Path("/from/env.json")
    assert load_settings(env, dns_cache="").dns_cache == Path("/from/env.json")
    assert load_settings(env, dns_cache="given.json").dns_cache == Path("given.json")


@pytest.mark.parametrize("bad", ["soon", "0", "-3"])
def test_a_malformed_number_names_its_variable(bad):
    with pytest.raises(ConfigError, match="DOWNLOAD_TIMEOUT"):
        load_settings({"DOWNLOAD_TIMEOUT": bad})
