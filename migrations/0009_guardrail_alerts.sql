-- Guardrail alerts (issue 12): the state of every guardrail of every A/B test,
-- and an outbox of webhook deliveries, one row per change of state. The
-- watcher (`tsmetrics watch`) writes a change and its outbox row in one
-- transaction, so an alert is never lost nor sent twice for one change.

-- The latest always-valid comparison of one treatment against control on one
-- guardrail metric. `raised`: significantly worse; `clear`: not (yet) shown to be.
CREATE TABLE guardrail_states (
    abtest_id      integer  NOT NULL REFERENCES abtests (id) ON DELETE CASCADE,
    metric_id      smallint NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    variant        smallint NOT NULL CHECK (variant >= 1),
    state          text     NOT NULL CHECK (state IN ('raised', 'clear')),
    lift           double precision NOT NULL,
    lift_low       double precision NOT NULL,
    lift_high      double precision NOT NULL,
    relative_lift  double precision,
    relative_low   double precision,
    relative_high  double precision,
    -- The always-valid p-value, and the one adjusted over the test's guardrails.
    p_value        double precision NOT NULL,
    adjusted_p     double precision NOT NULL,
    -- What made the numbers: always `sequential`; the unit, the tuning, the level.
    inference      text     NOT NULL CHECK (inference IN ('sequential', 'fixed')),
    unit           text     NOT NULL CHECK (unit IN ('sample', 'time')),
    -- Unit `time`: the width of the paired buckets, fixed by the test's plan.
    unit_seconds   integer  CHECK (unit_seconds > 0),
    units          bigint   NOT NULL,
    n_star         double precision NOT NULL,
    tuning_source  text     NOT NULL,
    alpha          double precision NOT NULL,
    correction     text     NOT NULL,
    family_size    integer  NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    evaluated_at   timestamptz NOT NULL,
    -- When `state` last changed (the first evaluation counts as a change).
    changed_at     timestamptz NOT NULL,
    PRIMARY KEY (abtest_id, metric_id, variant)
);

-- The webhook outbox. Pending: next_attempt_at is set. Done: next_attempt_at
-- is NULL, with delivered_at set (sent), or not (no webhook was configured).
-- A row is sent only after every older row of its (test, metric, variant) is
-- done, so a receiver sees each guardrail's changes in order.
CREATE TABLE guardrail_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Sent as the payload's `id` and the X-TSMetrics-Delivery header: a
    -- receiver that saw it before (a retry after a lost answer) ignores it.
    event_id        uuid     NOT NULL UNIQUE,
    abtest_id       integer  NOT NULL REFERENCES abtests (id) ON DELETE CASCADE,
    metric_id       smallint NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    variant         smallint NOT NULL CHECK (variant >= 1),
    state           text     NOT NULL CHECK (state IN ('raised', 'cleared')),
    -- The exact JSON POSTed, fixed at the change: every retry sends the same bytes.
    body            text     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    last_error      text
);

-- What the deliverers scan: only the pending rows, which are few.
CREATE INDEX guardrail_deliveries_due ON guardrail_deliveries (next_attempt_at, id)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX guardrail_deliveries_pending_by_key
    ON guardrail_deliveries (abtest_id, metric_id, variant, id)
    WHERE next_attempt_at IS NOT NULL;
