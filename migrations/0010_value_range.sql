-- The accepted value range of each metric (issue 14): both ingestion paths refuse
-- a sample outside [value_min, value_max] as invalid, naming the field. The
-- default, ±1e15, is far beyond any real measurement and keeps every sum, mean
-- and variance of the samples well inside double precision. Samples stored
-- before this migration (or written through SQL) may lie outside the range:
-- every read answers them anyway (docs/api.md, "Values near the float range").
-- Constant defaults: this applies in an instant on a table that holds data.

ALTER TABLE metrics
    ADD COLUMN value_min double precision NOT NULL DEFAULT -1e15,
    ADD COLUMN value_max double precision NOT NULL DEFAULT 1e15,
    -- NaN sorts above Infinity in PostgreSQL, so these refuse it too.
    ADD CONSTRAINT metrics_value_range_check CHECK (
        value_min > '-Infinity' AND value_max < 'Infinity' AND value_min < value_max);
