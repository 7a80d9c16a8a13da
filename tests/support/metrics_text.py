"""Reading the Prometheus text format back, for the tests of ``/metrics``."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample_values(text: bytes | str) -> dict[str, float]:
    """Every sample of an exposition by its name and labels as Prometheus writes them:
    ``{'vote_counter_kiosk_votes_refused_total{reason="invalid"}': 1.0, ...}`` (labels in
    the order given)."""
    if isinstance(text, bytes):
        text = text.decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found
