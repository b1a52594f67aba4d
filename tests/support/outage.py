"""A read load on a served API through a database outage, and what the clients saw.

Shared by tests/reliability/test_outage.py and bench/bench_outage.py: client
threads call one path as fast as they can over keep-alive connections while a
DatabaseProxy (tests/support/pgproxy.py) plays an outage, and every call is
recorded: when it began, how long it took, its status and headers.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from tests.support.pgproxy import DatabaseProxy

PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Call:
    """One request as the client saw it."""

    began: float  # monotonic
    seconds: float
    status: int
    content_type: str
    retry_after: str | None

    @property
    def ended(self) -> float:
        """When its answer was read."""
        return self.began + self.seconds


@dataclass
class Clients:
    """`count` threads, each with a keep-alive connection, calling GET `path` until stopped."""

    port: int
    path: str
    count: int
    pause: float = 0.0  # between calls of one client (for a slower probe)
    headers: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Clients:
        """Start calling."""
        for number in range(self.count):
            thread = threading.Thread(target=self._run, name=f"client-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Call]:
        """Stop calling; every call made, in order of beginning."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return sorted(self.calls, key=lambda call: call.began)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                conn.request("GET", self.path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                call = Call(
                    began,
                    time.monotonic() - began,
                    response.status,
                    response.getheader("Content-Type", ""),
                    response.getheader("Retry-After"),
                )
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                call = Call(began, time.monotonic() - began, 0, "", None)
            self.calls.append(call)  # list.append is atomic under the GIL
            if self.pause:
                self._stop.wait(self.pause)
        conn.close()


def summary(calls: list[Call], start: float, end: float, *, done_by: float = float("inf")) -> dict:
    """Calls begun in [start, end) (and answered by `done_by`): count, rate, latency, statuses."""
    chosen = [call for call in calls if start <= call.began < end and call.ended <= done_by]
    millis = np.asarray([call.seconds * 1000 for call in chosen] or [0.0])
    statuses: dict[str, int] = {}
    for call in chosen:
        statuses[str(call.status)] = statuses.get(str(call.status), 0) + 1
    return {
        "calls": len(chosen),
        "per_second": round(len(chosen) / (end - start), 1),
        "p50_ms": round(float(np.percentile(millis, 50)), 1),
        "p99_ms": round(float(np.percentile(millis, 99)), 1),
        "max_ms": round(float(millis.max()), 1),
        "statuses": statuses,
    }


def well_formed_503s(calls: list[Call]) -> bool:
    """True when every 503 is problem+json with a Retry-After."""
    return all(
        call.content_type.startswith(PROBLEM) and call.retry_after
        for call in calls
        if call.status == 503
    )


@dataclass(frozen=True)
class Outage:
    """When the outage began and ended (monotonic), and every call around it."""

    down_at: float
    up_at: float
    began: float
    ended: float
    calls: list[Call]
    probes: list[Call]

    def report(self, normal_seconds: float) -> dict:
        """Figures of the normal phase, the outage and the recovery."""
        # Calls still in flight when the connections were cut belong to the outage.
        normal = summary(
            self.calls, self.down_at - normal_seconds, self.down_at, done_by=self.down_at
        )
        during = summary(self.calls, self.down_at, self.up_at)
        up = self.up_at
        ok_after = [c.ended - up for c in self.calls if c.began >= up and c.status == 200]
        failed_after = [c.ended - up for c in self.calls if c.ended >= up and c.status != 200]
        return {
            "normal": normal,
            "outage": during,
            "outage_rate_vs_normal": round(during["per_second"] / normal["per_second"], 3),
            "first_200_after_up_s": round(min(ok_after), 3) if ok_after else None,
            "last_error_after_up_s": round(max(failed_after), 3) if failed_after else 0.0,
            "well_formed_503s": well_formed_503s(self.calls),
            "readyz_during_outage": summary(self.probes, self.down_at, self.up_at),
        }


def run_outage(
    port: int,
    proxy: DatabaseProxy,
    path: str,
    *,
    clients: int,
    normal: float,
    outage: float,
    after: float,
    warmup: float = 1.0,
    headers: dict[str, str] | None = None,
) -> Outage:
    """After `warmup` s, load for `normal` s, the database away for `outage` s, back for `after`."""
    load = Clients(port, path, clients, headers=headers or {}).start()
    probes = Clients(port, "/readyz", 1, pause=0.2).start()
    began = time.monotonic()
    time.sleep(warmup + normal)
    down_at = time.monotonic()
    proxy.down()
    time.sleep(outage)
    proxy.up()
    up_at = time.monotonic()
    time.sleep(after)
    calls, probe_calls = load.stop(), probes.stop()
    return Outage(down_at, up_at, began, time.monotonic(), calls, probe_calls)
