"""The API as production runs it, in tests: a gunicorn master with its workers, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A local TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """`gunicorn wsgi:app -c gunicorn.conf.py` as a child process; its log in a file."""

    def __init__(self, log_path: Path, *, workers: int = 1, **settings: object) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "TSMETRICS_BIND": f"127.0.0.1:{self.port}",
            "TSMETRICS_WORKERS": str(workers),
            "TSMETRICS_THREADS": "4",
            **{f"TSMETRICS_{name}": str(value) for name, value in settings.items()},
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each master makes its own
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Gunicorn:
        """Start and wait until /healthz answers."""
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [gunicorn, "wsgi:app", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self._answers, timeout, "gunicorn answering /healthz", step=0.1)
        except AssertionError as error:
            raise AssertionError(f"{error}:\n{self.log_path.read_text()[-3000:]}") from None
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2):  # noqa: S310
                return True
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM, then wait (a kill if it lingers)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
