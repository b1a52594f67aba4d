-- Distribution metrics (issue 13): per-bucket sketches for percentiles.
-- `distribution` marks the metrics whose rollups keep a sketch of their raw
-- samples (tsmetrics/sketches.py: a log-bucketed histogram, 0.5% relative
-- accuracy, exact merges), kept by the insert path in the same upsert as
-- n, sum, min and max (tsmetrics/store/rollup_sketches.py).
-- Both columns apply in an instant on a database that holds data: a constant
-- default and a nullable column. Buckets written before their metric had a
-- distribution have no sketch (or, for the bucket where it was switched on,
-- one holding fewer samples than n); they answer no percentiles.
-- On TimescaleDB nothing else is needed: rollups is a plain table (only
-- samples is a hypertable, with its own compression settings).

ALTER TABLE metrics ADD COLUMN distribution boolean NOT NULL DEFAULT false;

-- The demo's latency and gauges: on; its counter (add_to_cart): off.
UPDATE metrics SET distribution = true
WHERE name IN ('response_time', 'cpu_usage', 'ram_usage');

-- Stored outside the primary key's INCLUDE list: sketches are read only when
-- percentiles are asked for, and kept out of the index that every read scans.
ALTER TABLE rollups ADD COLUMN sketch bytea;
