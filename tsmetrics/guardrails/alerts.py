"""Changes of state and the alerts they send, written together in one transaction.

For each A/B test, the stored states are locked, each guardrail's new state is
saved, and every change (clear -> raised: `raised`; raised -> clear:
`cleared`) gets an outbox row holding the exact JSON body to POST. Commit
makes both visible at once: no change without its alert, no alert twice.
A guardrail seen for the first time counts as a change only when raised.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import orjson
import psycopg

from tsmetrics.guardrails.evaluate import CORRECTION, Evaluation, Outcome
from tsmetrics.store import guardrails as store

VALIDITY = "always valid: you may look at any time"
NO_WEBHOOK = "not sent: TSMETRICS_ALERT_WEBHOOK_URL was not set"


@dataclass(frozen=True)
class Change:
    """One change of state, and the outbox row that announces it."""

    abtest: str
    metric: str
    variant: str
    transition: str  # raised or cleared
    delivery_id: int


def transition(before: str | None, after: str) -> str | None:
    """The alert a move from `before` (None: never evaluated) to `after` sends, or None."""
    if after == "raised" and before != "raised":
        return "raised"
    if after == "clear" and before == "raised":
        return "cleared"
    return None


def dashboard_link(public_url: str | None, abtest: str) -> str:
    """The A/B test's dashboard page: absolute with TSMETRICS_PUBLIC_URL, else a path."""
    path = f"/dashboard/abtests/{quote(abtest)}"
    return f"{public_url.rstrip('/')}{path}" if public_url else path


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _interval(interval) -> list[float] | None:
    # [low, high], as `liftCi` in GET /abtest/{name}/compare.
    return None if interval is None else [interval.low, interval.high]


def _text(o: Outcome, state: str) -> str:
    g, inference = o.guardrail, o.inference
    variant, unit = g.variants[o.variant], f" {g.metric_unit}" if g.metric_unit else ""
    relative = f" ({inference.relative_lift:+.2%})" if inference.relative_lift is not None else ""
    low, high = inference.lift_interval.low, inference.lift_interval.high
    what = "is worse in" if state == "raised" else "is no longer shown worse in"
    return (
        f"{g.abtest_name}: {g.metric_name} {what} {variant} than {g.variants[0]}: "
        f"{inference.lift:+.6g}{unit}{relative}, always-valid {1 - inference.alpha:.0%} "
        f"interval [{low:+.6g}, {high:+.6g}]"
    )


def alert_body(
    o: Outcome, evaluation: Evaluation, state: str, event_id: uuid.UUID, at: datetime, link: str
) -> str:
    """The webhook's JSON body for one change of state."""
    g, inference = o.guardrail, o.inference
    body = {
        "id": str(event_id),
        "event": f"guardrail.{state}",
        "state": state,
        "test": g.abtest_name,
        "testTitle": g.abtest_title,
        "metric": g.metric_name,
        "metricUnit": g.metric_unit,
        "higherIsBetter": g.higher_is_better,
        "variant": g.variants[o.variant],
        "control": g.variants[0],
        "lift": inference.lift,
        "liftCi": _interval(inference.lift_interval),
        "relativeLift": inference.relative_lift,
        "relativeLiftCi": _interval(inference.relative_interval),
        "pValue": inference.p_value,
        "adjustedPValue": o.adjusted_p,
        "inference": {
            "method": inference.inference,
            "validity": VALIDITY,
            "unit": inference.unit,
            "unitSeconds": o.unit_seconds,
            "units": inference.units,
            "alpha": inference.alpha,
            "correction": CORRECTION,
            "familySize": evaluation.family_size,
            "tuning": {
                "nStar": inference.tuning.n_star,
                "rho": inference.tuning.rho,
                "source": o.tuning_source,
            },
        },
        "window": {"start": _iso(evaluation.start), "end": _iso(evaluation.end)},
        "changedAt": at.isoformat(),
        "link": link,
        "text": _text(o, state),
    }
    return orjson.dumps(body).decode()


def _state(o: Outcome, evaluation: Evaluation, at: datetime) -> store.GuardrailState:
    inference, relative = o.inference, o.inference.relative_interval
    return store.GuardrailState(
        abtest_id=evaluation.abtest_id,
        metric_id=o.guardrail.metric_id,
        variant=o.variant,
        state=o.state,
        lift=inference.lift,
        lift_low=inference.lift_interval.low,
        lift_high=inference.lift_interval.high,
        relative_lift=inference.relative_lift,
        relative_low=relative.low if relative else None,
        relative_high=relative.high if relative else None,
        p_value=inference.p_value,
        adjusted_p=o.adjusted_p,
        inference=inference.inference,
        unit=inference.unit,
        unit_seconds=o.unit_seconds,
        units=inference.units,
        n_star=inference.tuning.n_star,
        tuning_source=o.tuning_source,
        alpha=inference.alpha,
        correction=CORRECTION,
        family_size=evaluation.family_size,
        window_start=datetime.fromtimestamp(evaluation.start, UTC),
        window_end=datetime.fromtimestamp(evaluation.end, UTC),
        evaluated_at=at,
        changed_at=at,
    )


def record(
    conn: psycopg.Connection,
    evaluation: Evaluation,
    *,
    at: datetime,
    webhook: bool,
    public_url: str | None,
) -> list[Change]:
    """Save a test's new states and queue an alert per change, in one transaction."""
    changes = []
    with conn.transaction():
        before = store.lock_states(conn, evaluation.abtest_id)
        for o in evaluation.outcomes:
            if o.state is None:
                continue  # no inference now (too few data): the last state stands
            store.save_state(conn, _state(o, evaluation, at))
            move = transition(before.get((o.guardrail.metric_id, o.variant)), o.state)
            if move is None:
                continue
            event_id = uuid.uuid4()
            link = dashboard_link(public_url, o.guardrail.abtest_name)
            delivery_id = store.insert_delivery(
                conn,
                event_id=event_id,
                abtest_id=evaluation.abtest_id,
                metric_id=o.guardrail.metric_id,
                variant=o.variant,
                state=move,
                body=alert_body(o, evaluation, move, event_id, at, link),
                pending=webhook,
                note=None if webhook else NO_WEBHOOK,
            )
            g = o.guardrail
            changes.append(
                Change(g.abtest_name, g.metric_name, g.variants[o.variant], move, delivery_id)
            )
    return changes
