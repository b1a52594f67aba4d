"""Helpers for tests against the machine's RabbitMQ: private queues, consumers, a proxy."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pika

from tests.support.services import port_open, require_service
from tests.support.waiting import wait_for
from tsmetrics.ingest import broker

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
ROOT = Path(__file__).resolve().parents[2]


def require_rabbitmq() -> None:
    """Skip (or fail under TSMETRICS_REQUIRE_SERVICES=1) without a broker."""
    require_service(port_open("127.0.0.1", 5672), "RabbitMQ is not running on 127.0.0.1:5672")


@contextmanager
def private_queue() -> Iterator[broker.Topology]:
    """A queue name used by this test alone; its queues and exchange are deleted afterwards."""
    topology = broker.Topology(f"tsmetrics.test.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        yield topology
    finally:
        with channel() as ch:
            ch.queue_delete(topology.queue)
            ch.queue_delete(topology.dead_letter_queue)
            ch.exchange_delete(topology.dead_letter_exchange)


@contextmanager
def channel(url: str = BROKER_URL):
    """A channel on a fresh connection, closed afterwards."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        connection.close()


def drain(queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    """Take (and acknowledge) every message waiting in `queue`."""
    messages = []
    with channel() as ch:
        while True:
            method, properties, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append((properties, body))


def unsettled_in(queue: str) -> int | None:
    """Messages of `queue` ready or delivered but not yet acknowledged; None if unknown.

    AMQP itself only tells the ready ones: a consumer's prefetched, unacknowledged
    deliveries are visible to `rabbitmqctl` alone (the management API is off
    here). None where rabbitmqctl cannot answer (a remote broker, no rights).
    """
    try:
        listing = subprocess.run(
            ["rabbitmqctl", "list_queues", "--quiet", "--no-table-headers", "name", "messages"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listing.splitlines():
        name, _, count = line.rpartition("\t")
        if name.strip() == queue:
            return int(count)
    return None


def consumers_of(queue: str) -> int:
    """How many consumers the broker has registered on `queue` right now."""
    with channel() as ch:
        return ch.queue_declare(queue, passive=True).method.consumer_count


def waiting_in(queue: str) -> int:
    """How many messages wait in `queue`, ready for delivery (unacknowledged ones not counted)."""
    with channel() as ch:
        return ch.queue_declare(queue, passive=True).method.message_count


class ConsumerProcess:
    """`tsmetrics consume` as a child process, its log in a file."""

    def __init__(self, log_path: Path, **settings: object) -> None:
        self.log_path = log_path
        self.env = {**os.environ, "TSMETRICS_LOG_LEVEL": "INFO"}
        self.env.update({f"TSMETRICS_{k}": str(v) for k, v in settings.items()})
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> ConsumerProcess:
        """Start (again): the log file is appended to."""
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tsmetrics.cli", "consume"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 60) -> ConsumerProcess:
        """Until this run logged that it consumes: registered with the broker, signals handled."""
        wait_for(self._ready, timeout, f"{self.log_path.name}: the consumer logging `consuming`")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the consumer exited early:\n{self.log()[-3000:]}")
        return self.log().count("consuming ") >= self.starts

    def kill(self) -> None:
        """SIGKILL: no flush, no ack, no goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        """Everything the process(es) printed so far."""
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        """Make sure the child is gone (after a failed test)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class CuttableProxy:
    """A TCP proxy to the broker whose connections the test can cut, as if the broker died."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5672)) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refusing = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """An AMQP URL through the proxy."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def cut(self) -> None:
        """Close every proxied connection now."""
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def close(self) -> None:
        """Stop accepting and cut everything."""
        self.listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                # The broker itself is down: refuse this client as the broker
                # would, and keep accepting for when it is back.
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # The first direction to end closes both; the other then ends on OSError.
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
