"""`tsmetrics simulate`: stands in for the e-commerce web app, emitting live samples.

Requests arrive at the given rate; each is served by one variant (50/50) of one
of the demo A/B tests and reports every demo metric, with the daily cycle and
treatment effects of tsmetrics.demo.synthetic. Each second's samples are published
as one batch per (test, variant), to RabbitMQ or to `POST /ingest`.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from tsmetrics.demo import synthetic
from tsmetrics.ingest import broker
from tsmetrics.ingest.producer import Producer, encode_batch, new_batch_id
from tsmetrics.telemetry.progress import Progress

TICK_SECONDS = 1.0
_RETRY_STATUSES = {429, 502, 503, 504}


class SimulationError(RuntimeError):
    """The target refused the samples in a way that retrying cannot fix."""


class Sink(Protocol):
    """Where simulated batches go."""

    def send(self, abtest: str, variant: str, samples: list[dict[str, Any]]) -> None:
        """Deliver one batch (retrying as the transport allows)."""

    def close(self) -> None:
        """Release the connection."""


class AmqpSink:
    """Publishes to the queue through tsmetrics.ingest.producer."""

    def __init__(self, url: str, queue: str, name: str = "tsmetrics-simulator") -> None:
        self.producer = Producer(url, queue, name=name)

    def send(self, abtest: str, variant: str, samples: list[dict[str, Any]]) -> None:
        """Publish one batch and wait for the broker's confirm."""
        self.producer.publish(abtest, variant, samples)

    def close(self) -> None:
        """Close the broker connection."""
        self.producer.close()


class HttpSink:
    """POSTs each batch to /ingest with an Idempotency-Key, reusing one keep-alive connection."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        attempts: int = 8,
    ) -> None:
        parts = urlsplit(base_url if "//" in base_url else f"http://{base_url}")
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.connection = connection_class(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout
        )
        self.path = parts.path.rstrip("/") + "/ingest"
        self.attempts = attempts
        self.headers = {"Content-Type": broker.JSON}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def send(self, abtest: str, variant: str, samples: list[dict[str, Any]]) -> None:
        """POST one batch; retry with the same key on connection errors and 429/5xx."""
        body, key = encode_batch(abtest, variant, samples), new_batch_id()
        headers = {**self.headers, "Idempotency-Key": key}
        backoff = broker.Backoff()
        for attempt in range(1, self.attempts + 1):
            try:
                self.connection.request("POST", self.path, body, headers)
                response = self.connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.connection.close()
                problem = repr(error)
            else:
                if response.status in (200, 201):
                    return
                problem = f"{response.status} {answer[:300]!r}"
                if response.status not in _RETRY_STATUSES:
                    raise SimulationError(f"POST {self.path} answered {problem}")
            if attempt == self.attempts:
                raise SimulationError(f"POST {self.path} failed {attempt} times: {problem}")
            time.sleep(backoff.next())

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


@dataclass
class Traffic:
    """What the simulated web app serves, and how much of it."""

    tests: tuple[synthetic.DemoTest, ...]
    rate: float
    rng: np.random.Generator
    _owed: float = 0.0

    def batches(self, start: float, seconds: float) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """The (test, variant, samples) batches of requests in [start, start + seconds)."""
        per_request = len(synthetic.METRICS)
        self._owed += self.rate * seconds
        requests = int(self._owed // per_request)
        self._owed -= requests * per_request
        which = self.rng.integers(0, len(self.tests), requests)
        variants = self.rng.integers(0, len(synthetic.VARIANTS), requests).astype(np.int16)
        times = np.sort(start + self.rng.random(requests) * seconds)
        out = []
        for index, test in enumerate(self.tests):
            for position, variant in enumerate(synthetic.VARIANTS):
                chosen = (which == index) & (variants == position)
                if chosen.any():
                    out.append((test.name, variant, self._samples(test, times[chosen], position)))
        return out

    def _samples(self, test, times: np.ndarray, position: int) -> list[dict[str, Any]]:
        variant = np.full(len(times), position, dtype=np.int16)
        stamps = np.round(times, 3).tolist()
        samples: list[dict[str, Any]] = []
        for metric in synthetic.METRICS:
            values = synthetic.simulated_values(test, metric.name, times, variant, self.rng)
            samples.extend(
                {"metric": metric.name, "value": value, "time": stamp}
                for value, stamp in zip(np.round(values, 3).tolist(), stamps, strict=True)
            )
        return samples


def select_tests(names: tuple[str, ...] = ()) -> tuple[synthetic.DemoTest, ...]:
    """The demo tests called `names` (all of them when empty); ValueError for others."""
    known = {test.name: test for test in synthetic.TESTS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"not a demo A/B test: {', '.join(unknown)} (have {', '.join(known)})")
    return tuple(known[name] for name in names) if names else synthetic.TESTS


def run(
    sink: Sink,
    traffic: Traffic,
    *,
    duration: float = 0.0,
    batch_size: int = 1000,
    stopped: Callable[[], bool] = lambda: False,
    out: Callable[[str], None] = print,
) -> Progress:
    """Send live samples for `duration` seconds (0: until stopped); return the counts."""
    total = int(traffic.rate * duration) if duration else None
    progress = Progress("simulate", total=total, unit="samples", every=5.0, out=out)
    began, last = time.monotonic(), time.time()
    while not stopped():
        elapsed = time.monotonic() - began
        if duration and elapsed >= duration:
            break
        next_tick = began + (int(elapsed / TICK_SECONDS) + 1) * TICK_SECONDS
        if duration:
            next_tick = min(next_tick, began + duration)
        broker.sleep_unless(stopped, next_tick - time.monotonic())
        now = time.time()
        for abtest, variant, samples in traffic.batches(last, now - last):
            for first in range(0, len(samples), batch_size):
                chunk = samples[first : first + batch_size]
                sink.send(abtest, variant, chunk)
                progress.advance(len(chunk))
        last = now
    progress.finish()
    seconds = time.monotonic() - began
    out(
        f"Simulated {progress.done:,} samples in {seconds:.1f} s "
        f"({progress.done / max(seconds, 1e-9):,.0f} samples/s; asked for {traffic.rate:,.0f}/s)."
    )
    return progress
