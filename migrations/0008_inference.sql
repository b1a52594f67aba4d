-- Always-valid inference and planning (issue 12): how each A/B test is
-- judged, what it plans, which of its metrics are guardrails, and the unit of
-- analysis of each metric. Every new column has a constant default or is
-- nullable, so this applies in an instant on a database that holds data.
-- (0007 is the session store.)

ALTER TABLE abtests
    -- sequential: a confidence sequence, valid at any look; fixed: Welch's
    -- t-test, valid once, at the planned end. Existing tests become
    -- sequential too: their verdicts were being read at every refresh.
    ADD COLUMN inference text NOT NULL DEFAULT 'sequential'
        CHECK (inference IN ('sequential', 'fixed')),
    ADD COLUMN planned_end timestamptz,
    ADD COLUMN planned_samples bigint CHECK (planned_samples > 0),
    -- The tuning of the confidence sequence: the number of units at which it
    -- is tightest. NULL: derived from the plan (see docs/analysis.md).
    ADD COLUMN sequential_n_star bigint CHECK (sequential_n_star > 0);

ALTER TABLE metrics
    -- sample: samples are independent (per-request latency); time: readings of
    -- a gauge, analysed as paired per-minute means of the variants.
    ADD COLUMN analysis_unit text NOT NULL DEFAULT 'sample'
        CHECK (analysis_unit IN ('sample', 'time'));

-- Per A/B test and metric: the smallest relative effect the test is planned
-- to detect, and whether the metric is a guardrail (alert when worse).
CREATE TABLE abtest_metric_plans (
    abtest_id     integer  NOT NULL REFERENCES abtests (id) ON DELETE CASCADE,
    metric_id     smallint NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    mde_relative  double precision CHECK (mde_relative > 0 AND mde_relative <= 10),
    guardrail     boolean  NOT NULL DEFAULT false,
    PRIMARY KEY (abtest_id, metric_id)
);
