"""The traffic simulator: realistic samples, the rate asked for, and both targets."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from tests.support import rabbit
from tsmetrics.cli import main as cli
from tsmetrics.demo import simulator, synthetic
from tsmetrics.demo.seed import ensure_catalogue
from tsmetrics.ingest import batch_format
from tsmetrics.ingest.catalogue_cache import Catalogue

DAY_START = 1_762_646_400  # 2025-11-09T00:00:00Z


def _traffic(rate: float, seed: int = 1) -> simulator.Traffic:
    return simulator.Traffic(synthetic.TESTS, rate, np.random.default_rng(seed))


def _values(batches_, test: str, variant: str, metric: str) -> np.ndarray:
    return np.array(
        [
            s["value"]
            for t, v, samples in batches_
            if (t, v) == (test, variant)
            for s in samples
            if s["metric"] == metric
        ]
    )


def test_rate_variants_metrics_and_times():
    traffic = _traffic(rate=1000)
    made = [traffic.batches(DAY_START + second, 1.0) for second in range(10)]
    flat = [b for tick in made for b in tick]
    assert sum(len(samples) for _, _, samples in flat) in range(9_996, 10_001)
    assert {(t, v) for t, v, _ in flat} == {
        (t.name, v) for t in synthetic.TESTS for v in synthetic.VARIANTS
    }
    counts = Counter(s["metric"] for _, _, samples in flat for s in samples)
    assert set(counts) == {m.name for m in synthetic.METRICS}
    assert len(set(counts.values())) == 1  # every request reports every metric
    for second, tick in enumerate(made):
        times = [s["time"] for _, _, samples in tick for s in samples]
        assert DAY_START + second <= min(times) and max(times) <= DAY_START + second + 1


def test_treatment_effect_and_daily_cycle():
    traffic = _traffic(rate=40_000)
    evening = traffic.batches(DAY_START + 20 * 3600, 2.0)
    control = _values(evening, "feature_a", "control", "response_time").mean()
    treatment = _values(evening, "feature_a", "treatment", "response_time").mean()
    assert treatment / control == pytest.approx(0.90, abs=0.03)
    morning = traffic.batches(DAY_START + 8 * 3600, 2.0)
    assert (
        _values(evening, "feature_b", "control", "cpu_usage").mean()
        > _values(morning, "feature_b", "control", "cpu_usage").mean() + 20
    )


class _ListSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list]] = []

    def send(self, abtest, variant, samples) -> None:
        self.sent.append((abtest, variant, samples))

    def close(self) -> None:
        pass


def test_run_keeps_the_rate_and_splits_batches():
    sink, lines = _ListSink(), []
    progress = simulator.run(
        sink, _traffic(rate=2000), duration=1.5, batch_size=100, out=lines.append
    )
    # 2,000/s for 1.5 s; the last tick may round up by part of one batch under load.
    assert 2_700 <= progress.done <= 3_000 + 100
    assert max(len(samples) for _, _, samples in sink.sent) == 100
    assert lines[-1].startswith(f"Simulated {progress.done:,} samples in 1.5 s")


def test_unknown_test_names_are_refused():
    with pytest.raises(ValueError, match="not a demo A/B test: nope"):
        simulator.select_tests(("nope",))
    assert simulator.select_tests(("feature_b",)) == (synthetic.TESTS[1],)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app on a real socket, as the simulator's HTTP target."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_http_target_stores_every_sample(db, live_server):
    ensure_catalogue(db, days=1)
    result = CliRunner().invoke(
        cli,
        ["simulate", "--target", "http", "--url", live_server, "--rate", "800", "--duration", "2"],
    )
    assert result.exit_code == 0, result.output
    stored = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    assert f"Simulated {stored:,} samples" in result.output
    assert 1_400 <= stored <= 1_600
    assert db.execute("SELECT count(DISTINCT variant) FROM samples").fetchone()[0] == 2


@pytest.mark.rabbitmq
def test_amqp_target_publishes_valid_batches(monkeypatch):
    rabbit.require_rabbitmq()
    with rabbit.private_queue() as topology:
        monkeypatch.setenv("TSMETRICS_QUEUE", topology.queue)
        monkeypatch.setenv("TSMETRICS_BROKER_URL", rabbit.BROKER_URL)
        result = CliRunner().invoke(
            cli, ["simulate", "--rate", "400", "--duration", "1", "--abtest", "feature_a"]
        )
        assert result.exit_code == 0, result.output
        messages = rabbit.drain(topology.queue)
    catalogue = Catalogue(
        {"feature_a": (1, tuple(synthetic.VARIANTS))},
        {m.name: i for i, m in enumerate(synthetic.METRICS)},
    )
    limits = batch_format.Limits(max_age_seconds=math.inf)
    parsed = [batch_format.parse_batch(body, catalogue, limits) for _, body in messages]
    assert 360 <= sum(len(batch) for batch in parsed) <= 400
    assert {batch.variant for batch in parsed} == set(synthetic.VARIANTS)
    assert len({properties.message_id for properties, _ in messages}) == len(messages)
    assert all(batch.samples.time_us.max() / 1e6 <= time.time() for batch in parsed)
