"""Webhook delivery: POST each outbox row once, signed, in order, retried with backoff.

Signature (when TSMETRICS_ALERT_WEBHOOK_SECRET is set), as Stripe and GitHub do:

    X-TSMetrics-Timestamp: <unix seconds of this attempt>
    X-TSMetrics-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body
bytes, compares in constant time, refuses timestamps more than 5 minutes
away from its clock (a replayed request carries an old one), and ignores an
X-TSMetrics-Delivery id it has seen (a retry after a lost answer): see `verify`.

A row is locked (FOR UPDATE SKIP LOCKED) while it is POSTed and marked in the
same transaction, so two watchers never send it together. Failures wait
ALERT_RETRY_BASE x 2^(attempt-1) seconds, at most ALERT_RETRY_MAX, half of it
random (jitter, so many watchers do not retry in step).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

from tsmetrics.settings import SettingError
from tsmetrics.store import guardrails as store

SIGNATURE_HEADER = "X-TSMetrics-Signature"
TIMESTAMP_HEADER = "X-TSMetrics-Timestamp"
DELIVERY_HEADER = "X-TSMetrics-Delivery"
EVENT_HEADER = "X-TSMetrics-Event"
TOLERANCE = 300  # seconds a receiver should accept between the timestamp and its clock
USER_AGENT = "TSMetrics-Webhook/1"


@dataclass(frozen=True)
class Webhook:
    """Where and how alerts are POSTed."""

    url: str | None
    secret: str | None
    timeout: float
    retry_base: float
    retry_max: float

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Webhook:
        """From the TSMETRICS_ALERT_* settings; a SettingError names a bad one."""
        url = (settings["ALERT_WEBHOOK_URL"] or "").strip() or None
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            raise SettingError("TSMETRICS_ALERT_WEBHOOK_URL must be an http:// or https:// URL")
        for name in ("ALERT_TIMEOUT", "ALERT_RETRY_BASE", "ALERT_RETRY_MAX"):
            if not settings[name] > 0:
                raise SettingError(f"TSMETRICS_{name} must be more than 0 seconds")
        return cls(
            url=url,
            secret=settings["ALERT_WEBHOOK_SECRET"] or None,
            timeout=settings["ALERT_TIMEOUT"],
            retry_base=settings["ALERT_RETRY_BASE"],
            retry_max=settings["ALERT_RETRY_MAX"],
        )

    @property
    def shown(self) -> str:
        """The URL for logs: scheme and host only (a path or query may hold a token)."""
        if not self.url:
            return "(none)"
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}/…"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-TSMetrics-Signature value of `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature (constant time)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > TOLERANCE:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def backoff(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before the next try after `attempts` failures: doubling, capped, half jitter."""
    delay = min(cap, base * 2 ** min(attempts - 1, 60))
    return delay / 2 + rng.uniform(0, delay / 2)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without body: count it as a failure.
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(webhook: Webhook, delivery: store.Delivery) -> str | None:
    """POST one alert; None when the receiver answered 2xx, else what went wrong."""
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: str(delivery.event_id),
        EVENT_HEADER: f"guardrail.{delivery.state}",
    }
    if webhook.secret:
        timestamp = int(time.time())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = sign(webhook.secret, timestamp, body)
    # The URL's scheme was checked (http or https) when the settings were read.
    request = urllib.request.Request(webhook.url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=webhook.timeout) as response:
            response.read(65536)
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.reason}"
    except urllib.error.URLError as error:
        return f"unreachable: {error.reason}"
    except TimeoutError:
        return f"no answer within {webhook.timeout:g} s"
    except OSError as error:
        return f"connection failed: {error.strerror or type(error).__name__}"


@dataclass(frozen=True)
class Attempt:
    """One POST of one outbox row: delivered (error None), or when it is tried again."""

    delivery: store.Delivery
    error: str | None
    retry_in: float | None


def deliver_one(conn: psycopg.Connection, webhook: Webhook, rng: random.Random) -> Attempt | None:
    """Send the next due alert, if any, holding its row locked until marked; None: none due."""
    with conn.transaction():
        delivery = store.claim_delivery(conn)
        if delivery is None:
            return None
        error = post(webhook, delivery)
        if error is None:
            store.mark_delivered(conn, delivery.id)
            return Attempt(delivery, None, None)
        delay = backoff(delivery.attempts + 1, webhook.retry_base, webhook.retry_max, rng)
        store.mark_failed(conn, delivery.id, error, delay)
        return Attempt(delivery, error, delay)
