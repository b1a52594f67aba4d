"""gunicorn settings and hooks that security depends on: real sockets, trusted proxies.

TSMETRICS_AUTH=off is allowed only where nobody else can connect. A setting
cannot promise that: `gunicorn -b`, GUNICORN_CMD_ARGS or a config file may
bind elsewhere. So the master checks the sockets it really listens on before
any worker starts, and each worker checks its own (with `reuse_port` every
worker opens its own). And gunicorn believes X-Forwarded-Proto (making the
request HTTPS: HSTS, Secure cookies) only from TSMETRICS_TRUSTED_PROXIES, the
same peers the app believes; gunicorn's own default trusts 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterable
from typing import Any

from tsmetrics.security import proxy
from tsmetrics.settings import SettingError

# sysexits.h EX_CONFIG: the configuration is wrong, retrying will not help.
EXIT_UNSAFE_CONFIG = 78


def forwarded_allow_ips(settings: dict[str, Any]) -> str:
    """gunicorn's forwarded_allow_ips: TSMETRICS_TRUSTED_PROXIES (empty: nobody)."""
    return ",".join(str(network) for network in proxy.parse_networks(settings["TRUSTED_PROXIES"]))


def _reaches_others(sock: Any) -> str | None:
    """The address of a listening socket other machines can reach, or None."""
    family = getattr(sock, "family", None)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None  # a Unix socket: this machine only
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host.split("%")[0]).is_loopback:
        return None
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def check_sockets(settings: dict[str, Any], sockets: Iterable[Any]) -> None:
    """Refuse authentication off on any socket other machines can reach."""
    if settings["AUTH"] != "off":
        return
    public = [found for found in map(_reaches_others, sockets) if found]
    if public:
        raise SettingError(
            f"TSMETRICS_AUTH=off is refused because gunicorn listens on {', '.join(public)}, "
            "reachable from other machines (whatever TSMETRICS_BIND says). Bind to 127.0.0.1 "
            "(as `tsmetrics demo` does) or turn authentication on (TSMETRICS_AUTH=on)."
        )


def gunicorn_hooks(settings: dict[str, Any]) -> dict[str, Any]:
    """`when_ready` (the master's sockets) and `post_fork` (each worker's) for gunicorn."""

    def when_ready(server: Any) -> None:
        try:
            check_sockets(settings, server.LISTENERS)
        except SettingError as error:
            server.log.error("%s", error)
            # Stops before any worker is forked: no request is ever served.
            server.halt(reason=str(error), exit_status=EXIT_UNSAFE_CONFIG)

    def post_fork(server: Any, worker: Any) -> None:
        try:
            check_sockets(settings, worker.sockets)
        except SettingError as error:
            server.log.error("%s", error)
            # Exiting before the app loads: gunicorn sees a worker that failed to
            # boot, and stops every other worker and itself.
            sys.exit(server.WORKER_BOOT_ERROR)

    return {"when_ready": when_ready, "post_fork": post_fork}
