"""A catalogue, limits and batch documents shared by the tests of the batch format."""

from __future__ import annotations

from tsmetrics.ingest.batch_format import Limits
from tsmetrics.ingest.catalogue_cache import Catalogue

NOW = 1_762_689_600.0  # 2025-11-09T12:00:00Z
CATALOGUE = Catalogue(
    abtests={"feature_a": (7, ("control", "treatment"))},
    metrics={"response_time": 3, "add_to_cart": 4},
)
LIMITS = Limits(max_bytes=100_000, max_age_seconds=3600, max_future_seconds=60)


def sample(**changes):
    """A valid sample document with these changes; a field set to `...` is left out."""
    doc = {"metric": "response_time", "value": 93.5, "time": "2025-11-09T11:59:00Z"}
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not ...}


def batch(samples=None, **changes):
    """A valid batch document (one sample by default); a field set to `...` is left out."""
    doc = {"abTest": "feature_a", "variant": "treatment", "samples": samples or [sample()]}
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not ...}
