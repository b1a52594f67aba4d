"""gunicorn settings for telemetry: JSON logs, and Prometheus metrics summed over the workers.

Used by gunicorn.conf.py and `tsmetrics serve`, in the master process, before
any worker imports prometheus_client (which reads PROMETHEUS_MULTIPROC_DIR
once, when it is imported).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tsmetrics.telemetry.logs import gunicorn_logconfig

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> Path:
    """A clean PROMETHEUS_MULTIPROC_DIR for this master's workers (a new temporary one if unset)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        # Files of an earlier run would add their counts to this one's.
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="tsmetrics-prometheus-"))
        os.environ[MULTIPROC_ENV] = str(folder)
        atexit.register(_remove, folder, os.getpid())
    return folder


def _remove(folder: Path, owner: int) -> None:
    # Workers are forked with this atexit hook: only the master that made the
    # folder may remove it, or a worker restarting (max_requests) would take
    # it from under the others and the next worker could not boot.
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def child_exit(_server: Any, worker: Any) -> None:
    """A worker has gone: its live gauges (pool connections) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def options(settings: dict[str, Any]) -> dict[str, Any]:
    """gunicorn options: the worker-exit hook, and in JSON mode its logs and no access log.

    The access log is left out in JSON mode: every request already has its JSON
    line, with the request id, from the app (tsmetrics/telemetry/requests.py).
    """
    found: dict[str, Any] = {"child_exit": child_exit}
    logconfig = gunicorn_logconfig(settings)
    if logconfig is not None:
        found.update(logconfig_dict=logconfig, accesslog=None)
    return found
