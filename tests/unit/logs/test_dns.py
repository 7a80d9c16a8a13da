import threading
import time

from lib.logs.geo.dns import DnsCache, lookup_all, resolve_hosts

ANSWERS = {"nasa.gov": "198.116.142.34", "a.com": "192.0.2.1", "b.com": "192.0.2.2"}


def test_resolves_reports_unknown_names_and_caches(tmp_path):
    cache = DnsCache(tmp_path / "dns.json")
    report = resolve_hosts(["a.com", "b.com", "gone.com"], ANSWERS.get, cache=cache)
    assert report.available
    assert report.addresses == {"a.com": "192.0.2.1", "b.com": "192.0.2.2"}
    assert report.not_found == ("gone.com",)

    def no_network(host):
        raise AssertionError("the cache should have answered")

    again = resolve_hosts(["a.com", "gone.com"], no_network, cache=DnsCache(tmp_path / "dns.json"))
    assert again.from_cache == 2 and again.addresses == {"a.com": "192.0.2.1"}


def test_a_failed_canary_stops_the_round_and_caches_nothing(tmp_path):
    calls = []

    def offline(host):
        calls.append(host)
        return None  # what getaddrinfo says for every name on a machine with no network

    cache = DnsCache(tmp_path / "dns.json")
    report = resolve_hosts(["a.com", "b.com"], offline, cache=cache)
    assert not report.available and "canary nasa.gov did not resolve" in report.message
    assert calls == ["nasa.gov"]
    assert not (tmp_path / "dns.json").exists()


def test_hanging_lookups_time_out_and_the_deadline_holds():
    release = threading.Event()

    def slow(host):
        if host.startswith("hang"):
            release.wait(30)
        return ANSWERS.get(host)

    started = time.monotonic()
    results = lookup_all(
        ["a.com", "hang1", "hang2", "b.com"], slow, workers=2, timeout=0.3, deadline=5
    )
    elapsed = time.monotonic() - started
    release.set()
    assert results["a.com"] == ("ok", "192.0.2.1") and results["b.com"] == ("ok", "192.0.2.2")
    assert results["hang1"] == ("error", "timeout") == results["hang2"]
    assert elapsed < 3


def test_overall_deadline_abandons_the_rest():
    release = threading.Event()

    def hang(host):
        release.wait(30)

    started = time.monotonic()
    results = lookup_all([f"h{i}" for i in range(10)], hang, workers=2, timeout=10, deadline=0.3)
    release.set()
    assert time.monotonic() - started < 3
    assert set(results) == {f"h{i}" for i in range(10)}
    assert all(r == ("error", "deadline") for r in results.values())


def test_resolver_exceptions_become_failures_not_crashes():
    def flaky(host):
        if host == "nasa.gov":
            return "198.116.142.34"
        raise OSError("SERVFAIL")

    report = resolve_hosts(["a.com"], flaky)
    assert report.available and report.failed == {"a.com": "OSError: SERVFAIL"}


def test_unreadable_cache_is_ignored(tmp_path):
    path = tmp_path / "dns.json"
    path.write_text("{not json")
    assert DnsCache(path).entries == {}
