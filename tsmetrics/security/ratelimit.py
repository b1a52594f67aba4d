"""Rate limits (Flask-Limiter): per token, per user, or per client address without either.

Each request counts against the limit of its policy class (read, ingest,
admin, dashboard, login), or the token's own limit when it has one. With
TSMETRICS_REDIS_URL set the counters live in Redis, so every API instance
shares them; otherwise each process counts alone.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, g
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded

from tsmetrics import problems
from tsmetrics.db import redact_url
from tsmetrics.security import identity
from tsmetrics.security.startup import RATE_LIMIT_SETTINGS

log = logging.getLogger(__name__)
EXTENSION_KEY = "tsmetrics.limiter"
# A Redis that stops answering must not hold requests up for long: the limiter
# then counts in memory until Redis is back.
_REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def _rate_class() -> str | None:
    needed = g.get("requirement")
    return needed.rate if needed is not None else None


def _key() -> str:
    # The class is part of the key so that, say, reads and logins never share
    # a counter even when their limits are the same string.
    return f"{_rate_class()}:{identity.current().rate_key}"


def _limit() -> str:
    own = identity.current().rate_limit
    if own:
        return own
    rate_class = _rate_class()
    return current_app.config["TSMETRICS"][RATE_LIMIT_SETTINGS[rate_class]] if rate_class else ""


def _exempt() -> bool:
    return _rate_class() is None


def too_many_requests(error: RateLimitExceeded) -> Response:
    """429 through the app's one error negotiation point, with Retry-After."""
    limiter: Limiter = current_app.extensions[EXTENSION_KEY]
    current = limiter.current_limit
    reset_at = current.window[0] if current is not None else time.time() + 60
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return problems.problem(
        429,
        f"Rate limit of {error.description} exceeded; retry in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def init_app(app: Flask) -> Limiter:
    """Install the limiter; its before_request hook runs where this is called."""
    settings = app.config["TSMETRICS"]
    redis_url = settings["REDIS_URL"]
    limiter = Limiter(
        key_func=_key,
        application_limits=[ApplicationLimit(_limit, scope="tsmetrics", exempt_when=_exempt)],
        storage_uri=redis_url or "memory://",
        storage_options=_REDIS_OPTIONS if redis_url else {},
        strategy="fixed-window",
        key_prefix=settings["RATE_LIMIT_PREFIX"],
        headers_enabled=False,
        # Rate limits protect the service; they are no reason to refuse every
        # request while Redis is away. Failures are logged (without the URL).
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    if redis_url:
        log.info("rate limits shared through Redis at %s", redact_url(redis_url))
    return limiter
