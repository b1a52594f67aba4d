-- requires: timescaledb
-- Applied only where the timescaledb extension is available; on plain PostgreSQL
-- the runner skips it (and applies it later if TimescaleDB appears).
-- Compression and retention policies are set by `tsmetrics migrate` from
-- TSMETRICS_COMPRESS_AFTER and TSMETRICS_RETAIN_RAW, since they are settings.

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- A plain PostgreSQL database that gets TimescaleDB later has daily partitions
-- (0013_partitions): a hypertable cannot be made of a partitioned table, so
-- its rows go back into one table first, which create_hypertable then chunks.
DO $$
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'samples'::regclass) = 'p' THEN
        ALTER TABLE samples RENAME TO samples_partitioned;
        ALTER INDEX samples_time_brin RENAME TO samples_partitioned_time_brin;
        CREATE TABLE samples (LIKE samples_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
        CREATE INDEX samples_time_brin ON samples USING brin (time);
        INSERT INTO samples SELECT * FROM samples_partitioned;
        DROP TABLE samples_partitioned;
    END IF;
END
$$;

SELECT create_hypertable('samples', by_range('time', INTERVAL '1 day'), migrate_data => true);

ALTER TABLE samples SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'abtest_id, metric_id, variant',
    timescaledb.compress_orderby = 'time'
);
