-- Version stamps for the query cache (tsmetrics/cache.py).
--
-- Every change to the rollups bumps the stamp of each (A/B test, metric, UTC
-- day) it touched, in the same transaction, from one global sequence. Cache
-- keys embed the stamps read just before the data, so a committed write makes
-- every cached copy of what it touched unreachable at once, whichever process
-- or machine wrote it: no message has to reach the cache for it to be right.
-- A trigger rather than a line in the write path, so every writer is covered:
-- inserts, late samples, the deletes of a reset, and writers yet to come.

CREATE SEQUENCE cache_version_seq;

-- No foreign keys, like rollups: the write path validates ids, and a missing
-- test must not turn a write into an error here.
CREATE TABLE cache_versions (
    abtest_id integer NOT NULL,
    metric_id smallint NOT NULL,
    day       timestamptz NOT NULL,
    version   bigint NOT NULL,
    PRIMARY KEY (abtest_id, metric_id, day)
);

-- TRUNCATE fires no row or statement triggers with transition tables, so it
-- starts a new epoch instead; the epoch is part of every key.
CREATE TABLE cache_epoch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch    bigint NOT NULL
);
INSERT INTO cache_epoch (epoch) VALUES (nextval('cache_version_seq'));

CREATE FUNCTION bump_cache_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Sorted, so two writers lock the stamps in one order (no deadlocks).
    INSERT INTO cache_versions AS c (abtest_id, metric_id, day, version)
    SELECT abtest_id, metric_id, day, nextval('cache_version_seq')
    FROM (
        SELECT DISTINCT abtest_id, metric_id,
               date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS day
        FROM changed_rollups
    ) AS touched
    ORDER BY 1, 2, 3
    ON CONFLICT (abtest_id, metric_id, day) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END
$$;

-- An update that moved a row would change two places: stamp both.
CREATE FUNCTION bump_cache_versions_of_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_versions AS c (abtest_id, metric_id, day, version)
    SELECT abtest_id, metric_id, day, nextval('cache_version_seq')
    FROM (
        SELECT abtest_id, metric_id,
               date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS day
        FROM new_rollups
        UNION
        SELECT abtest_id, metric_id,
               date_bin('1 day', bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS day
        FROM old_rollups
    ) AS touched
    ORDER BY 1, 2, 3
    ON CONFLICT (abtest_id, metric_id, day) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END
$$;

CREATE FUNCTION new_cache_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epoch SET epoch = nextval('cache_version_seq');
    DELETE FROM cache_versions;
    RETURN NULL;
END
$$;

-- One trigger per event: a trigger with transition tables may have only one.
-- INSERT ... ON CONFLICT DO UPDATE fires both the insert and the update one.
CREATE TRIGGER rollups_inserted AFTER INSERT ON rollups
    REFERENCING NEW TABLE AS changed_rollups
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_versions();
CREATE TRIGGER rollups_updated AFTER UPDATE ON rollups
    REFERENCING OLD TABLE AS old_rollups NEW TABLE AS new_rollups
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_versions_of_update();
CREATE TRIGGER rollups_deleted AFTER DELETE ON rollups
    REFERENCING OLD TABLE AS changed_rollups
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_versions();
CREATE TRIGGER rollups_truncated AFTER TRUNCATE ON rollups
    FOR EACH STATEMENT EXECUTE FUNCTION new_cache_epoch();
