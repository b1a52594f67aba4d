-- Data lifecycle (issue 15): raw samples partitioned by UTC day on plain
-- PostgreSQL, so that retention drops a day's partition (the cost of unlinking
-- its files) instead of deleting its rows; and the horizons below which
-- `tsmetrics maintain` has dropped data, which the read path consults.
-- On TimescaleDB `samples` stays a hypertable (its chunks are the partitions and
-- its retention policy drops them): this migration detects it and leaves it.

-- What maintenance dropped: data of `kind` older than `dropped_before` is gone
-- (raw samples, or the rollups of one granularity). Written before the rows go,
-- so a reader never picks a granularity whose buckets are being deleted.
-- `kept` is the retention in force, for the messages that name it.
CREATE TABLE data_horizons (
    kind           text PRIMARY KEY CHECK (kind IN ('raw', '1m', '5m', '30m', '1h', '6h', '1d')),
    dropped_before timestamptz NOT NULL,
    kept           text NOT NULL CHECK (length(kept) <= 100),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The partition of one UTC day is `samples_YYYYMMDD`, [day, day + 1). Created
-- with CREATE TABLE + ATTACH rather than CREATE TABLE ... PARTITION OF: ATTACH
-- takes SHARE UPDATE EXCLUSIVE on `samples`, which concurrent inserts do not
-- wait for. A day whose rows already sit in the DEFAULT partition is left to
-- `tsmetrics maintain`, which moves them (ATTACH would fail on them). One
-- advisory lock for every partition change makes writers take turns: ATTACH
-- also takes ACCESS EXCLUSIVE on the DEFAULT partition, so two writers each
-- attaching its own day (one reading the DEFAULT partition, the other holding
-- `samples`) would otherwise deadlock.
-- Returns how many partitions it created; 0 where samples is not partitioned.
CREATE FUNCTION ensure_sample_partitions(days date[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    part text;
    made integer := 0;
    locked boolean := false;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'samples'::regclass) <> 'p' THEN
        RETURN 0;
    END IF;
    FOREACH day IN ARRAY days LOOP
        part := 'samples_' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
        IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(7362104222000000);
            locked := true;
        END IF;
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
        CONTINUE WHEN EXISTS (
            SELECT FROM samples_default
            WHERE time >= day::timestamp AT TIME ZONE 'UTC'
              AND time < (day + 1)::timestamp AT TIME ZONE 'UTC');
        EXECUTE format('CREATE TABLE %I (LIKE samples INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part);
        EXECUTE format('ALTER TABLE samples ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, day::timestamp AT TIME ZONE 'UTC',
                       (day + 1)::timestamp AT TIME ZONE 'UTC');
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;

-- Existing data moves into the new layout in this transaction: every row is
-- copied once into its day's partition (no sample lost or doubled: the old
-- table is dropped only after the copy, in the same transaction). It needs
-- free disk for one more copy of `samples` while it runs.
DO $$
DECLARE
    hypertable boolean := false;
BEGIN
    IF to_regclass('timescaledb_information.hypertables') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM timescaledb_information.hypertables'
                ' WHERE hypertable_name = ''samples'')' INTO hypertable;
    END IF;
    IF hypertable OR (SELECT relkind FROM pg_class WHERE oid = 'samples'::regclass) = 'p' THEN
        RETURN;
    END IF;
    ALTER TABLE samples RENAME TO samples_unpartitioned;
    ALTER INDEX samples_time_brin RENAME TO samples_unpartitioned_time_brin;
    CREATE TABLE samples (LIKE samples_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (time);
    CREATE INDEX samples_time_brin ON samples USING brin (time);
    -- The safety net: a row whose day has no partition lands here, never fails.
    CREATE TABLE samples_default PARTITION OF samples DEFAULT;
    PERFORM ensure_sample_partitions(ARRAY(
        SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM samples_unpartitioned
        UNION
        SELECT (now() AT TIME ZONE 'UTC')::date + ahead FROM generate_series(0, 2) AS ahead));
    INSERT INTO samples SELECT * FROM samples_unpartitioned;
    DROP TABLE samples_unpartitioned;
END
$$;
