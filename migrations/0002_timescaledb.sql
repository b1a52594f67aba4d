-- requires: timescaledb
-- Applied only where the timescaledb extension is available; on plain PostgreSQL
-- the runner skips it (and applies it later if TimescaleDB appears).
-- Compression and retention policies are set by `tsmetrics migrate` from
-- TSMETRICS_COMPRESS_AFTER and TSMETRICS_RETAIN_RAW, since they are settings.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('samples', by_range('time', INTERVAL '1 day'), migrate_data => true);

ALTER TABLE samples SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'abtest_id, metric_id, variant',
    timescaledb.compress_orderby = 'time'
);
