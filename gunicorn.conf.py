"""gunicorn settings for `gunicorn wsgi:app`, read from the same TSMETRICS_* settings."""

from tsmetrics.security import listeners, server_worker
from tsmetrics.settings import load_settings
from tsmetrics.telemetry import server_hooks

_settings = load_settings()

bind = _settings["BIND"]
workers = _settings["WORKERS"]
threads = _settings["THREADS"]
# gthread, with gunicorn's own 400/414/431 answers as problem+json like every other error.
worker_class = server_worker.WORKER_CLASS
# Never preload: each worker must build its own connection pool after the fork.
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10_000
max_requests_jitter = 1_000
# gunicorn >= 25.1 opens a control socket under $HOME by default: the container's
# user has no home (a warning at every start), and several servers run by one
# user would share one socket path. Nothing here uses `gunicornc`.
control_socket_disable = True
# X-Forwarded-Proto is believed only from TSMETRICS_TRUSTED_PROXIES (gunicorn's
# default trusts 127.0.0.1), and authentication off only on loopback sockets,
# whatever -b or GUNICORN_CMD_ARGS bound (tsmetrics/security/listeners.py).
forwarded_allow_ips = listeners.forwarded_allow_ips(_settings)
_security = listeners.gunicorn_hooks(_settings)
when_ready = _security["when_ready"]
post_fork = _security["post_fork"]
# Telemetry: Prometheus metrics summed over the workers (their multiprocess
# directory is made here, before any worker starts), gunicorn's own lines as
# JSON, and no access log in JSON mode: the app logs every request with its id.
server_hooks.prepare_multiprocess_dir()
_telemetry = server_hooks.options(_settings)
child_exit = _telemetry["child_exit"]
logconfig_dict = _telemetry.get("logconfig_dict", {})
accesslog = _telemetry.get("accesslog", "-")
