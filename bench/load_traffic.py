"""The traffic of bench_load.py: readers (dashboard and API) and a producer at a fixed rate."""

from __future__ import annotations

import http.client
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import numpy as np
import orjson
from common import Gunicorn
from ops import Latencies

from tsmetrics.demo import synthetic
from tsmetrics.ingest.producer import Producer, PublishFailed, new_batch_id

TESTS = [test.name for test in synthetic.TESTS]
METRICS = [metric.name for metric in synthetic.METRICS]
# Kinds of request and their share of the traffic.
MIX = {
    "metrics (3 days to now, auto)": 30,
    "metrics (7 days, 5m)": 15,
    "metrics (fixed past day, 1m)": 15,
    "dashboard charts (24h)": 20,
    "abtest": 10,
    "compare": 10,
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def request_path(kind: str, rng: random.Random) -> tuple[str, dict[str, str]]:
    """A path of this kind, and its headers."""
    test, metric = rng.choice(TESTS), rng.choice(METRICS)
    now = datetime.now(UTC)
    query = {"abTestName": test, "metricName": metric}
    if kind.startswith("metrics (3"):
        return "/metrics?" + urlencode({**query, "granularity": "auto"}), {}
    if kind.startswith("metrics (7"):
        start = _iso(now - timedelta(days=7))
        return "/metrics?" + urlencode({**query, "granularity": "5m", "start": start}), {}
    if kind.startswith("metrics (fixed"):
        day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
        window = {"start": _iso(day), "end": _iso(day + timedelta(days=1)), "granularity": "1m"}
        return "/metrics?" + urlencode({**query, **window}), {}
    if kind.startswith("dashboard"):
        return f"/dashboard/abtests/{test}?range=24h", {"HX-Request": "true"}
    if kind == "abtest":
        return f"/abtest/{test}", {}
    return f"/abtest/{test}/compare", {}


class Readers:
    """Threads sending the mix to both API instances in turn, as fast as answers come."""

    def __init__(self, apis: list[Gunicorn], *, threads: int) -> None:
        self.apis, self.threads = apis, threads
        self.latencies = Latencies()
        self.records: list[tuple[float, str, int, bool]] = []  # (time, kind, status, Retry-After)
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self.began = self.ended = 0.0

    def clock(self) -> float:
        """Seconds since the traffic began."""
        return time.monotonic() - self.began

    def start(self) -> None:
        """Begin sending."""
        self.began = time.monotonic()
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        """Stop and wait for the threads."""
        self._stop.set()
        for worker in self._workers:
            worker.join(30)
        self.ended = time.monotonic()

    def elapsed(self) -> float:
        """Seconds the traffic ran."""
        return self.ended - self.began

    def _run(self, index: int) -> None:
        rng = random.Random(index)
        kinds, weights = list(MIX), list(MIX.values())
        connections = [
            http.client.HTTPConnection("127.0.0.1", api.port, timeout=30) for api in self.apis
        ]
        turn = index
        while not self._stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            path, headers = request_path(kind, rng)
            turn += 1
            connection = connections[turn % len(connections)]
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                status, retry = response.status, response.getheader("Retry-After") is not None
            except (OSError, http.client.HTTPException):
                status, retry = 0, False  # no answer at all
                connection.close()
                time.sleep(0.05)  # a refused connection fails at once: no busy loop
            millis = (time.perf_counter() - began) * 1000
            self.latencies.add(kind, millis, status)
            self.records.append((self.clock(), kind, status, retry))

    def errors(self, events: dict) -> dict:
        """Failed requests: outside PostgreSQL's outage, and inside it (where 503 is expected)."""
        down = events.get("postgres_stopped")
        up = events.get("postgres_started", 0) + events.get("postgres_recovered_after_s", 0)
        out = {"unexpected": 0, "outage_503_with_retry_after": 0, "outage_other": 0}
        for moment, _kind, status, retry in self.records:
            in_outage = down is not None and down <= moment <= up + 1
            if 200 <= status < 400:
                continue
            if in_outage:
                key = "outage_503_with_retry_after" if status == 503 and retry else "outage_other"
                out[key] += 1
            else:
                out["unexpected"] += 1
        return out


def first_ok(apis: list[Gunicorn], deadline: float) -> float:
    """Poll /metrics on every instance until each answers 200; the traffic clock's time then."""
    path = "/metrics?" + urlencode({"abTestName": TESTS[0], "metricName": METRICS[0]})
    pending = set(range(len(apis)))
    stop_at = time.monotonic() + deadline
    while pending and time.monotonic() < stop_at:
        for index in sorted(pending):
            connection = http.client.HTTPConnection("127.0.0.1", apis[index].port, timeout=5)
            try:
                connection.request("GET", path)
                if connection.getresponse().status == 200:
                    pending.discard(index)
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
        time.sleep(0.05)
    return time.monotonic()


class Publisher(threading.Thread):
    """Publishes `rate` samples a second in batches of rate/10, on a fixed schedule."""

    def __init__(self, url: str, queue: str, *, rate: int) -> None:
        super().__init__(daemon=True)
        self.url, self.queue, self.rate = url, queue, rate
        self.ids: list[str] = []
        self.samples = 0
        self.failures = 0
        self._halt = threading.Event()
        self._rng = np.random.default_rng(1)

    def stop(self) -> None:
        """Stop after the batch in hand."""
        self._halt.set()
        self.join(120)

    def _batch(self, size: int) -> bytes:
        test = synthetic.TESTS[int(self._rng.integers(len(synthetic.TESTS)))].name
        now = time.time()
        metrics = self._rng.choice(METRICS, size)
        values = np.round(self._rng.lognormal(4, 0.5, size), 3)
        times = np.round(now - self._rng.uniform(0, 2, size), 3)
        samples = [
            {"metric": m, "value": v, "time": t}
            for m, v, t in zip(metrics.tolist(), values.tolist(), times.tolist(), strict=True)
        ]
        variant = synthetic.VARIANTS[int(self._rng.integers(len(synthetic.VARIANTS)))]
        return orjson.dumps({"abTest": test, "variant": variant, "samples": samples})

    def run(self) -> None:
        """Publish until stopped, catching up after an outage."""
        size, began, sent = max(1, self.rate // 10), time.monotonic(), 0
        with Producer(self.url, self.queue, attempts=12) as producer:
            while not self._halt.is_set():
                due = int((time.monotonic() - began) * 10)
                if sent >= due:
                    time.sleep(0.01)
                    continue
                batch_id = new_batch_id()
                try:
                    producer.publish_body(self._batch(size), batch_id)
                except PublishFailed:
                    self.failures += 1
                else:
                    self.ids.append(batch_id)
                    self.samples += size
                sent += 1
